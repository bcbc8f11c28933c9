"""Keys and certificates for OpenFlow over TLS, both ends authenticated.

Open vSwitch's SSL settings are global to ovs-vswitchd (one key, one
certificate, one CA file), while several labs may be up at once, each with its
own controller. So:

- the host PKI directory (root-only) holds a long-lived *switch CA*, the one
  switch key and certificate it signs (for `ovs-vsctl set-ssl`), and the bundle
  `switch-trusts.pem`: the CA file OVS trusts for controllers, holding the CA
  of every lab that is up;
- each lab's directory holds that lab's CA, its controller's key and
  certificate (os-ken's `ctl_privkey`, `ctl_cert`) and a copy of the switch CA
  certificate (its `ca_certs`, so only this host's switches get in).

A local process without root can neither pose as a switch (no certificate from
the switch CA, cannot read its key) nor as a controller (no certificate from a
CA in the bundle: a lab CA's key is dropped once it has signed its controller).
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from host.preflight import HostError

# SDNLAB_PKI: one directory the hosts of a lab built across hosts share (on Proxmox, under /etc/pve/priv, which the
# cluster file system replicates to every node, root only): one switch CA, and one bundle holding the lab's CA.
DEFAULT_ROOT = Path(os.environ.get("SDNLAB_PKI", "/var/lib/sdnlab/pki"))
# The host's files; the bundle is what `ovs-vsctl set-ssl` gets as its CA file.
SWITCH_CA_KEY, SWITCH_CA_CERT, SWITCH_KEY, SWITCH_CERT = "switch-ca.key", "switch-ca.crt", "switch.key", "switch.crt"
BUNDLE = "switch-trusts.pem"
# A lab's files: its directory is what `sdnlab controller --tls-dir DIR` reads (controller/launcher.py
# names the same files), with a copy of the switch CA certificate, so the directory is all it needs.
LAB_CA, CONTROLLER_KEY, CONTROLLER_CERT = "ca.crt", "controller.key", "controller.crt"
HOST_CA_DAYS = 3650
SWITCH_DAYS = 365
HOST_RENEW = dt.timedelta(days=30)  # host certificates are re-issued when less than this is left
LAB_DAYS = 30
LAB_RENEW = dt.timedelta(days=10)
# A lab id (a topology name, or a simulation's `s<pid>`); it must fit a CN and a line of the bundle.
LAB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,37}\Z")
LAB_MARK = "# sdnlab lab: "
PLACEHOLDER_MARK = "# sdnlab placeholder: trusts nothing (its key was never kept)"
BUNDLE_HEADER = (
    "# The CAs whose controllers this host's Open vSwitch trusts: one per sdnlab lab that is up.\n"
    "# Written by sdnlab (host/pki.py) under a lock; do not edit.\n"
)


class PkiError(HostError):
    """A key or certificate directory is not safe to use; the message says what to fix."""


@dataclass(frozen=True)
class HostTls:
    """The host's files, for `ovs-vsctl set-ssl switch_key switch_cert bundle`."""

    switch_ca_cert: Path  # the switch CA (each lab directory holds a copy, for os-ken's ca_certs)
    switch_key: Path
    switch_cert: Path
    bundle: Path  # the CA of every lab that is up, plus a placeholder
    switch_ca_pem: bytes = field(repr=False)  # what make_lab_tls copies into a lab's directory


@dataclass(frozen=True)
class LabTls:
    """One lab's controller files, for os-ken's ctl_privkey, ctl_cert and ca_certs."""

    lab: str
    ca_cert: Path
    controller_key: Path
    controller_cert: Path
    switch_ca_cert: Path  # the copy in the lab's directory
    ca_pem: bytes = field(repr=False)  # what add_lab_ca puts in the bundle: read once, under the checks


