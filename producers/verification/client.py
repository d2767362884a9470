"""Send a sector's verification requests: refused up front if the sector may not verify.

Requests go to `sector.<sector>.verification-requests.v1`, keyed by PIN, encoded through the
registry, with an idempotent producer (acks=all). A full local queue makes `submit` wait; it
never drops. `flush` reports how many were delivered and which failed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Self

from confluent_kafka import KafkaError, Message, Producer

from databus.kafka_config import producer_config
from databus.registry import registry_client
from databus.serde import Encoder
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.model import Topology
from databus.topology.topics import Topics
from producers.verification.records import request_from_data
from schemas.domain import ContractError
from schemas.models.downstream import VerificationRequest


class VerificationRefusedError(Exception):
    """The topology gives this sector no right to verify (or does not know it)."""


@dataclass
class SubmitReport:
    """Delivered and failed requests (request id -> reason) after a flush."""

    submitted: int = 0
    delivered: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def pending(self) -> int:
        return self.submitted - self.delivered - len(self.failed)

    @property
    def complete(self) -> bool:
        return self.pending == 0 and not self.failed


class VerificationClient:
    """Submits one sector's verification requests (see the module docstring)."""

    def __init__(
        self,
        sector: str,
        *,
        settings: Settings | None = None,
        topology: Topology | None = None,
        campaign: str = "default",
    ) -> None:
        self.settings = settings or Settings()
        self.topology = topology or load_topology(self.settings.topology)
        if sector not in self.topology.sectors:
            known = ", ".join(self.topology.sectors)
            raise VerificationRefusedError(
                f"no sector {sector!r} in the topology (sectors: {known})"
            )
        if not self.topology.sector(sector).verification.enabled:
            raise VerificationRefusedError(
                f"sector {sector!r} has no verification rights in the topology "
                "(verification.enabled is false): nothing was sent"
            )
        self.sector = sector
        self.campaign = campaign
        self.topic = Topics.from_settings(self.settings, self.topology).verification_requests_topic(
            sector
        )
        endpoints = self.settings.endpoints
        self._encoder = Encoder(
            registry_client(endpoints.registry_url), self.topic, "VerificationRequest"
        )
        self._producer = Producer(
            producer_config(endpoints.bootstrap_servers, f"databus-verify-{sector}")
        )
        self._lock = threading.Lock()
        self.report = SubmitReport()

    def request(self, data: VerificationRequest | dict[str, Any]) -> VerificationRequest:
        """The request of a record dict (ContractError naming the fields if it is none)."""
        if isinstance(data, VerificationRequest):
            return data
        made = request_from_data(self.sector, data, self.campaign)
        if isinstance(made, tuple):
            raise ContractError(list(made), record=f"record {data.get('record_id', '?')}")
        return made

    def submit(self, data: VerificationRequest | dict[str, Any]) -> str:
        """Send one request (waits when the local queue is full); its request id."""
        request = self.request(data)
        if request.sector != self.sector:
            raise VerificationRefusedError(
                f"a request of sector {request.sector!r} cannot be sent as {self.sector!r}"
            )
        request_id = str(request.request_id)
        value = self._encoder.encode(request)

        def delivered(error: KafkaError | None, _message: Message) -> None:
            with self._lock:
                if error is None:
                    self.report.delivered += 1
                else:
                    self.report.failed[request_id] = error.name()

        while True:
            try:
                self._producer.produce(
                    self.topic, value, request.pin.encode(), on_delivery=delivered
                )
                break
            except BufferError:
                self._producer.poll(0.05)
        self.report.submitted += 1
        self._producer.poll(0)
        return request_id

    def flush(self, timeout: float = 60.0) -> SubmitReport:
        """Wait up to `timeout` s for every delivery report."""
        self._producer.flush(timeout)
        return self.report

    def close(self, timeout: float = 60.0) -> SubmitReport:
        """Flush and report."""
        return self.flush(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
