"""The Kafka source against a real broker with SASL_SSL and mTLS listeners, StandardAuthorizer and ACLs."""

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from broker_lag_exporter.app import build_registry
from broker_lag_exporter.config.settings import ConfigError, load_settings
from broker_lag_exporter.join.lag import join
from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.sources.kafka import KafkaSource
from broker_lag_exporter.store import Store
from harness.certs import CertificateAuthority
from harness.exporter import ExporterProcess
from harness.kafka.secure import SecuredKafka, unsecured_token
from harness.process import free_port

pytestmark = pytest.mark.kafka

PASSWORD = "exp0rter-pa55"
USER = "exporter"
# The least-privilege grant documented in docs/security.md.
LEAST_PRIVILEGE = (({"topic": "*"}, ("Describe", "DescribeConfigs")), ({"group": "*"}, ("Describe",)))


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredKafka]:
    """One broker, its topics and groups, and the least-privilege ACLs for the exporter's principals."""
    workdir = tmp_path_factory.mktemp("secured")
    with SecuredKafka.start_secured(workdir, users={USER: PASSWORD}) as kafka:
        kafka.create_topic("sec-orders", partitions=3)
        for partition in range(3):
            kafka.produce("sec-orders", 30, partition=partition)
        kafka.commit_offsets("sec-billing", {("sec-orders", p): 5 * p for p in range(3)})
        kafka.commit_offsets("sec-audit", {("sec-orders", 1): 2})
        for principal in (f"User:{USER}", f"User:CN={USER}"):
            for resource, operations in LEAST_PRIVILEGE:
                kafka.allow(principal, *operations, **resource)
        yield kafka


def _settings(kafka: SecuredKafka, **options: Any) -> Any:
    defaults: dict[str, Any] = {"security_protocol": "SASL_SSL", "ssl_cafile": kafka.pki.cert}
    servers = kafka.ssl if options.get("security_protocol") == "SSL" else kafka.sasl_ssl
    return load_settings(bootstrap_servers=servers, group_allow="sec-.*", **(defaults | options))


async def _collect(kafka: SecuredKafka, **options: Any) -> Any:
    s = _settings(kafka, **options)
    source = KafkaSource(s.kafka, s.poll, s.export)
    try:
        return await source.collect()
    finally:
        await source.close()


async def _error(kafka: SecuredKafka, **options: Any) -> str:
    with pytest.raises(SourceError) as err:
        await _collect(kafka, **options)
    return str(err.value)


def _client_cert(kafka: SecuredKafka, **issue: Any) -> dict[str, Path]:
    issued = kafka.pki.issue(USER, client=True, **issue)
    return {"ssl_certfile": issued.cert, "ssl_keyfile": issued.key}


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "mTLS"])
async def test_lag_equals_the_oracle_through_each_mechanism_with_least_privilege(secured, mechanism):
    if mechanism == "mTLS":
        options: dict[str, Any] = {"security_protocol": "SSL", **_client_cert(secured, password="k3y")}
        options["ssl_keyfile_password"] = "k3y"
    else:
        options = {"sasl_mechanism": mechanism, "sasl_username": USER, "sasl_password": PASSWORD}
    snapshot = await _collect(secured, **options)
    oracle = await asyncio.to_thread(secured.describe_groups)
    theirs = {(r.group, r.topic, r.partition): r.lag for r in oracle if r.group.startswith("sec-")}
    ours = {(r.group, r.topic, r.partition): r.lag for r in join(snapshot, per_partition=True).partition_lag}
    assert ours == {k: v for k, v in theirs.items() if v is not None}
    assert sum(ours.values()) == (30 - 0) + (30 - 5) + (30 - 10) + (30 - 2)
    assert snapshot.errors == {}


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
async def test_a_wrong_password_is_one_error_naming_mechanism_and_broker(secured, mechanism):
    s = _settings(secured, sasl_mechanism=mechanism, sasl_username=USER, sasl_password="wrong-pa55")
    source = KafkaSource(s.kafka, s.poll, s.export)
    try:
        with pytest.raises(SourceError) as first:
            await source.collect()
        text = str(first.value)
        assert text.startswith(
            f"SASL {mechanism} authentication as 'exporter' rejected by broker {secured.sasl_ssl}"
        )
        assert "wrong-pa55" not in text
        # Backing off: the next poll repeats the error (logged once) without logging in again.
        with pytest.raises(SourceError) as second:
            await source.collect()
        assert str(second.value) == text
    finally:
        await source.close()


async def test_a_wrong_ca_names_the_untrusted_broker(secured, tmp_path):
    stranger = CertificateAuthority(tmp_path / "stranger", "stranger-ca")
    text = await _error(
        secured, ssl_cafile=stranger.cert, sasl_mechanism="PLAIN", sasl_username=USER, sasl_password=PASSWORD
    )
    assert text == (
        f"TLS to broker {secured.sasl_ssl}: its certificate is not trusted: unable to get local issuer "
        "certificate (check ssl_cafile and the broker's certificate)"
    )