def host_tls(pki_root: Path = DEFAULT_ROOT, now: dt.datetime | None = None) -> HostTls:
    """The host's switch CA, switch key and certificate, and bundle: made once, reused while valid."""
    now = now or dt.datetime.now(dt.UTC)
    with _private_dir(pki_root) as (root, dfd):
        ca_key = _load_key(dfd, root, SWITCH_CA_KEY)
        if ca_key is None:
            ca_key = _new_key()
            _write(dfd, SWITCH_CA_KEY, _key_pem(ca_key), 0o600)
        ca = _load_cert(dfd, root, SWITCH_CA_CERT)
        if not (ca and _usable(ca, ca_key.public_key(), ca, now, HOST_RENEW)):
            # Renewed with the same key and name, so switch certificates it signed (and controllers
            # that loaded the old CA certificate) keep working across the renewal.
            subject = ca.subject if ca else _name(f"sdnlab switch CA on {socket.gethostname()}")
            ca = _issue(subject, ca_key.public_key(), subject, ca_key, now, HOST_CA_DAYS, None)
            _write(dfd, SWITCH_CA_CERT, _cert_pem(ca), 0o644)
        key = _load_key(dfd, root, SWITCH_KEY)
        cert = _load_cert(dfd, root, SWITCH_CERT)
        if not (key and cert and _usable(cert, key.public_key(), ca, now, HOST_RENEW)):
            key = _new_key()
            subject = _name(f"sdnlab switch on {socket.gethostname()}")
            cert = _issue(subject, key.public_key(), ca.subject, ca_key, now, SWITCH_DAYS, ExtendedKeyUsageOID.CLIENT_AUTH)
            # ovs-vswitchd re-reads its key and certificate only once the key file has changed, and
            # then reads both: so the certificate goes first, and it never pairs a new key with an old one.
            _write(dfd, SWITCH_CERT, _cert_pem(cert), 0o644)
            _write(dfd, SWITCH_KEY, _key_pem(key), 0o600)
        if _read(dfd, root, BUNDLE) is None:
            _write_bundle(dfd, root, {}, now)
    return HostTls(root / SWITCH_CA_CERT, root / SWITCH_KEY, root / SWITCH_CERT, root / BUNDLE, _cert_pem(ca))


def make_lab_tls(
    lab_dir: Path, lab_name: str, pki_root: Path = DEFAULT_ROOT, now: dt.datetime | None = None, days: int = LAB_DAYS
) -> LabTls:
    """The lab's CA, controller key and certificate, and a copy of the switch CA certificate in `lab_dir`
    (made 0700 if missing; give it a directory of its own, e.g. the lab's state directory / "tls"):
    reused while valid, the first three made anew when any is missing, broken or near its end.
    Then add_lab_ca(result)."""
    check_lab_name(lab_name)
    now = now or dt.datetime.now(dt.UTC)
    host = host_tls(pki_root, now)
    renew = min(LAB_RENEW, dt.timedelta(days=days) / 3)  # a short-lived lab certificate is still reused
    subject = _name(f"sdnlab controller for lab {lab_name}")
    with _private_dir(lab_dir) as (d, dfd):
        ca = _load_cert(dfd, d, LAB_CA)
        key = _load_key(dfd, d, CONTROLLER_KEY)
        cert = _load_cert(dfd, d, CONTROLLER_CERT)
        if not (ca and key and cert and cert.subject == subject and _usable(ca, ca.public_key(), ca, now, renew)
                and _usable(cert, key.public_key(), ca, now, renew)):
            # The lab CA signs this one certificate and its key is dropped: nothing on disk can
            # sign another certificate the switches would take for this lab's controller.
            ca_key, key = _new_key(), _new_key()
            ca_name = _name(f"sdnlab CA for lab {lab_name}")
            ca = _issue(ca_name, ca_key.public_key(), ca_name, ca_key, now, days, None)
            cert = _issue(subject, key.public_key(), ca_name, ca_key, now, days, ExtendedKeyUsageOID.SERVER_AUTH)
            _write(dfd, CONTROLLER_CERT, _cert_pem(cert), 0o644)
            _write(dfd, CONTROLLER_KEY, _key_pem(key), 0o600)
            _write(dfd, LAB_CA, _cert_pem(ca), 0o644)
        if _read(dfd, d, SWITCH_CA_CERT) != host.switch_ca_pem:  # new, or the host CA was renewed
            _write(dfd, SWITCH_CA_CERT, host.switch_ca_pem, 0o644)
        return LabTls(lab_name, d / LAB_CA, d / CONTROLLER_KEY, d / CONTROLLER_CERT, d / SWITCH_CA_CERT, _cert_pem(ca))


