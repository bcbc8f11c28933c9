"""host/pki.py: the keys and certificates of OpenFlow over TLS, proven with
Python's ssl module over loopback socket pairs (no OVS, no root).

The "controller" end is built as os-ken builds its server (controller key and
certificate, client certificate required, the switch CA as ca_certs); the
"switch" end as ovs-vswitchd connects (the switch key and certificate, the
bundle as its CA file, no host name check).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from host.pki import (
    HostTls,
    LabTls,
    PkiError,
    add_lab_ca,
    host_tls,
    make_lab_tls,
    remove_lab_ca,
    trusted_labs,
)
from tests.conftest import unavailable

NOW = dt.datetime.now(dt.UTC)


def server_ctx(cert: Path, key: Path, trust: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(trust)
    return ctx


def client_ctx(trust: Path, cert: Path | None = None, key: Path | None = None, tls12: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # OVS checks the chain, not a name
    ctx.load_verify_locations(trust)
    if cert:
        ctx.load_cert_chain(cert, key)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # OVS 3.1's default protocols stop there
    return ctx


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> tuple[Exception | None, Exception | None]:
    """Each side's failure (None if it succeeded): the server handshakes and sends, the client receives."""
    a, b = socket.socketpair()
    a.settimeout(5)
    b.settimeout(5)
    outcome: dict[str, Exception | None] = {}

    def serve() -> None:
        try:
            with server.wrap_socket(a, server_side=True) as s:
                s.sendall(b"hello")
            outcome["server"] = None
        except (ssl.SSLError, OSError) as exc:
            outcome["server"] = exc

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client.wrap_socket(b) as c:
            got = c.recv(5)
            outcome["client"] = None if got == b"hello" else ConnectionError(f"received {got!r}")
    except (ssl.SSLError, OSError) as exc:
        outcome["client"] = exc
    finally:
        thread.join(10)
        a.close()
        b.close()
    return outcome["server"], outcome["client"]


def controller(lab: LabTls) -> ssl.SSLContext:
    return server_ctx(lab.controller_cert, lab.controller_key, lab.switch_ca_cert)


def switch(host: HostTls, tls12: bool = False) -> ssl.SSLContext:
    return client_ctx(host.bundle, host.switch_cert, host.switch_key, tls12)


