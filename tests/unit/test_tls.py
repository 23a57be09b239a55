"""TLS files: every problem named at start, and contexts that follow rotated files."""

import ssl

import pytest

from broker_lag_exporter.tls import ClientTls, KeyPair, ReloadingContext, ca_problems, pair_problems
from harness.certs import CertificateAuthority


@pytest.fixture
def ca(tmp_path):
    return CertificateAuthority(tmp_path / "pki")


def test_a_good_pair_and_ca_have_no_problems(ca):
    issued = ca.issue("client", client=True, password="k3y-pass")
    assert pair_problems("cert", "key", KeyPair(issued.cert, issued.key, "k3y-pass")) == []
    assert ca_problems("ssl_cafile", ca.cert) == []


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing cert", "cert {d}/nope.pem does not exist"),
        ("cert is a key", "cert {d}/a-key.pem holds no PEM certificate"),
        ("key of another cert", "key {d}/b-key.pem does not match cert {d}/a.pem"),
        ("encrypted, no password", "key {d}/locked-key.pem is encrypted and no password is set"),
        (
            "wrong password",
            "key {d}/locked-key.pem cannot be read: not a PEM private key, or a wrong password",
        ),
    ],
)
def test_each_pair_problem_is_named(ca, case, expected):
    d = ca.folder
    a, b = ca.issue("a"), ca.issue("b")
    locked = ca.issue("locked", password="right")
    pair = {
        "missing cert": KeyPair(d / "nope.pem", a.key),
        "cert is a key": KeyPair(a.key, a.key),
        "key of another cert": KeyPair(a.cert, b.key),
        "encrypted, no password": KeyPair(locked.cert, locked.key),
        "wrong password": KeyPair(locked.cert, locked.key, "wrong"),
    }[case]
    assert pair_problems("cert", "key", pair) == [expected.format(d=d)]


def test_a_ca_file_without_certificates_is_named(ca):
    garbage = ca.folder / "garbage.pem"
    garbage.write_text("not a certificate\n")
    assert ca_problems("ssl_cafile", garbage)[0].startswith(f"ssl_cafile {garbage} holds no PEM certificate")
    assert ca_problems("ssl_cafile", ca.folder / "none.pem") == [
        f"ssl_cafile {ca.folder}/none.pem does not exist"
    ]


def test_the_password_is_not_in_the_repr(ca):
    issued = ca.issue("c", password="hunter2")
    assert "hunter2" not in repr(KeyPair(issued.cert, issued.key, "hunter2"))
    assert "hunter2" not in repr(ClientTls(pair=KeyPair(issued.cert, issued.key, "hunter2")))


def _serial(context: ssl.SSLContext) -> list[int]:
    return [int(str(c["serialNumber"]), 16) for c in context.get_ca_certs()]


def test_a_rotated_file_is_read_for_the_next_connection_and_a_broken_one_is_not(ca, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(ca.cert.read_bytes())
    context = ReloadingContext(lambda: ClientTls(cafile=bundle).build(), lambda: [bundle])
    first = _serial(context.current())
    other = CertificateAuthority(tmp_path / "other", "other-ca")
    bundle.write_bytes(other.cert.read_bytes())
    second = _serial(context.current())
    assert second != first
    bundle.write_text("half-written\n")
    assert _serial(context.current()) == second  # the last good one is kept


def test_the_server_hostname_override_is_what_gets_verified(ca):
    context = ClientTls(cafile=ca.cert, server_hostname="kafka.example.com").context()
    obj = context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="10.0.0.7")
    assert obj.server_hostname == "kafka.example.com"
    assert obj.context.check_hostname


def test_insecure_skip_verify_verifies_nothing(ca):
    context = ClientTls(insecure_skip_verify=True).build()
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_NONE, False)
