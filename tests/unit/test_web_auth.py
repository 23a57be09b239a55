"""The exporter-toolkit web config: every problem listed, bcrypt basic auth, TLS and mTLS, reloads."""

import asyncio
import base64
import ssl
import textwrap

import aiohttp
import bcrypt
import pytest
from aiohttp import web

from broker_lag_exporter.app import build_app
from broker_lag_exporter.config.settings import ConfigError, load_settings
from broker_lag_exporter.server import ssl_context
from broker_lag_exporter.store import Store
from broker_lag_exporter.web_auth import load_web_config
from harness.certs import CertificateAuthority
from harness.process import free_port

HASH = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()


def _write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


def _auth(user: bytes, password: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(user + b":" + password).decode()}


@pytest.fixture
def ca(tmp_path):
    return CertificateAuthority(tmp_path / "pki")


def test_a_full_config_parses_with_paths_relative_to_its_folder(ca):
    ca.issue("server")
    config = _write(
        ca.folder / "web.yml",
        f"""
        tls_server_config:
          cert_file: server.pem
          key_file: server-key.pem
          client_ca_file: test-ca.pem
          client_auth_type: RequireAndVerifyClientCert
          min_version: TLS13
        http_server_config:
          http2: true
        basic_auth_users:
          prometheus: {HASH}
        """,
    )
    parsed = load_web_config(config)
    assert parsed.tls is not None
    assert parsed.tls.pair.certfile == ca.folder / "server.pem"
    assert parsed.tls.client_auth == ssl.CERT_REQUIRED
    assert parsed.tls.min_version == ssl.TLSVersion.TLSv1_3
    assert set(parsed.users) == {"prometheus"}
    assert HASH not in repr(parsed)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("basic_auth_users:\n  prometheus: ''\n", "basic_auth_users.prometheus: the password hash is empty"),
        ("basic_auth_users:\n  prometheus:\n", "basic_auth_users.prometheus: the password hash is empty"),
        ("basic_auth_users:\n  prometheus: s3cret\n", "basic_auth_users.prometheus: not a bcrypt hash"),
        (f"basic_auth_users:\n  '': {HASH}\n", "a user name is empty"),
        ("tls_server_config:\n  cert_file: server.pem\n", "needs both cert_file and key_file"),
        (
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n"
            "  client_ca_file: test-ca.pem\n",
            "client_ca_file is set without a client_auth_type that verifies",
        ),
        (
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n"
            "  client_auth_type: RequireAndVerifyClientCert\n",
            "RequireAndVerifyClientCert needs client_ca_file",
        ),
        (
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n"
            "  client_auth_type: RequireAnyClientCert\n",
            "'RequireAnyClientCert' is not one of",
        ),
        ("tls_server_config:\n  cert_file: server.pem\n  key_file: other-key.pem\n", "does not match"),
        (
            "tls_server_config:\n  cert_file: nope.pem\n  key_file: server-key.pem\n",
            "nope.pem does not exist",
        ),
        (
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n  cipher_suites: [x]\n",
            "tls_server_config.cipher_suites is not supported",
        ),
        (
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n"
            "  client_allowed_sans: [prometheus]\n",
            "client_allowed_sans needs client_auth_type RequireAndVerifyClientCert",
        ),
        ("basic_auth_user:\n  prometheus: x\n", "unknown key 'basic_auth_user'"),
        ("- a list\n", "must be a mapping"),
    ],
)
def test_each_problem_is_named(ca, body, problem):
    ca.issue("server")
    ca.issue("other")
    with pytest.raises(ValueError, match="web config") as err:
        load_web_config(_write(ca.folder / "web.yml", body))
    assert problem in str(err.value)


def test_settings_list_every_problem_of_the_file_and_refuse_mixing_with_the_old_options(ca):
    config = _write(
        ca.folder / "web.yml",
        "basic_auth_users:\n  a: ''\n  b: plain\ntls_server_config:\n  cert_file: x.pem\n",
    )
    with pytest.raises(ConfigError) as err:
        load_settings(bootstrap_servers="k:9092", web_config_file=config)
    text = str(err.value)
    for problem in (
        "a: the password hash is empty",
        "b: not a bcrypt hash",
        "needs both cert_file and key_file",
    ):
        assert problem in text
    _write(config, f"basic_auth_users:\n  a: {HASH}\n")
    with pytest.raises(ConfigError, match="web_basic_auth_username cannot be combined with web_config_file"):
        load_settings(
            bootstrap_servers="k:9092",
            web_config_file=config,
            web_basic_auth_username="u",
            web_basic_auth_password="p",
        )


async def _serve(settings, store):
    runner = web.AppRunner(build_app(store, settings))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context(settings)).start()
    return runner, port


