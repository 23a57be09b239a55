"""Kafka SASL: mechanisms checked at start, secrets from files, token file, client credentials, MSK IAM."""

import asyncio
import base64
import os
import subprocess
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from broker_lag_exporter.cli import main
from broker_lag_exporter.config.settings import ConfigError, load_settings
from broker_lag_exporter.sources.kafka.auth import (
    ClientCredentialsTokenProvider,
    FileTokenProvider,
    MskIamTokenProvider,
    TokenError,
    sasl_options,
)
from broker_lag_exporter.sources.kafka.client import _client_options
from harness.kafka.secure import unsecured_token
from harness.process import free_port

SASL: dict[str, Any] = {"bootstrap_servers": "k:9093", "security_protocol": "SASL_SSL"}


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (
            {"sasl_mechanism": "OAUTHBEARER"},
            "OAUTHBEARER needs either sasl_oauth_token_file or sasl_oauth_token_url",
        ),
        (
            {
                "sasl_mechanism": "OAUTHBEARER",
                "sasl_oauth_token_file": "t",
                "sasl_oauth_token_url": "https://idp/t",
            },
            "(not both)",
        ),
        (
            {
                "sasl_mechanism": "OAUTHBEARER",
                "sasl_oauth_token_url": "https://idp/t",
                "sasl_oauth_client_id": "x",
            },
            "sasl_oauth_token_url, sasl_oauth_client_id and sasl_oauth_client_secret go together",
        ),
        (
            {"sasl_mechanism": "GSSAPI"},
            "GSSAPI needs the gssapi package: pip install 'broker-lag-exporter[gssapi]'",
        ),
        ({"sasl_mechanism": "AWS_MSK_IAM"}, "AWS_MSK_IAM needs sasl_aws_region"),
        (
            {
                "sasl_mechanism": "AWS_MSK_IAM",
                "sasl_aws_region": "eu-west-1",
                "security_protocol": "SASL_PLAINTEXT",
            },
            "AWS_MSK_IAM needs security_protocol SASL_SSL",
        ),
        (
            {"sasl_mechanism": "PLAIN", "security_protocol": "SSL"},
            "sasl_mechanism PLAIN needs security_protocol SASL_SSL or SASL_PLAINTEXT",
        ),
        ({"sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "u"}, "SASL needs sasl_mechanism"),
    ],
)
def test_each_mechanism_is_checked_complete_at_start(options, problem):
    with pytest.raises(ConfigError) as err:
        load_settings(**(SASL | options))
    assert problem in str(err.value)


def test_secrets_are_read_from_files_without_the_trailing_newline(tmp_path):
    (tmp_path / "password").write_text("hunter2\n")
    s = load_settings(
        **SASL, sasl_mechanism="PLAIN", sasl_username="u", sasl_password_file=tmp_path / "password"
    )
    assert s.kafka.sasl_password is not None
    assert s.kafka.sasl_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(s)


