"""Count the frames an interface receives, by source MAC, for a while: run
inside a lab host (`python3 sniff.py IFACE SECONDS [MARKER_HEX]`).

Prints "ready" once the socket is open (so the caller sends only after), then,
at the end, one JSON object {source MAC: frames}. With MARKER_HEX only frames
that contain those bytes count, so traffic that is not the test's own (ARP
refreshes, LLDP) can never be mistaken for a leak.
"""

import json
import socket
import sys
import time

ETH_P_ALL = 0x0003


def main() -> None:
    iface, seconds = sys.argv[1], float(sys.argv[2])
    marker = bytes.fromhex(sys.argv[3]) if len(sys.argv) > 3 else b""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((iface, 0))
    sock.settimeout(0.1)
    print("ready", flush=True)
    counts: dict[str, int] = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            frame, address = sock.recvfrom(65535)
        except TimeoutError:
            continue
        if address[2] == socket.PACKET_OUTGOING or (marker and marker not in frame):
            continue
        source = ":".join(f"{b:02x}" for b in frame[6:12])
        counts[source] = counts.get(source, 0) + 1
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