async def test_the_server_hostname_override_is_verified(secured):
    login = {"sasl_mechanism": "PLAIN", "sasl_username": USER, "sasl_password": PASSWORD}
    assert (await _collect(secured, ssl_server_hostname="localhost", **login)).groups
    text = await _error(secured, ssl_server_hostname="kafka.example.com", **login)
    assert "its certificate is not trusted for name 'kafka.example.com': Hostname mismatch" in text


async def test_skip_verify_connects_to_a_broker_of_an_unknown_ca(secured, tmp_path):
    stranger = CertificateAuthority(tmp_path / "stranger", "stranger-ca")
    snapshot = await _collect(
        secured,
        ssl_cafile=stranger.cert,
        ssl_insecure_skip_verify=True,
        sasl_mechanism="PLAIN",
        sasl_username=USER,
        sasl_password=PASSWORD,
    )
    assert {g.name for g in snapshot.groups} == {"sec-billing", "sec-audit"}


async def test_an_expired_client_certificate_is_named_at_start_and_when_it_expires_later(secured):
    cert = _client_cert(secured)
    s = _settings(secured, security_protocol="SSL", **cert)
    source = KafkaSource(s.kafka, s.poll, s.export)
    try:
        # cert-manager failed to renew: the files now hold an expired certificate.
        expired = secured.pki.issue(USER, client=True, expired=True)
        assert (expired.cert, expired.key) == (cert["ssl_certfile"], cert["ssl_keyfile"])
        with pytest.raises(SourceError) as err:
            await source.collect()
    finally:
        await source.close()
    assert str(err.value).startswith(f"TLS to broker {secured.ssl} failed: sslv3 alert certificate unknown")
    assert f"our client certificate ssl_certfile {expired.cert} expired on " in str(err.value)
    with pytest.raises(ConfigError, match=f"ssl_certfile {expired.cert} expired on "):
        _settings(secured, security_protocol="SSL", **cert)


async def test_a_client_certificate_of_another_ca_is_named(secured, tmp_path):
    stranger = CertificateAuthority(tmp_path / "stranger", "stranger-ca").issue(USER, client=True)
    text = await _error(
        secured, security_protocol="SSL", ssl_certfile=stranger.cert, ssl_keyfile=stranger.key
    )
    assert text == (
        f"TLS to broker {secured.ssl} failed: sslv3 alert certificate unknown (the broker rejected our "
        f"client certificate ssl_certfile {stranger.cert}: is its CA in the broker's truststore?)"
    )


async def test_oauthbearer_with_a_token_file_equals_the_oracle_and_an_expired_token_is_named(
    secured, tmp_path
):
    token = tmp_path / "token"
    token.write_text(unsecured_token(USER))
    snapshot = await _collect(secured, sasl_mechanism="OAUTHBEARER", sasl_oauth_token_file=token)
    oracle = await asyncio.to_thread(secured.describe_groups)
    lag = {(r.group, r.topic, r.partition): r.lag for r in join(snapshot, per_partition=True).partition_lag}
    assert lag == {(r.group, r.topic, r.partition): r.lag for r in oracle if r.group.startswith("sec-")}
    token.write_text(unsecured_token(USER, lifetime=-60))
    text = await _error(secured, sasl_mechanism="OAUTHBEARER", sasl_oauth_token_file=token)
    broker = secured.sasl_ssl
    assert text.startswith(
        f"OAUTHBEARER login to broker {broker}: the token in sasl_oauth_token_file {token} expired"
    )


async def test_oauthbearer_with_client_credentials_equals_the_oracle(secured):
    issued = []

    async def issue(request: web.Request) -> web.Response:
        form = await request.post()
        issued.append((request.headers.get("Authorization"), form.get("grant_type")))
        return web.json_response({"access_token": unsecured_token(USER), "expires_in": 3600})

    app = web.Application()
    app.router.add_post("/oauth2/token", issue)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        snapshot = await _collect(
            secured,
            sasl_mechanism="OAUTHBEARER",
            sasl_oauth_token_url=f"http://127.0.0.1:{port}/oauth2/token",
            sasl_oauth_client_id="exporter-client",
            sasl_oauth_client_secret="cl1ent-s3cret",
        )
    finally:
        await runner.cleanup()
    assert len(issued) == 1  # one token shared by every connection of the poll
    assert issued[0][1] == "client_credentials"
    oracle = await asyncio.to_thread(secured.describe_groups)
    lag = {(r.group, r.topic, r.partition): r.lag for r in join(snapshot, per_partition=True).partition_lag}
    assert lag == {(r.group, r.topic, r.partition): r.lag for r in oracle if r.group.startswith("sec-")}


