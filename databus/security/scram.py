"""SCRAM-SHA-512 credentials as Kafka stores them (RFC 5802 salted password), so that a
password never has to appear on a command line or in a log."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets

MECHANISM = "SCRAM-SHA-512"
ITERATIONS = 8192
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")


def new_password() -> str:
    """A random password (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def check_name(name: str) -> str:
    """A principal name usable as a SCRAM user and a Kubernetes name: letters, digits, . _ -."""
    if not _NAME_RE.match(name):
        raise ValueError(f"principal name {name!r} may only use letters, digits, '.', '_' and '-'")
    return name


def storage_tool_argument(name: str, password: str, iterations: int = ITERATIONS) -> str:
    """The `--add-scram` value of `kafka-storage format`, with a salted password only."""
    salt = os.urandom(32)
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return (
        f"{MECHANISM}=[name={check_name(name)},iterations={iterations},"
        f'salt="{base64.b64encode(salt).decode()}",'
        f'saltedpassword="{base64.b64encode(salted).decode()}"]'
    )