def add_lab_ca(lab: LabTls, pki_root: Path = DEFAULT_ROOT, now: dt.datetime | None = None) -> None:
    """Trust `lab`'s controller from this host's switches (replacing that lab's older CA, if any)."""
    check_lab_name(lab.lab)
    if not _is_ca(x509.load_pem_x509_certificate(lab.ca_pem)):
        raise PkiError(f"lab {lab.lab}: {lab.ca_cert} is not a CA certificate")
    _update_bundle(pki_root, lab.lab, lab.ca_pem.decode(), now)


def remove_lab_ca(lab_name: str, pki_root: Path = DEFAULT_ROOT, now: dt.datetime | None = None) -> bool:
    """Stop trusting that lab's controllers; False if the bundle did not hold it (safe to run twice)."""
    check_lab_name(lab_name)
    return _update_bundle(pki_root, lab_name, None, now)


def trusted_labs(pki_root: Path = DEFAULT_ROOT) -> list[str]:
    """The labs whose CA is in the bundle, sorted."""
    with _private_dir(pki_root) as (root, dfd):
        text = _read(dfd, root, BUNDLE)
        return sorted(name for name in _parse_bundle(text.decode(), root / BUNDLE) if name) if text else []


def check_lab_name(lab_name: str) -> None:
    if not LAB_NAME.match(lab_name):
        raise ValueError(f"lab name {lab_name!r} must be 1 to 38 letters, digits, '.', '_' or '-'")


# The bundle: a placeholder CA, then one "# sdnlab lab: NAME" line and one PEM certificate per lab.
# ovs-vswitchd reloads the file when its mtime changes, and when the new file holds no certificate
# at all it logs an error and keeps trusting the old CAs: the placeholder keeps the file non-empty,
# so removing the last lab really does stop trusting it. OpenSSL skips the comment lines.

def _update_bundle(pki_root: Path, lab_name: str, pem: str | None, now: dt.datetime | None) -> bool:
    with _private_dir(pki_root) as (root, dfd):  # held for the whole read-modify-write
        text = _read(dfd, root, BUNDLE)
        entries = _parse_bundle(text.decode(), root / BUNDLE) if text else {}
        before = entries.get(lab_name)
        if pem is None:
            entries.pop(lab_name, None)
        else:
            entries[lab_name] = pem
        if text is None or entries.get(lab_name) != before:
            _write_bundle(dfd, root, entries, now or dt.datetime.now(dt.UTC))
        return before is not None


def _parse_bundle(text: str, where: Path) -> dict[str, str]:
    """{lab name: PEM}, with "" for the placeholder."""
    entries: dict[str, str] = {}
    label: str | None = None
    block: list[str] = []
    for line in text.splitlines():
        if line.startswith(LAB_MARK):
            label = line[len(LAB_MARK):]
        elif line == PLACEHOLDER_MARK:
            label = ""
        elif line == "-----BEGIN CERTIFICATE-----" or block:
            block.append(line)
            if line == "-----END CERTIFICATE-----":
                if label is None:
                    raise PkiError(f"{where}: a certificate without a '{LAB_MARK}' line; not written by sdnlab, move it away")
                entries[label], label, block = "\n".join(block) + "\n", None, []
    if block:
        raise PkiError(f"{where}: a certificate is cut short; move the file away and run again")
    return entries


def _write_bundle(dfd: int, root: Path, entries: dict[str, str], now: dt.datetime) -> None:
    if "" not in entries:
        key = _new_key()  # signs the placeholder itself, then is gone
        name = _name("sdnlab placeholder CA: trusts nothing")
        entries[""] = _cert_pem(_issue(name, key.public_key(), name, key, now, HOST_CA_DAYS, None)).decode()
    parts = [BUNDLE_HEADER] + [f"{LAB_MARK}{n}\n{entries[n]}" if n else f"{PLACEHOLDER_MARK}\n{entries[n]}" for n in sorted(entries)]
    _write(dfd, BUNDLE, "".join(parts).encode(), 0o644)


# Certificates: EC P-256 keys, SHA-256, and the extensions that keep each in its role (OpenSSL checks
# the extended key usage: the switch's certificate cannot serve as a controller's, nor the reverse).

