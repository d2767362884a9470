"""Signed events (DESIGN.md §8): each source agency signs what it publishes with Ed25519, so that
nobody with access to the broker can forge a birth or a death.

The signature covers the topic, the key, the value bytes and the event id (length-prefixed, so
no two inputs share a message) and travels in two headers with the signing key's id. Public keys
are in the topology (at most two active per agency, for rotation); private keys come from the
agency's secrets (`DATABUS_SIGNING_KEY_FILE`, `DATABUS_SIGNING_KEY_ID`), never from the topology.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from databus.security.tls import write_private

if TYPE_CHECKING:
    from databus.settings import Settings
    from databus.topology.model import Topology

H_SIGNATURE: Final = "databus-signature"
H_KEY_ID: Final = "databus-signing-key"
H_EVENT_ID: Final = "event_id"
BAD_SIGNATURE: Final = "bad_signature"
_DOMAIN: Final = b"databus-event-signature-v1"

SignaturePolicy = Literal["required", "optional"]
Headers = Sequence[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None] | None


def _bytes(value: str | bytes | None) -> bytes:
    if value is None:
        return b""
    return value.encode() if isinstance(value, str) else bytes(value)


def signed_message(
    topic: str, key: str | bytes | None, value: bytes | None, event_id: str
) -> bytes:
    """The exact bytes an agency signs for one record."""
    parts = (_DOMAIN, topic.encode(), _bytes(key), _bytes(value), event_id.encode())
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


def header(headers: Headers, name: str) -> bytes | None:
    """The last value of header `name` (bytes), or None."""
    if not headers:
        return None
    items: Iterable[tuple[str, str | bytes | None]] = (
        headers.items() if isinstance(headers, Mapping) else headers
    )
    found = None
    for key, value in items:
        if key == name and value is not None:
            found = _bytes(value)
    return found


def public_key_text(key: Ed25519PublicKey) -> str:
    """The topology's form of a public key: base64 of the 32 raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key from its topology form; ValueError if it is not 32 base64 bytes."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes (base64 in the topology)")
    return Ed25519PublicKey.from_public_bytes(raw)


def new_signing_key(path: Path) -> str:
    """Write a fresh private key (PEM, mode 0600) to `path`; return its public key text."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(path, pem)
    return public_key_text(key.public_key())


@dataclass(frozen=True)
class EventSigner:
    """Signs the records of one agency with one of its keys."""

    key_id: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_file(cls, key_id: str, path: Path) -> EventSigner:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"signing key {key_id!r} ({path}) is not an Ed25519 private key")
        return cls(key_id, key)

    @classmethod
    def from_env(cls) -> EventSigner | None:
        """The signer of `DATABUS_SIGNING_KEY_ID` / `DATABUS_SIGNING_KEY_FILE`, or None."""
        key_id = os.environ.get("DATABUS_SIGNING_KEY_ID")
        path = os.environ.get("DATABUS_SIGNING_KEY_FILE")
        if not key_id or not path:
            return None
        return cls.from_file(key_id, Path(path))

    def headers(
        self, topic: str, key: str | bytes | None, value: bytes | None, event_id: str
    ) -> list[tuple[str, bytes]]:
        """The two signature headers of one record."""
        signature = self.private_key.sign(signed_message(topic, key, value, event_id))
        return [(H_SIGNATURE, signature), (H_KEY_ID, self.key_id.encode())]

    def __repr__(self) -> str:
        return f"EventSigner(key_id={self.key_id!r})"


class SignatureVerifier:
    """Checks records against the agencies' public keys of the topology."""

    def __init__(self, keys: Mapping[str, tuple[str, Ed25519PublicKey]], policy: SignaturePolicy):
        """`keys`: key id -> (agency id, public key)."""
        self.keys = dict(keys)
        self.policy = policy

    def problem(
        self,
        owner: str,
        topic: str,
        key: str | bytes | None,
        value: bytes | None,
        headers: Headers,
    ) -> str | None:
        """Why the record may not be applied (no value in the text), or None if it may."""
        signature = header(headers, H_SIGNATURE)
        key_id = header(headers, H_KEY_ID)
        if signature is None or key_id is None:
            return "unsigned event" if self.policy == "required" else None
        known = self.keys.get(key_id.decode(errors="replace"))
        if known is None:
            return f"unknown signing key {key_id.decode(errors='replace')!r}"
        agency, public = known
        if agency != owner:
            return f"signing key {key_id.decode(errors='replace')!r} is not of {owner}"
        event_id = header(headers, H_EVENT_ID)
        if event_id is None:
            return "signed event without an event_id header"
        try:
            public.verify(signature, signed_message(topic, key, value, event_id.decode()))
        except InvalidSignature:
            return "signature does not match the record"
        return None


def topology_keys(topology: Topology) -> dict[str, tuple[str, Ed25519PublicKey]]:
    """Key id -> (agency id, public key) of every agency; ValueError on a key id used twice."""
    out: dict[str, tuple[str, Ed25519PublicKey]] = {}
    for agency in topology.agencies:
        for key in agency.signing_keys:
            if key.id in out:
                raise ValueError(f"signing key id {key.id!r} is used by two agencies")
            out[key.id] = (agency.id, load_public_key(key.public_key))
    return out


LOCAL_ENVIRONMENTS: Final = frozenset({"local", "local-cluster"})
"""The topology's environments of the plain local stacks (one broker, or `--brokers 3`)."""


def signature_policy(settings: Settings) -> SignaturePolicy:
    """`DATABUS_SIGNATURES` if set; else required outside the local environments or whenever
    Kafka is reached with SASL (the secure stack, production), optional for the plain demo."""
    if settings.signatures is not None:
        return settings.signatures
    from databus.security.client import KafkaSecurity

    if settings.environment not in LOCAL_ENVIRONMENTS or KafkaSecurity.from_env().uses_sasl:
        return "required"
    return "optional"


def verifier_for(topology: Topology, settings: Settings) -> SignatureVerifier:
    """The verifier of `topology` under the policy of `settings`."""
    return SignatureVerifier(topology_keys(topology), signature_policy(settings))