@pytest.mark.parametrize(
    ("operation", "resource"),
    [("Describe", "topic"), ("DescribeConfigs", "topic"), ("Describe", "group")],
)
async def test_removing_one_acl_makes_the_exporter_name_it(secured, operation, resource):
    login = {"sasl_mechanism": "SCRAM-SHA-512", "sasl_username": USER, "sasl_password": PASSWORD}
    s = _settings(secured, **login)
    secured.revoke(f"User:{USER}", operation, **{resource: "*"})
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            # StandardAuthorizer applies an ACL change once the broker has the new metadata.
            source = KafkaSource(s.kafka, s.poll, s.export)
            try:
                with capture_logs() as logs:
                    await source.collect()
                    # Topic configs are read in the background: the next poll sees how that went.
                    await source.topic_configs_settled()
                    snapshot = await source.collect()
            finally:
                await source.close()
            if snapshot.missing_acls or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)
        assert snapshot.missing_acls == {(operation, resource)}
        if operation == "DescribeConfigs":
            # Denied configs cost the topic checks only: lag is whole, the poll did not fail.
            assert snapshot.topic_configs == {}
            assert snapshot.errors_total["describe_configs"] >= 1
            assert {g.name for g in snapshot.groups} == {"sec-billing", "sec-audit"}
            assert all(snapshot.end_offsets["sec-orders", p] == 30 for p in range(3))
        warning = next(e for e in logs if e["event"] == "kafka ACLs missing")
        assert warning["problem"] == (
            f"the brokers deny User:{USER} {operation} on {resource}s: grant with kafka-acls --add "
            f"--allow-principal <principal> --operation {operation} --{resource} '*' "
            "(docs/security.md#least-privilege-acls)"
        )
        store = Store(60)
        store.record_success("kafka", snapshot, 0.1)
        registry = build_registry(store, s)
        labels = {"operation": operation, "resource": resource}
        assert registry.get_sample_value("broker_lag_exporter_kafka_acl_missing", labels) == 1
    finally:
        secured.allow(f"User:{USER}", operation, **{resource: "*"})
    # With the grant back, nothing is missing (and the figures are whole again).
    snapshot = await _collect(secured, **login)
    assert snapshot.missing_acls == frozenset()


async def test_a_broker_with_an_expired_certificate_is_named(tmp_path):
    with SecuredKafka.start_secured(tmp_path, users={USER: PASSWORD}, expired_certificate=True) as kafka:
        text = await _error(kafka, sasl_mechanism="PLAIN", sasl_username=USER, sasl_password=PASSWORD)
        assert text == (
            f"TLS to broker {kafka.sasl_ssl}: its certificate is not trusted: certificate has expired "
            "(check ssl_cafile and the broker's certificate)"
        )


async def test_new_connections_use_rotated_client_certificate_files(secured):
    first = secured.pki.issue("rotating", client=True)
    for resource, operations in LEAST_PRIVILEGE:
        secured.allow("User:CN=rotating", *operations, **resource)
    s = _settings(secured, security_protocol="SSL", ssl_certfile=first.cert, ssl_keyfile=first.key)
    source = KafkaSource(s.kafka, s.poll, s.export)
    try:
        assert {g.name for g in (await source.collect()).groups} == {"sec-billing", "sec-audit"}
        # cert-manager rewrites the same files: now a certificate of a principal without any ACL.
        other = secured.pki.issue("rotated-elsewhere", client=True)
        shutil.copy(other.cert, first.cert)
        shutil.copy(other.key, first.key)
        secured.restart(0)  # every connection is dropped; the same client connects again
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            try:
                snapshot = await source.collect()
            except SourceError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.5)
            else:
                break
        # The brokers now see User:CN=rotated-elsewhere, so the new files were read.
        assert snapshot.missing_acls == {("Describe", "topic"), ("Describe", "group")}
    finally:
        await source.close()


def test_the_served_exporter_logs_in_with_secrets_from_files_and_never_shows_them(secured, tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "BROKER_LAG_SASL_USERNAME").write_text(USER)
    (secrets / "BROKER_LAG_SASL_PASSWORD").write_text(PASSWORD + "\n")
    env = {
        "BROKER_LAG_SECURITY_PROTOCOL": "SASL_SSL",
        "BROKER_LAG_SASL_MECHANISM": "SCRAM-SHA-512",
        "BROKER_LAG_SSL_CAFILE": str(secured.pki.cert),
        "BROKER_LAG_GROUP_ALLOW": "sec-.*",
    }
    with ExporterProcess.start(
        tmp_path / "exporter",
        bootstrap_servers=secured.sasl_ssl,
        args=["--secrets-dir", str(secrets)],
        env=env,
    ) as exporter:
        status, body = exporter.get("/metrics")
        landing = exporter.get("/")[1]
    text = body.decode()
    assert status == 200
    assert 'kafka_group_lag_messages{group="sec-billing"}' in text
    assert 'broker_lag_exporter_kafka_acl_missing{operation="Describe",resource="group"} 0.0' in text
    for shown in (text, landing.decode(), exporter.log_tail(400)):
        assert PASSWORD not in shown