def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sdnlab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])  # a CN holds 64 characters


def _issue(subject: x509.Name, public_key: ec.EllipticCurvePublicKey, issuer: x509.Name,
           issuer_key: ec.EllipticCurvePrivateKey, now: dt.datetime, days: int, usage: x509.ObjectIdentifier | None) -> x509.Certificate:
    """A CA certificate when `usage` is None, else a leaf for that extended key usage."""
    ca = usage is None
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _usable(cert: x509.Certificate, public_key: ec.EllipticCurvePublicKey, issuer: x509.Certificate,
            now: dt.datetime, renew: dt.timedelta) -> bool:
    """`cert` is for `public_key`, signed by `issuer`, and has more than `renew` left."""
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(*der) != public_key.public_bytes(*der) or cert.issuer != issuer.subject:
        return False
    try:
        issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    except (InvalidSignature, TypeError):
        return False
    # cryptography >= 42 has the aware datetime; Debian 12's 38 has the naive UTC one.
    end = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(tzinfo=dt.UTC)
    return end - now > renew


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _load_key(dfd: int, where: Path, name: str) -> ec.EllipticCurvePrivateKey | None:
    data = _read(dfd, where, name)
    try:
        key = serialization.load_pem_private_key(data, password=None) if data else None
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None  # broken: made anew
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _load_cert(dfd: int, where: Path, name: str) -> x509.Certificate | None:
    data = _read(dfd, where, name)
    try:
        return x509.load_pem_x509_certificate(data) if data else None
    except ValueError:
        return None


# Files. Every directory is opened once without following a symlink, checked, and locked; files are
# then read and written relative to its descriptor, so no path can be swapped under root's writes.

@contextmanager
def _private_dir(path: Path) -> Iterator[tuple[Path, int]]:
    """Create `path` 0700 if missing, refuse it unless it is a directory only we can write (and so are
    its parents, or they are sticky like /tmp); yield its real path and a locked descriptor."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path = Path(os.path.realpath(path.parent)) / path.name  # a returned path then crosses no symlink
    for parent in [path.parent, *path.parent.parents]:
        st = os.lstat(parent)
        if st.st_uid not in (0, os.geteuid()) or (st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX):
            raise PkiError(f"{parent} can be changed by another user, so {path} cannot be kept safe there")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    try:
        dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise PkiError(f"{path} is a symbolic link or not a directory; refusing it (remove it)") from exc
        raise
    try:
        st = os.fstat(dfd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise PkiError(f"{path} must be a directory owned by uid {os.geteuid()} that no one else can write "
                           f"(it is owned by uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):04o}); fix or remove it")
        os.fchmod(dfd, 0o700)
        fcntl.flock(dfd, fcntl.LOCK_EX)  # released when the descriptor closes
        yield path, dfd
    finally:
        os.close(dfd)


def _read(dfd: int, where: Path, name: str) -> bytes | None:
    """The file's content, None if missing; a symlink or anything but our own regular file is refused."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PkiError(f"{where / name} is a symbolic link; refusing to follow it (remove it)") from exc
        raise
    with open(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            raise PkiError(f"{where / name} is not a regular file owned by uid {os.geteuid()}; refusing it (remove it)")
        if name.endswith(".key") and st.st_mode & 0o077:
            raise PkiError(f"{where / name} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}): "
                           "treat it as leaked, remove it and run again")
        return f.read()


def _write(dfd: int, name: str, data: bytes, mode: int) -> None:
    """Replace `name` atomically: a fresh file (O_EXCL, never through a symlink), then rename over."""
    try:
        old_mtime = os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mtime_ns
    except FileNotFoundError:
        old_mtime = 0
    tmp = f".{name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=dfd)
    try:
        with open(fd, "wb") as f:
            os.fchmod(fd, mode)  # whatever the umask
            f.write(data)
            f.flush()
            # OVS notices a change by the mtime alone; two writes within one clock tick must still differ.
            stamp = max(time.time_ns(), old_mtime + 1)
            os.utime(fd, ns=(stamp, stamp))
            os.fsync(fd)
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except FileNotFoundError:
            pass
        raise
    os.fsync(dfd)
