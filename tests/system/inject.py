"""Send raw Ethernet frames from inside a lab host, as an attacker there would:
`python3 inject.py IFACE COUNT FRAMES` sends each frame COUNT times; FRAMES is
a file with one frame in hex per line."""

import socket
import sys


def main() -> None:
    iface, count = sys.argv[1], int(sys.argv[2])
    with open(sys.argv[3]) as listing:
        frames = [bytes.fromhex(line) for line in listing.read().split()]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    for _ in range(count):
        for frame in frames:
            sock.send(frame)
    print(f"sent {count * len(frames)}", flush=True)


if __name__ == "__main__":
    main()
