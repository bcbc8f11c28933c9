"""A tiny guest for QEMU, made on the fly from the host's own packages: the
Debian kernel (linux-image-amd64) and a busybox initramfs. No downloads.

The guest's /init loads the virtio network and 802.1Q modules, gives each
NIC the address the kernel command line names for its MAC and, for a trunk
NIC, a VLAN interface `<nic>.<vlan>` per VLAN it trunks (Debian's kernel has
real ones, unlike the host's namespaces here), says READY on the console
(ttyS0) and serves a shell on the second serial port (ttyS1) for `exec`.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

VIRTIO_NET = ["virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "failover", "net_failover", "virtio_net"]
VLAN = ["llc", "stp", "garp", "mrp", "8021q"]  # in load order: 8021q needs mrp and garp, garp needs stp and llc
READY = "SDNLAB-GUEST-READY"
CACHE = Path("/var/cache/sdnlab/guest")

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp /root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in __MODULES__; do insmod /lib/modules/$m.ko 2>/dev/null; done
ip link set lo up
# sdnlab.nic=MAC,ADDRESS/PREFIX[,VLAN...] (ADDRESS may be "none"), once per NIC; VLANs for a trunk NIC
for word in $(cat /proc/cmdline); do
  case "$word" in
    sdnlab.nic=*)
      spec=${word#sdnlab.nic=}; mac=${spec%%,*}; rest=${spec#*,}; addr=${rest%%,*}; vlans=""
      [ "$rest" != "$addr" ] && vlans=$(echo "${rest#*,}" | tr , ' ')
      for dev in /sys/class/net/*; do
        if [ -e "$dev/device" ] && [ "$(cat $dev/address)" = "$mac" ]; then
          name=${dev##*/}
          ip link set "$name" up
          [ "$addr" != none ] && ip addr add "$addr" dev "$name"
          for vid in $vlans; do vconfig add "$name" "$vid" >/dev/null && ip link set "$name.$vid" up; done
        fi
      done;;
    sdnlab.hostname=*) hostname "${word#sdnlab.hostname=}";;
  esac
done
stty -echo </dev/ttyS1
echo __READY__ > /dev/ttyS0
# Commands arrive one per line on ttyS1: read and run, no interactive shell (no echo, no line editing).
while true; do
  while IFS= read -r line; do eval "$line"; done </dev/ttyS1 >/dev/ttyS1 2>&1
done
"""


def kernel_release() -> str:
    """The newest Debian kernel installed for guests (linux-image-amd64)."""
    found = sorted(p.name[len("vmlinuz-"):] for p in Path("/boot").glob("vmlinuz-*"))
    if not found:
        raise FileNotFoundError("no kernel in /boot for guests: install Debian's linux-image-amd64 (make setup does)")
    return found[-1]


def build(release: str | None = None) -> tuple[Path, Path]:
    """(kernel, initramfs) for guests; the initramfs is built once per kernel and cached."""
    release = release or kernel_release()
    kernel = Path("/boot") / f"vmlinuz-{release}"
    # Named by what goes in it: two checkouts of different versions share the cache without ever
    # booting each other's init (an mtime check let a fresh clone's older image shadow a newer one).
    recipe = hashlib.sha256(f"{INIT}\0{VIRTIO_NET + VLAN}".encode()).hexdigest()[:12]
    initrd = CACHE / f"initrd-{release}-{recipe}.cpio.gz"
    if initrd.exists():
        return kernel, initrd
    busybox = shutil.which("busybox")
    if busybox is None:
        raise FileNotFoundError("no busybox for the guest: install Debian's busybox-static (make setup does)")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bin").mkdir()
        (root / "lib/modules").mkdir(parents=True)
        shutil.copy2(busybox, root / "bin/busybox")
        modules = Path("/lib/modules") / release
        for name in VIRTIO_NET + VLAN:
            found = next(modules.rglob(f"{name}.ko"), None)
            if found is None:
                raise FileNotFoundError(f"kernel module {name}.ko not found under {modules}")
            shutil.copy2(found, root / "lib/modules" / f"{name}.ko")
        init = root / "init"
        init.write_text(INIT.replace("__MODULES__", " ".join(VIRTIO_NET + VLAN)).replace("__READY__", READY))
        init.chmod(0o755)
        files = subprocess.run(["find", ".", "-print0"], cwd=root, capture_output=True, check=True).stdout
        archive = subprocess.run(["cpio", "--null", "-o", "-H", "newc", "--quiet"], cwd=root, input=files, capture_output=True, check=True).stdout
        partial = initrd.with_suffix(".tmp")
        partial.write_bytes(subprocess.run(["gzip", "-1"], input=archive, capture_output=True, check=True).stdout)
        partial.replace(initrd)
    return kernel, initrd