def self_signed(where: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "sdnlab switch on vm")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - dt.timedelta(hours=1))
            .not_valid_after(NOW + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    where.mkdir()
    (where / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (where / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    return where / "cert.pem", where / "key.pem"


def ca_count(bundle: Path) -> int:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(bundle)
    return ctx.cert_store_stats()["x509_ca"]


def files(*dirs: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_ino, p.stat().st_mtime_ns) for d in dirs for p in d.iterdir()}


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def lifetime(cert: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    """(not before, not after), naive UTC whichever cryptography this is."""
    if hasattr(cert, "not_valid_after_utc"):
        return cert.not_valid_before_utc.replace(tzinfo=None), cert.not_valid_after_utc.replace(tzinfo=None)
    return cert.not_valid_before, cert.not_valid_after


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    return tmp_path / "pki"


@pytest.fixture
def host(pki: Path) -> HostTls:
    return host_tls(pki)


@pytest.fixture
def lab(tmp_path: Path, pki: Path, host: HostTls) -> LabTls:
    tls = make_lab_tls(tmp_path / "lab-a", "lab-a", pki)
    add_lab_ca(tls, pki)
    return tls


# The handshake, as OVS and os-ken will do it

@pytest.mark.parametrize("tls12", [False, True], ids=["default", "tls1.2"])
def test_switch_and_controller_authenticate_each_other(host: HostTls, lab: LabTls, tls12: bool):
    assert handshake(controller(lab), switch(host, tls12)) == (None, None)


@pytest.mark.parametrize("impostor", ["no certificate", "self-signed", "another host's switch CA"])
def test_controller_refuses_a_switch_without_a_certificate_from_the_switch_ca(tmp_path, host, lab, impostor):
    if impostor == "no certificate":
        client = client_ctx(host.bundle)
    elif impostor == "self-signed":
        client = client_ctx(host.bundle, *self_signed(tmp_path / "rogue"))
    else:
        other = host_tls(tmp_path / "other-pki")
        client = client_ctx(host.bundle, other.switch_cert, other.switch_key)
    server_error, client_error = handshake(controller(lab), client)
    assert server_error is not None and client_error is not None


def test_switch_refuses_a_controller_whose_ca_is_not_in_the_bundle(tmp_path, host, lab):
    rogue = make_lab_tls(tmp_path / "rogue", "lab-a", tmp_path / "rogue-pki")  # same lab name, its own CA
    unadded = make_lab_tls(tmp_path / "lab-b", "lab-b", host.bundle.parent)  # a real lab, never added
    for impostor in (rogue, unadded):
        server = server_ctx(impostor.controller_cert, impostor.controller_key, host.switch_ca_cert)
        server_error, client_error = handshake(server, switch(host))
        assert isinstance(client_error, ssl.SSLCertVerificationError)


def test_removing_a_lab_stops_trusting_its_controller_and_only_it(tmp_path, pki, host, lab):
    other = make_lab_tls(tmp_path / "lab-b", "lab-b", pki)
    add_lab_ca(other, pki)
    assert trusted_labs(pki) == ["lab-a", "lab-b"]
    assert handshake(controller(lab), switch(host)) == (None, None)

    assert remove_lab_ca("lab-a", pki) is True
    assert remove_lab_ca("lab-a", pki) is False  # safe to run twice
    assert trusted_labs(pki) == ["lab-b"]
    assert isinstance(handshake(controller(lab), switch(host))[1], ssl.SSLCertVerificationError)
    assert handshake(controller(other), switch(host)) == (None, None)


def test_with_no_lab_up_the_bundle_still_holds_a_certificate_and_trusts_nothing(tmp_path, pki, host):
    # ovs-vswitchd keeps its old CAs when the file holds none: it must never be empty.
    assert ca_count(host.bundle) == 1
    placeholder = host.bundle.read_text()
    tls = make_lab_tls(tmp_path / "lab-a", "lab-a", pki)
    assert isinstance(handshake(controller(tls), switch(host))[1], ssl.SSLCertVerificationError)
    add_lab_ca(tls, pki)
    assert ca_count(host.bundle) == 2
    remove_lab_ca("lab-a", pki)
    assert trusted_labs(pki) == [] and ca_count(host.bundle) == 1
    assert host.bundle.read_text() == placeholder


def test_a_switch_cannot_serve_as_controller_nor_a_controller_as_switch(host, lab):
    # Even where the other CA were trusted, the extended key usage keeps each certificate in its role.
    server = server_ctx(host.switch_cert, host.switch_key, host.switch_ca_cert)
    client = client_ctx(host.switch_ca_cert, host.switch_cert, host.switch_key)
    assert "unsuitable certificate purpose" in str(handshake(server, client)[1])
    server = server_ctx(lab.controller_cert, lab.controller_key, lab.ca_cert)
    client = client_ctx(host.bundle, lab.controller_cert, lab.controller_key)
    assert "unsuitable certificate purpose" in str(handshake(server, client)[0])


def test_certificates_say_what_they_are(host, lab):
    def eku(cert: x509.Certificate) -> list:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)

    for ca in (load(host.switch_ca_cert), load(lab.ca_cert)):
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
        assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
        assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    switch_cert, controller_cert = load(host.switch_cert), load(lab.controller_cert)
    assert eku(switch_cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert eku(controller_cert) == [ExtendedKeyUsageOID.SERVER_AUTH]
    for cert in (switch_cert, controller_cert):
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and cert.public_key().curve.name == "secp256r1"
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    common_name = x509.oid.NameOID.COMMON_NAME
    assert load(host.switch_ca_cert).subject.get_attributes_for_oid(common_name)[0].value == \
        f"sdnlab switch CA on {socket.gethostname()}"[:64]
    assert controller_cert.subject.get_attributes_for_oid(common_name)[0].value == "sdnlab controller for lab lab-a"
    start, end = lifetime(controller_cert)
    assert dt.timedelta(days=30) <= end - start <= dt.timedelta(days=30, minutes=5)
    start, end = lifetime(load(host.switch_ca_cert))
    assert dt.timedelta(days=3650) <= end - start <= dt.timedelta(days=3650, minutes=5)


# Files: permissions, symlinks, idempotence, renewal

def test_directories_are_private_and_keys_unreadable_by_others(pki, host, lab):
    assert (pki.stat().st_mode & 0o777, lab.ca_cert.parent.stat().st_mode & 0o777) == (0o700, 0o700)
    for key in (host.switch_key, lab.controller_key, pki / "switch-ca.key"):
        assert key.stat().st_mode & 0o777 == 0o600
    for cert in (host.switch_cert, host.switch_ca_cert, host.bundle, lab.ca_cert, lab.controller_cert):
        assert cert.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in pki.iterdir()) == ["switch-ca.crt", "switch-ca.key", "switch-trusts.pem", "switch.crt", "switch.key"]
    # what `sdnlab controller --tls-dir DIR` reads
    assert sorted(p.name for p in lab.ca_cert.parent.iterdir()) == ["ca.crt", "controller.crt", "controller.key", "switch-ca.crt"]
    assert lab.switch_ca_cert.read_bytes() == host.switch_ca_cert.read_bytes()


def test_a_second_call_reuses_valid_files(tmp_path, pki, host, lab):
    before = files(pki, lab.ca_cert.parent)
    assert host_tls(pki) == host
    assert make_lab_tls(tmp_path / "lab-a", "lab-a", pki) == lab
    add_lab_ca(lab, pki)
    assert files(pki, lab.ca_cert.parent) == before


def test_lab_certificates_are_made_anew_near_their_end(tmp_path, pki, host, lab):
    host_files, old_end = files(pki), lifetime(load(lab.controller_cert))[1]
    assert make_lab_tls(tmp_path / "lab-a", "lab-a", pki, now=NOW + dt.timedelta(days=19)) == lab  # 11 days left
    renewed = make_lab_tls(tmp_path / "lab-a", "lab-a", pki, now=NOW + dt.timedelta(days=21))  # 9 days left
    assert renewed.ca_pem != lab.ca_pem
    assert lifetime(load(renewed.controller_cert))[1] > old_end + dt.timedelta(days=20)
    add_lab_ca(renewed, pki)  # replaces the lab's old CA
    assert trusted_labs(pki) == ["lab-a"] and ca_count(host.bundle) == 2
    assert {k: v for k, v in files(pki).items() if not k.endswith("switch-trusts.pem")} == \
        {k: v for k, v in host_files.items() if not k.endswith("switch-trusts.pem")}


def test_short_lived_lab_certificates_are_reused_too(tmp_path, pki, host):
    first = make_lab_tls(tmp_path / "lab", "lab", pki, days=1)
    assert make_lab_tls(tmp_path / "lab", "lab", pki, days=1).ca_pem == first.ca_pem
    assert make_lab_tls(tmp_path / "lab", "lab", pki, now=NOW + dt.timedelta(hours=20), days=1).ca_pem != first.ca_pem


def test_host_ca_is_renewed_with_its_key_so_issued_certificates_still_chain(tmp_path, pki, host, lab):
    old_ca, old_switch = load(host.switch_ca_cert), load(host.switch_cert)
    later = NOW + dt.timedelta(days=3650 - 20)
    renewed = host_tls(pki, now=later)
    new_ca, new_switch = load(renewed.switch_ca_cert), load(renewed.switch_cert)
    assert new_ca.serial_number != old_ca.serial_number and new_ca.subject == old_ca.subject
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert new_ca.public_key().public_bytes(*der) == old_ca.public_key().public_bytes(*der)
    new_ca.public_key().verify(old_switch.signature, old_switch.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    assert new_switch.serial_number != old_switch.serial_number  # the switch's own year was long over
    # ovs-vswitchd reloads key and certificate when the key changes: the certificate is written first.
    assert renewed.switch_key.stat().st_mtime_ns > renewed.switch_cert.stat().st_mtime_ns
    assert make_lab_tls(tmp_path / "lab-a", "lab-a", pki, now=later).switch_ca_cert.read_bytes() == renewed.switch_ca_pem


@pytest.mark.parametrize("target_exists", [True, False], ids=["to a file", "dangling"])
def test_a_planted_symlink_is_refused_and_not_followed(tmp_path, pki, target_exists):
    pki.mkdir(mode=0o700)
    target = tmp_path / "victim"
    if target_exists:
        target.write_text("not yours\n")
    (pki / "switch-ca.key").symlink_to(target)
    with pytest.raises(PkiError, match="symbolic link"):
        host_tls(pki)
    assert (target.read_text() == "not yours\n") if target_exists else not target.exists()
    assert (pki / "switch-ca.key").is_symlink()


def test_a_symlink_in_place_of_a_lab_key_or_directory_is_refused(tmp_path, pki, lab):
    lab.controller_key.unlink()
    lab.controller_key.symlink_to(tmp_path / "victim")
    with pytest.raises(PkiError, match="symbolic link"):
        make_lab_tls(tmp_path / "lab-a", "lab-a", pki)
    assert not (tmp_path / "victim").exists()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (tmp_path / "lab-c").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PkiError, match="symbolic link"):
        make_lab_tls(tmp_path / "lab-c", "lab-c", pki)
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_key_others_could_read_is_refused(tmp_path, pki, lab):
    lab.controller_key.chmod(0o644)
    with pytest.raises(PkiError, match="leaked"):
        make_lab_tls(tmp_path / "lab-a", "lab-a", pki)


def test_directories_others_can_write_are_refused(tmp_path, pki):
    (tmp_path / "shared").mkdir(mode=0o770)
    (tmp_path / "shared").chmod(0o770)
    with pytest.raises(PkiError, match="no one else can write"):
        host_tls(tmp_path / "shared")
    (tmp_path / "open").mkdir()
    (tmp_path / "open").chmod(0o777)
    with pytest.raises(PkiError, match="another user"):
        make_lab_tls(tmp_path / "open" / "lab", "lab", pki)
    (tmp_path / "open").chmod(0o1777)  # sticky, like /tmp: others cannot move our directory
    make_lab_tls(tmp_path / "open" / "lab", "lab", pki)


def test_a_directory_of_another_user_is_refused(tmp_path):
    if os.geteuid() != 0:
        unavailable("needs root to give a directory to another user")
    (tmp_path / "theirs").mkdir(mode=0o700)
    os.chown(tmp_path / "theirs", 12345, 12345)
    with pytest.raises(PkiError, match="owned by uid 12345"):
        host_tls(tmp_path / "theirs")


@pytest.mark.parametrize("name", ["", "a b", "../x", "a\nb", "x" * 39, "-x"])
def test_lab_names_must_fit_a_certificate_and_a_bundle_line(tmp_path, pki, name):
    with pytest.raises(ValueError):
        make_lab_tls(tmp_path / "lab", name, pki)
    with pytest.raises(ValueError):
        remove_lab_ca(name, pki)


def test_a_bundle_not_written_by_sdnlab_is_refused_not_overwritten(tmp_path, pki, host):
    foreign = "-----BEGIN CERTIFICATE-----\n" + host.switch_ca_cert.read_text().split("\n", 1)[1]
    host.bundle.write_text(foreign)
    with pytest.raises(PkiError, match="not written by sdnlab"):
        add_lab_ca(make_lab_tls(tmp_path / "lab", "lab", pki), pki)
    assert host.bundle.read_text() == foreign


# The bundle under concurrent changes

def churn(pki: Path, labs: list[LabTls], rounds: int, start) -> None:
    """Many adds and removes, then all added: a lost update leaves a lab out (or one removed in)."""
    start.wait()
    for _ in range(rounds):
        for tls in labs:
            add_lab_ca(tls, pki)
        for tls in labs:
            remove_lab_ca(tls.lab, pki)
    for tls in labs:
        add_lab_ca(tls, pki)
    remove_lab_ca(labs[-1].lab, pki)


def test_the_bundle_stays_whole_under_concurrent_adds_and_removes(tmp_path, pki, host, lab):
    groups = [[make_lab_tls(tmp_path / f"w{w}-{i}", f"w{w}-{i}", pki) for i in range(8)] for w in range(2)]
    spawn = multiprocessing.get_context("spawn")  # other tests load eventlet, which forbids fork
    start = spawn.Barrier(len(groups))
    workers = [spawn.Process(target=churn, args=(pki, group, 5, start)) for group in groups]
    for worker in workers:
        worker.start()
    reads = 0
    while any(worker.is_alive() for worker in workers):
        assert ca_count(host.bundle) >= 2  # never cut short: the placeholder and lab-a at least
        assert lab.ca_pem.decode() in host.bundle.read_text()
        reads += 1
        time.sleep(0.01)
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    assert reads > 0
    assert trusted_labs(pki) == sorted(["lab-a"] + [f"w{w}-{i}" for w in range(2) for i in range(7)])
    assert ca_count(host.bundle) == 1 + 1 + 14
    assert handshake(controller(groups[0][0]), switch(host)) == (None, None)
    assert isinstance(handshake(controller(groups[1][7]), switch(host))[1], ssl.SSLCertVerificationError)
