"""The secure broker of `databus stack up --secure`: TLS + SASL/SCRAM-SHA-512 on the client
listener, KRaft's StandardAuthorizer with no access unless an ACL grants it, an admin super user.

Secrets (the admin password, the CA key) stay in `<stack_dir>/security`, mode 0600; the admin's
identity for the bus's own tooling is written as a dotenv file (`admin.env`) that clients read
through `DATABUS_KAFKA_ENV_FILE`. Nothing secret is printed or put on a command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from databus.security.client import KafkaSecurity
from databus.security.principals import ADMIN_PRINCIPAL
from databus.security.scram import MECHANISM, new_password, storage_tool_argument
from databus.security.tls import TlsFiles, make_tls, write_private
from databus.stack.launcher import Stack
from databus.stack.parts.kafka import KafkaPart, _server_properties
from databus.stack.state import PartRecord

SECURE_STACK_DIR = Path(".stack-secure")
BROKER_CN = "broker"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def security_dir(stack_dir: Path) -> Path:
    """Where a secure stack keeps its CA, server key store and admin identity."""
    return stack_dir / "security"


def admin_env_file(stack_dir: Path) -> Path:
    """The admin's dotenv file (`DATABUS_KAFKA_*`), for `DATABUS_KAFKA_ENV_FILE`."""
    return security_dir(stack_dir) / "admin.env"


def admin_security(stack_dir: Path) -> KafkaSecurity:
    """The admin identity of the secure stack in `stack_dir`."""
    return KafkaSecurity(_env_file=admin_env_file(stack_dir))


def secure_hint(stack_dir: Path) -> str:
    """How to act as the admin on this stack (a file name, never the secret itself)."""
    return (
        f"secure broker: TLS + SASL/SCRAM-SHA-512, ACLs on; admin identity in "
        f"{admin_env_file(stack_dir)} (mode 0600). For the bus tooling: "
        f"export DATABUS_STACK_DIR={stack_dir} DATABUS_KAFKA_ENV_FILE={admin_env_file(stack_dir)}"
    )


def is_secure(stack_dir: Path) -> bool:
    """Whether `stack_dir` holds a secure stack."""
    return admin_env_file(stack_dir).exists()


def secure_stack(stack_dir: Path, cache_dir: Path) -> Stack:
    """The stack of `stack_dir` with the secure broker in place of the plain one."""
    return Stack(stack_dir, cache_dir, {"kafka": SecureKafkaPart})


def stack_for(stack_dir: Path, cache_dir: Path, *, secure: bool = False) -> Stack:
    """The stack of `stack_dir`: secure if asked or if it was started secure."""
    if secure or is_secure(stack_dir):
        return secure_stack(stack_dir, cache_dir)
    return Stack(stack_dir, cache_dir)


class SecureKafkaPart(KafkaPart):
    """The single-node KRaft broker, with its client listener on SASL_SSL."""

    def __init__(self, stack_dir: Path, cache_dir: Path) -> None:
        super().__init__(stack_dir, cache_dir)
        self.secrets = security_dir(self.stack_dir)
        self.tls = TlsFiles(self.secrets)
        self._password = ""

    def launch(self) -> PartRecord:
        make_tls(self.secrets, common_name=BROKER_CN)
        self._password = new_password()
        env = (
            "DATABUS_KAFKA_SECURITY_PROTOCOL=SASL_SSL\n"
            f"DATABUS_KAFKA_SASL_MECHANISM={MECHANISM}\n"
            f"DATABUS_KAFKA_USERNAME={ADMIN_PRINCIPAL}\n"
            f"DATABUS_KAFKA_PASSWORD={self._password}\n"
            f"DATABUS_KAFKA_CA_FILE={self.tls.ca_cert}\n"
        )
        write_private(admin_env_file(self.stack_dir), env.encode())
        record = super().launch()
        record.extra["secure"] = True
        record.extra["ca_file"] = str(self.tls.ca_cert)
        record.extra["admin_env_file"] = str(admin_env_file(self.stack_dir))
        return record

    def server_properties(self, port: int, controller_port: int) -> str:
        base = _server_properties(port, controller_port, self.run_dir / "data")
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN_PRINCIPAL}" password="{self._password}";'
        )
        secure = {
            "listeners": f"SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"SASL_SSL://127.0.0.1:{port}",
            "listener.security.protocol.map": "CONTROLLER:SSL,SASL_SSL:SASL_SSL",
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.tls.server_store),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.tls.ca_cert),
            # The controller listener takes only the broker's own certificate (mutual TLS).
            "listener.name.controller.ssl.client.auth": "required",
            "authorizer.class.name": AUTHORIZER,
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{ADMIN_PRINCIPAL};User:CN={BROKER_CN}",
        }
        lines = [line for line in base.splitlines() if line.split("=", 1)[0] not in secure]
        text = "".join(f"{line}\n" for line in lines)
        text += "".join(f"{key}={value}\n" for key, value in secure.items())
        props = self.run_dir / "server.properties"
        write_private(props, text.encode())
        return text

    def format_options(self) -> list[str]:
        return ["--add-scram", storage_tool_argument(ADMIN_PRINCIPAL, self._password)]

    def client_config(self, record: PartRecord) -> dict[str, Any]:
        return admin_security(self.stack_dir).librdkafka()
