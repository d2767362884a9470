"""How every Kafka client of the bus authenticates: one place adds the security keys.

The identity comes from `DATABUS_KAFKA_*` environment variables (or a dotenv file named by
`DATABUS_KAFKA_ENV_FILE`, mode 0600, e.g. the one `databus stack up --secure` writes), never
from the topology. The password is a `SecretStr`: it is never part of a repr, a log line or an
error message; errors name the principal only.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    import faust

ENV_FILE_VARIABLE = "DATABUS_KAFKA_ENV_FILE"
AUTH_ERROR_NAMES = frozenset({"_AUTHENTICATION", "SASL_AUTHENTICATION_FAILED"})


class KafkaAuthenticationError(RuntimeError):
    """The broker refused our credentials; the message names the principal, never the secret."""


class KafkaSecurity(BaseSettings):
    """The Kafka identity and trust of one process. Every field maps to `DATABUS_KAFKA_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="DATABUS_KAFKA_", extra="ignore")

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    ca_file: Path | None = None

    @classmethod
    def from_env(cls) -> KafkaSecurity:
        """The process's identity: the environment, then `DATABUS_KAFKA_ENV_FILE` if set."""
        env_file = os.environ.get(ENV_FILE_VARIABLE)
        return cls(_env_file=env_file) if env_file else cls()

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in {"SSL", "SASL_SSL"}

    @property
    def principal(self) -> str:
        """Who we authenticate as (for messages), `ANONYMOUS` without SASL."""
        return self.username if self.uses_sasl and self.username else "ANONYMOUS"

    def secret(self) -> str:
        """The password, from `password` or `password_file`; only for handing to a client."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            return self.password_file.read_text().strip()
        raise KafkaAuthenticationError(
            f"no password for Kafka principal {self.username!r}: set DATABUS_KAFKA_PASSWORD "
            "or DATABUS_KAFKA_PASSWORD_FILE"
        )

    def librdkafka(self) -> dict[str, Any]:
        """The keys a confluent-kafka producer, consumer or admin client needs."""
        if self.security_protocol == "PLAINTEXT":
            return {}
        conf: dict[str, Any] = {"security.protocol": self.security_protocol.lower()}
        if self.uses_sasl:
            if not self.username:
                raise KafkaAuthenticationError(
                    f"{self.security_protocol} needs a principal: set DATABUS_KAFKA_USERNAME"
                )
            conf |= {
                "sasl.mechanism": self.sasl_mechanism,
                "sasl.username": self.username,
                "sasl.password": self.secret(),
            }
        if self.uses_tls and self.ca_file is not None:
            conf["ssl.ca.location"] = str(self.ca_file)
        return conf

    def ssl_context(self) -> ssl.SSLContext | None:
        """A verifying TLS context trusting `ca_file` (system roots without it), or None."""
        if not self.uses_tls:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)

    def faust_credentials(self) -> faust.types.auth.CredentialsT | None:
        """`broker_credentials` for a faust app on the aiokafka driver, or None for PLAINTEXT."""
        if self.security_protocol == "PLAINTEXT":
            return None
        import faust

        context = self.ssl_context()
        if not self.uses_sasl:
            return faust.SSLCredentials(context)
        return faust.SASLCredentials(
            username=self.username,
            password=self.secret(),
            ssl_context=context,
            mechanism=self.sasl_mechanism,
        )

    def __repr__(self) -> str:
        return f"KafkaSecurity({self.security_protocol}, principal={self.principal!r})"

    __str__ = __repr__


def secured(config: dict[str, Any], security: KafkaSecurity | None = None) -> dict[str, Any]:
    """`config` plus the security keys of `security` (default: this process's identity).

    An authentication failure reported by the client raises `KafkaAuthenticationError` from the
    next poll/flush (fail fast, naming the principal), after any `error_cb` already configured.
    """
    security = security or KafkaSecurity.from_env()
    if "security.protocol" in config:
        return config  # secured already
    extra = security.librdkafka()
    if not extra:
        return config
    out = {**config, **extra}
    out["error_cb"] = _fail_on_auth_error(security.principal, config.get("error_cb"))
    return out


def _fail_on_auth_error(
    principal: str, chained: Callable[[Any], None] | None
) -> Callable[[Any], None]:
    def on_error(error: Any) -> None:
        if chained is not None:
            chained(error)
        if error.name() in AUTH_ERROR_NAMES:
            raise KafkaAuthenticationError(
                f"Kafka refused principal {principal!r}: authentication failed "
                "(check its password and mechanism)"
            )

    return on_error


def check_login(bootstrap: str, security: KafkaSecurity | None = None, timeout: float = 15) -> None:
    """Authenticate once now; `KafkaAuthenticationError` naming the principal if refused."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    security = security or KafkaSecurity.from_env()
    if not security.uses_sasl:
        return
    admin = AdminClient(secured({"bootstrap.servers": bootstrap}, security))
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin.list_topics(timeout=max(1.0, min(5.0, deadline - time.monotonic())))
            return
        except KafkaException:
            admin.poll(0.5)  # serves error_cb, which raises on refused credentials
            if time.monotonic() >= deadline:
                raise
