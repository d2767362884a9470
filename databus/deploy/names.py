"""Names every deployment descriptor agrees on."""

from __future__ import annotations

from typing import Final

NAMESPACE: Final = "databus"
CLUSTER: Final = "databus"
"""The Strimzi `Kafka` resource's name (its Services and Secrets start with it)."""