def test_secret_files_list_every_problem_and_an_empty_one_never_opens_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("BROKER_LAG_SASL_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError) as err:
        load_settings(
            **SASL,
            sasl_mechanism="PLAIN",
            sasl_username="u",
            ssl_keyfile_password="a",
            ssl_keyfile_password_file=tmp_path,
        )
    text = str(err.value)
    assert f"sasl_password_file {tmp_path}/missing cannot be read: No such file or directory" in text
    assert "ssl_keyfile_password and ssl_keyfile_password_file cannot both be set" in text
    monkeypatch.delenv("BROKER_LAG_SASL_PASSWORD_FILE")
    (tmp_path / "empty").write_text("")
    with pytest.raises(ConfigError, match="web_basic_auth_password must not be empty"):
        load_settings(
            bootstrap_servers="k:9092",
            web_basic_auth_username="prom",
            web_basic_auth_password_file=tmp_path / "empty",
        )


def test_a_secrets_folder_fills_options_below_the_environment(tmp_path, monkeypatch):
    (tmp_path / "BROKER_LAG_SASL_PASSWORD").write_text("from-secret")
    (tmp_path / "BROKER_LAG_SASL_USERNAME").write_text("svc")
    s = load_settings(**SASL, sasl_mechanism="PLAIN", secrets_dir=tmp_path)
    assert s.kafka.sasl_password is not None
    assert (s.kafka.sasl_username, s.kafka.sasl_password.get_secret_value()) == ("svc", "from-secret")
    monkeypatch.setenv("BROKER_LAG_SASL_USERNAME", "from-env")
    assert load_settings(**SASL, sasl_mechanism="PLAIN", secrets_dir=tmp_path).sasl_username == "from-env"
    with pytest.raises(ConfigError, match=r"secrets folder .* does not exist"):
        load_settings(**SASL, secrets_dir=tmp_path / "nope")


def test_secrets_set_in_the_environment_are_not_in_help():
    env = {
        **os.environ,
        "BROKER_LAG_SASL_PASSWORD": "hunter2",
        "BROKER_LAG_SASL_OAUTH_CLIENT_SECRET": "s3cr3t",
    }
    out = subprocess.run(
        [sys.executable, "-m", "broker_lag_exporter", "serve", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    assert "--sasl-oauth-client-secret-file" in out
    assert "hunter2" not in out
    assert "s3cr3t" not in out


def test_gssapi_options_carry_the_kerberos_names():
    # The gssapi package is not installed here; what aiokafka receives can still be checked.
    gssapi = {
        "sasl_mechanism": "GSSAPI",
        "sasl_kerberos_service_name": "kafka-prod",
        "sasl_kerberos_domain_name": "kafka.corp.example",
    }
    options = load_settings(bootstrap_servers="k:9093").kafka.model_copy(
        update={"security_protocol": "SASL_SSL", **gssapi}
    )
    assert sasl_options(options, 10) == {
        "sasl_mechanism": "GSSAPI",
        "sasl_kerberos_service_name": "kafka-prod",
        "sasl_kerberos_domain_name": "kafka.corp.example",
    }


async def test_a_token_file_is_reread_when_it_changes(tmp_path):
    token = tmp_path / "token"
    token.write_text("first\n")
    s = load_settings(**SASL, sasl_mechanism="OAUTHBEARER", sasl_oauth_token_file=token)
    options = _client_options(s.kafka, 10, 30)
    provider = options["sasl_oauth_token_provider"]
    assert (options["sasl_mechanism"], isinstance(provider, FileTokenProvider)) == ("OAUTHBEARER", True)
    assert await provider.token() == "first"
    token.write_text("second-and-longer\n")
    assert await provider.token() == "second-and-longer"
    token.write_text("")
    with pytest.raises(TokenError, match=f"sasl_oauth_token_file {token} is empty"):
        await provider.token()
    token.write_text(unsecured_token("exporter", lifetime=-60))
    with pytest.raises(TokenError, match=f"the token in sasl_oauth_token_file {token} expired at 20"):
        await provider.token()


@pytest.fixture
async def token_endpoint():
    """A loopback token endpoint for the client-credentials grant that records each request."""
    seen: list[dict[str, str]] = []
    behaviour = {"status": 200, "expires_in": 600, "delay": 0.0}

    async def issue(request: web.Request) -> web.Response:
        form = dict(await request.post())
        seen.append(
            {"auth": request.headers.get("Authorization", ""), **{k: str(v) for k, v in form.items()}}
        )
        if behaviour["delay"]:
            await asyncio.sleep(behaviour["delay"])
        if behaviour["status"] != 200:
            return web.json_response(
                {"error": "invalid_client", "error_description": "bad secret"}, status=401
            )
        return web.json_response(
            {"access_token": f"token-{len(seen)}", "expires_in": behaviour["expires_in"]}
        )

    app = web.Application()
    app.router.add_post("/token", issue)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/token", seen, behaviour
    await runner.cleanup()


async def test_client_credentials_are_exchanged_once_and_renewed_before_expiry(token_endpoint):
    url, seen, _ = token_endpoint
    now = [1000.0]
    provider = ClientCredentialsTokenProvider(
        url, "exporter", "s3cr3t", "kafka", deadline=5, clock=lambda: now[0]
    )
    assert list(await asyncio.gather(provider.token(), provider.token())) == ["token-1", "token-1"]
    assert seen == [
        {
            "auth": "Basic " + base64.b64encode(b"exporter:s3cr3t").decode(),
            "grant_type": "client_credentials",
            "scope": "kafka",
        }
    ]
    now[0] += 539
    assert await provider.token() == "token-1"
    now[0] += 1  # a minute before the 600 s lifetime ends
    assert await provider.token() == "token-2"


async def test_a_refused_or_slow_token_endpoint_is_one_clear_error(token_endpoint):
    url, _, behaviour = token_endpoint
    behaviour["status"] = 401
    provider = ClientCredentialsTokenProvider(url, "exporter", "s3cr3t", None, deadline=2)
    with pytest.raises(TokenError) as err:
        await provider.token()
    assert str(err.value) == f"token endpoint {url} refused the client credentials: HTTP 401 invalid_client"
    behaviour["status"], behaviour["delay"] = 200, 5.0
    with pytest.raises(TokenError, match=f"token endpoint {url} gave no answer within 0.5 s"):
        await ClientCredentialsTokenProvider(url, "exporter", "s3cr3t", None, deadline=0.5).token()


async def test_msk_iam_tokens_are_signed_urls_for_the_region(monkeypatch):
    # Static credentials in the environment: the standard chain finds them first, signing is local.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    s = load_settings(**SASL, sasl_mechanism="AWS_MSK_IAM", sasl_aws_region="eu-west-1")
    options = _client_options(s.kafka, 10, 30)
    assert options["sasl_mechanism"] == "OAUTHBEARER"
    provider = options["sasl_oauth_token_provider"]
    assert isinstance(provider, MskIamTokenProvider)
    token = await provider.token()
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.netloc == "kafka.eu-west-1.amazonaws.com"
    assert query["Action"] == ["kafka-cluster:Connect"]
    assert query["X-Amz-Credential"][0].startswith("AKIDEXAMPLE/")
    assert "/eu-west-1/kafka-cluster/aws4_request" in query["X-Amz-Credential"][0]
    assert "wJalrXUtnFEMI" not in url
    assert await provider.token() == token  # reused until a minute before it expires


def test_the_command_line_reads_a_secrets_folder(tmp_path, capsys):
    (tmp_path / "BROKER_LAG_SASL_PASSWORD").write_text("from-the-folder")
    (tmp_path / "BROKER_LAG_SHARD_INDEX").write_text("3")
    code = main(["once", "--secrets-dir", str(tmp_path), "--bootstrap-servers", "k:9092"])
    err = capsys.readouterr().err
    # The folder's values reached the settings: the bad shard index is reported, the password is not.
    assert code == 2
    assert "shard_index must be below shard_count" in err
    assert "from-the-folder" not in err