async def test_bcrypt_users_guard_metrics_and_follow_the_file(tmp_path):
    config = _write(tmp_path / "web.yml", f"basic_auth_users:\n  prometheus: {HASH}\n")
    settings = load_settings(bootstrap_servers="k:9092", web_config_file=config)
    runner, port = await _serve(settings, Store(60))
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:

            async def status(path="/metrics", headers=None):
                async with http.get(url + path, headers=headers) as response:
                    return response.status

            assert await status() == 401
            assert await status(headers=_auth(b"prometheus", b"wrong")) == 401
            assert await status(headers=_auth(b"nobody", b"s3cret")) == 401
            assert await status(headers=_auth(b"prometheus", b"x" * 100)) == 401  # over bcrypt's 72 bytes
            assert await status(headers={"Authorization": "Basic !!notbase64"}) == 401
            assert await status(headers={"Authorization": "Bearer token"}) == 401
            assert await status(headers=_auth(b"prometheus", b"s3cret")) == 200
            assert await status(headers=_auth(b"prometheus", b"s3cret")) == 200  # from the cache
            assert await status("/") == 401
            assert await status("/healthz") == 200
            new = bcrypt.hashpw(b"rotated", bcrypt.gensalt(rounds=4)).decode()
            _write(tmp_path / "web.yml", f"basic_auth_users:\n  prometheus: {new}\n")
            assert await status(headers=_auth(b"prometheus", b"s3cret")) == 401
            assert await status(headers=_auth(b"prometheus", b"rotated")) == 200
            _write(tmp_path / "web.yml", "basic_auth_users:\n  prometheus: ''\n")
            # An invalid rewrite keeps the last good users: it never opens /metrics.
            assert await status() == 401
            assert await status(headers=_auth(b"prometheus", b"rotated")) == 200
    finally:
        await runner.cleanup()


async def _served_serial(port, context):
    async with asyncio.timeout(10):
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    serial = writer.get_extra_info("peercert")["serialNumber"]
    writer.close()
    await writer.wait_closed()
    return serial


def _client(ca, cert=None):
    context = ssl.create_default_context(cafile=ca.cert)
    if cert is not None:
        context.load_cert_chain(cert.cert, cert.key)
    return context


async def test_mtls_requires_a_client_certificate_and_rotated_server_certificates_are_served(ca):
    ca.issue("server")
    config = _write(
        ca.folder / "web.yml",
        """
        tls_server_config:
          cert_file: server.pem
          key_file: server-key.pem
          client_ca_file: test-ca.pem
          client_auth_type: RequireAndVerifyClientCert
        """,
    )
    settings = load_settings(bootstrap_servers="k:9092", web_config_file=config)
    runner, port = await _serve(settings, Store(60))
    url = f"https://127.0.0.1:{port}/metrics"
    scraper = ca.issue("prometheus", client=True)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with http.get(url, ssl=_client(ca, scraper)) as response:
                assert response.status == 200
            first = await _served_serial(port, _client(ca, scraper))
            with pytest.raises(aiohttp.ClientError):
                async with http.get(url, ssl=_client(ca)):
                    pass
            stranger = CertificateAuthority(ca.folder / "stranger", "stranger-ca").issue("p", client=True)
            with pytest.raises(aiohttp.ClientError):
                async with http.get(url, ssl=_client(ca, stranger)):
                    pass
        ca.issue("server")  # cert-manager rewrites both files in place
        assert await _served_serial(port, _client(ca, scraper)) != first
    finally:
        await runner.cleanup()


async def test_secrets_are_neither_exported_nor_on_the_landing_page(tmp_path):
    settings = load_settings(
        bootstrap_servers="k:9092",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="svc",
        sasl_password="kafka-hunter2",
        web_basic_auth_username="prom",
        web_basic_auth_password="web-hunter2",
    )
    runner, port = await _serve(settings, Store(60))
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            for path in ("/", "/metrics", "/healthz", "/readyz"):
                async with http.get(
                    f"http://127.0.0.1:{port}{path}", headers=_auth(b"prom", b"web-hunter2")
                ) as r:
                    body = await r.text()
                assert "hunter2" not in body, path
    finally:
        await runner.cleanup()


async def test_only_clients_whose_certificate_names_an_allowed_san_are_served(ca):
    ca.issue("server")
    config = _write(
        ca.folder / "web.yml",
        """
        tls_server_config:
          cert_file: server.pem
          key_file: server-key.pem
          client_ca_file: test-ca.pem
          client_auth_type: RequireAndVerifyClientCert
          client_allowed_sans: [prometheus.monitoring.svc]
        """,
    )
    settings = load_settings(bootstrap_servers="k:9092", web_config_file=config)
    runner, port = await _serve(settings, Store(60))
    url = f"https://127.0.0.1:{port}/metrics"
    allowed = ca.issue("prometheus", client=True, sans=("prometheus.monitoring.svc",))
    other = ca.issue("someone", client=True, sans=("someone.else.svc",))
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with http.get(url, ssl=_client(ca, allowed)) as response:
                assert response.status == 200
            async with http.get(url, ssl=_client(ca, other)) as response:
                assert response.status == 403
    finally:
        await runner.cleanup()
