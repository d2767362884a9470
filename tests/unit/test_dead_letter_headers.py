"""A dead letter keeps the original record's headers, and its replay puts them back."""

from __future__ import annotations

from typing import Any

from databus.dead_letter import (
    H_ORIGINAL_PREFIX,
    H_REPLAYED_FROM,
    DeadLetterWriter,
    Failure,
    StoredDeadLetter,
    header_items,
)
from schemas.models.downstream import DeadLetter


class _Producer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def produce(self, topic: str, value: bytes, key: bytes | None, headers: Any) -> None:
        self.sent.append({"topic": topic, "key": key, "headers": headers})


class _Encoder:
    topic = "bus.dead-letter.v1"

    def encode(self, record: DeadLetter) -> bytes:
        return b"encoded"


SIGNED: list[tuple[str, str | bytes | None]] = [
    ("event_id", "e-1"),
    ("databus-signature", b"\x01\x02"),
    ("databus-signing-key", b"k"),
]


def test_header_items_accepts_lists_and_mappings_and_drops_empty_values() -> None:
    assert header_items(None) == []
    assert header_items([("a", "x"), ("b", None), ("c", b"\x00")]) == [("a", b"x"), ("c", b"\x00")]
    assert header_items({"a": "x"}) == [("a", b"x")]


def test_the_original_headers_travel_on_the_dead_letter_under_a_prefix() -> None:
    producer = _Producer()
    writer = DeadLetterWriter(producer, _Encoder(), "population-sync")  # type: ignore[arg-type]
    failure = Failure("bad_signature", "unsigned event", "SignatureError")
    writer.send_raw(
        topic="t", partition=1, offset=2, key=b"k", value=b"v", failure=failure, headers=SIGNED
    )
    headers = producer.sent[0]["headers"]
    prefix = H_ORIGINAL_PREFIX
    kept = [(k.removeprefix(prefix), v) for k, v in headers if k.startswith(prefix)]
    assert kept == header_items(SIGNED)


def test_a_replay_puts_the_original_headers_back_once() -> None:
    letter = StoredDeadLetter(
        offset=7,
        partition=0,
        record=None,  # type: ignore[arg-type]
        original_headers=(*header_items(SIGNED), (H_REPLAYED_FROM, b"0/3")),
    )
    assert letter.replay_headers() == [*header_items(SIGNED), (H_REPLAYED_FROM, "0/7")]
