"""A KRaft broker with SASL_SSL and mTLS listeners, StandardAuthorizer and ACLs; certificates made by tests.

Usage::

    with SecuredKafka.start(tmp_path, users={"exporter": "pw"}) as kafka:
        kafka.allow("User:exporter", "Describe", topic="*")
        kafka.sasl_ssl          # 127.0.0.1:<port>: PLAIN, SCRAM-SHA-256/512, OAUTHBEARER (unsecured JWS)
        kafka.ssl               # 127.0.0.1:<port>: mTLS, principal User:CN=<client cert CN>
        kafka.pki.cert          # the CA that signs the broker's certificate

The PLAINTEXT listener of :class:`KafkaCluster` stays for the harness itself (topic creation,
the oracle tools): its principal ``User:ANONYMOUS`` is a super user, so the ACLs under test
only bind the principals the exporter logs in as.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from harness.certs import CertificateAuthority
from harness.kafka.cluster import KafkaCluster, _Node
from harness.process import free_ports

MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
_PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
_SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
_OAUTH = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"


@dataclass(frozen=True)
class _Secure:
    pki: CertificateAuthority
    keystore: Path
    users: Mapping[str, str] = field(repr=False)
    sasl_port: int = 0
    ssl_port: int = 0


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class SecuredKafka(KafkaCluster):
    """A one-node KRaft cluster that also listens with SASL_SSL and SSL (client certificates required)."""

    secure: ClassVar[_Secure]

    @classmethod
    def start_secured(
        cls,
        workdir: Path,
        *,
        users: Mapping[str, str],
        expired_certificate: bool = False,
        timeout: float = 120.0,
    ) -> SecuredKafka:
        """Make a CA and the broker's certificate (expired if asked), start the broker, add SCRAM users."""
        pki = CertificateAuthority(workdir / "pki", "kafka-ca")
        broker = pki.issue("broker", expired=expired_certificate)
        keystore = pki.folder / "broker-keystore.pem"
        keystore.write_bytes(broker.key.read_bytes() + broker.cert.read_bytes())
        sasl_port, ssl_port = free_ports(2)
        config = _Secure(pki, keystore, dict(users), sasl_port, ssl_port)
        # A class per cluster: KafkaCluster.start builds instances itself, before any attribute could be set.
        kind: type[SecuredKafka] = type("SecuredKafka", (cls,), {"secure": config})
        cluster = kind.start(1, workdir=workdir / "kafka", timeout=timeout)
        if not isinstance(cluster, SecuredKafka):
            raise TypeError(cluster)
        for user, password in users.items():
            cluster.set_scram_password(user, password)
        return cluster

    def _server_properties(self, node: _Node, overrides: Mapping[str, str]) -> dict[str, str]:
        props = super()._server_properties(node, overrides)
        s = self.secure
        extra = f"SASL_SSL://127.0.0.1:{s.sasl_port},SSL://127.0.0.1:{s.ssl_port}"
        plain_users = " ".join(f"user_{u}={_quoted(p)}" for u, p in s.users.items())
        prefix = "listener.name.sasl_ssl"
        props |= {
            "listeners": f"{props['listeners']},{extra}",
            "advertised.listeners": f"{props['advertised.listeners']},{extra}",
            "listener.security.protocol.map": f"{props['listener.security.protocol.map']},"
            "SASL_SSL:SASL_SSL,SSL:SSL",
            "sasl.enabled.mechanisms": ",".join(MECHANISMS),
            f"{prefix}.plain.sasl.jaas.config": f"{_PLAIN} required {plain_users};",
            f"{prefix}.scram-sha-256.sasl.jaas.config": f"{_SCRAM} required;",
            f"{prefix}.scram-sha-512.sasl.jaas.config": f"{_SCRAM} required;",
            # No validator configured: Kafka's unsecured JWS validator checks the unsigned tokens.
            f"{prefix}.oauthbearer.sasl.jaas.config": f"{_OAUTH} required;",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(s.keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(s.pki.cert),
            "listener.name.ssl.ssl.client.auth": "required",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:ANONYMOUS",
            "allow.everyone.if.no.acl.found": "false",
        }
        return props

    @property
    def pki(self) -> CertificateAuthority:
        """The CA that signs the broker's certificate (and the clients' in tests)."""
        return self.secure.pki

    @property
    def sasl_ssl(self) -> str:
        """``127.0.0.1:<port>`` of the SASL_SSL listener."""
        return f"127.0.0.1:{self.secure.sasl_port}"

    @property
    def ssl(self) -> str:
        """``127.0.0.1:<port>`` of the SSL listener (client certificate required)."""
        return f"127.0.0.1:{self.secure.ssl_port}"

    def set_scram_password(self, user: str, password: str) -> None:
        """Create or change a user's SCRAM-SHA-256 and -512 credentials (kafka-configs, one call each)."""
        for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
            self.run_tool(
                "kafka.admin.ConfigCommand",
                "--bootstrap-server",
                self.bootstrap_servers,
                "--alter",
                "--add-config",
                f"{mechanism}=[password={password}]",
                "--entity-type",
                "users",
                "--entity-name",
                user,
            )

    def _acl(self, action: str, principal: str, operations: tuple[str, ...], resource: list[str]) -> None:
        ops = [arg for op in operations for arg in ("--operation", op)]
        self.run_tool(
            "org.apache.kafka.tools.AclCommand",
            "--bootstrap-server",
            self.bootstrap_servers,
            action,
            "--allow-principal",
            principal,
            *ops,
            *resource,
            *(["--force"] if action == "--remove" else []),
        )

    def allow(
        self, principal: str, *operations: str, topic: str | None = None, group: str | None = None
    ) -> None:
        """Add an allow ACL on a topic or group (``*`` for all), or on the cluster without either."""
        self._acl("--add", principal, operations, _resource(topic, group))

    def revoke(
        self, principal: str, *operations: str, topic: str | None = None, group: str | None = None
    ) -> None:
        """Remove an allow ACL added by :meth:`allow`."""
        self._acl("--remove", principal, operations, _resource(topic, group))


def _resource(topic: str | None, group: str | None) -> list[str]:
    if topic is not None:
        return ["--topic", topic]
    if group is not None:
        return ["--group", group]
    return ["--cluster"]


def unsecured_token(principal: str, lifetime: float = 3600.0) -> str:
    """Return an unsigned JWS (``alg: none``) that Kafka's unsecured validator accepts for the principal."""

    def part(data: Mapping[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    return f"{part({'alg': 'none'})}.{part({'sub': principal, 'iat': now, 'exp': now + int(lifetime)})}."


__all__ = ["MECHANISMS", "SecuredKafka", "unsecured_token"]
