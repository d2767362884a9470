"""The results of a campaign joined to the submitted records, and the summary of it.

Every result on `sector.<sector>.verification-results.v1` whose request id belongs to the
submitted file is kept, once per request id (a verifier restarted after a crash may send an
answer again; it is the same answer). Records are joined by request id, which the file gives or
which is derived from (sector, campaign, record id) exactly as `verify submit` derived it.
"""

from __future__ import annotations

import csv
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from databus.registry import registry_client
from databus.security.client import secured
from databus.serde import Decoder
from databus.settings import Settings
from databus.topology.topics import Topics
from producers.loader.reader import read_lines
from producers.verification.records import request_from_data
from schemas.models.downstream import (
    FieldVerdict,
    VerificationClaims,
    VerificationRequest,
    VerificationResult,
    VerificationStatus,
)

ACTIONS: dict[VerificationStatus, str] = {
    VerificationStatus.MATCHED: "none",
    VerificationStatus.PARTIAL: "correct the spelling (diacritics)",
    VerificationStatus.MISMATCHED: "act: the holder's identity does not match",
    VerificationStatus.NOT_FOUND: "act: no such PIN",
    VerificationStatus.DECEASED: "act: the holder is deceased",
    VerificationStatus.PIN_REPLACED: "act: the PIN was replaced; ask the holder for the new one",
    VerificationStatus.INVALID: "act: the record is malformed",
    VerificationStatus.REFUSED: "not verified: refused",
}
TO_ACT = frozenset(s for s, action in ACTIONS.items() if action.startswith("act"))
CLAIMS = tuple(VerificationClaims.model_fields)


@dataclass(frozen=True)
class Submitted:
    """One record of the requests file: its line, record id and request id."""

    line: int
    record_id: str
    request_id: str


@dataclass
class CampaignReport:
    """Results joined to records, and the counts of the summary."""

    rows: list[tuple[Submitted, VerificationResult | None]] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    mismatched_fields: Counter[str] = field(default_factory=Counter)
    diacritics_fields: Counter[str] = field(default_factory=Counter)
    unreadable_lines: int = 0
    duplicates_seen: int = 0

    @property
    def unanswered(self) -> list[Submitted]:
        return [s for s, r in self.rows if r is None]

    @property
    def to_act(self) -> list[tuple[Submitted, VerificationResult]]:
        return [(s, r) for s, r in self.rows if r is not None and r.status in TO_ACT]

    def summary(self) -> dict[str, object]:
        """The machine form of the summary."""
        return {
            "records": len(self.rows),
            "answered": len(self.rows) - len(self.unanswered),
            "unanswered": len(self.unanswered),
            "unreadable_lines": self.unreadable_lines,
            "repeated_answers_ignored": self.duplicates_seen,
            "statuses": dict(sorted(self.statuses.items())),
            "mismatched_fields": dict(sorted(self.mismatched_fields.items())),
            "diacritics_only_fields": dict(sorted(self.diacritics_fields.items())),
            "to_act": len(self.to_act),
        }


def submitted_records(path: Path, sector: str, campaign: str) -> tuple[list[Submitted], int]:
    """The records of a requests file with their request ids; and the unreadable line count."""
    out: list[Submitted] = []
    unreadable = 0
    for line in read_lines(path):
        made = None if line.data is None else request_from_data(sector, line.data, campaign)
        if isinstance(made, VerificationRequest):
            out.append(Submitted(line.number, made.record_id, str(made.request_id)))
        else:
            unreadable += 1
    return out, unreadable


def collect_results(
    settings: Settings, sector: str, wanted: set[str], *, wait: float
) -> tuple[dict[str, VerificationResult], int]:
    """The first answer of every wanted request id found (reading the results topic from its
    start, waiting up to `wait` s for the last ones), and how many further answers of the
    same ids were seen up to then."""
    topics = Topics.from_settings(settings)
    topic = topics.verification_results_topic(sector)
    endpoints = settings.endpoints
    decoder = Decoder(registry_client(endpoints.registry_url), topic, VerificationResult)
    consumer = Consumer(
        secured(
            {
                "bootstrap.servers": endpoints.bootstrap_servers,
                "group.id": f"verify-results-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
    )
    found: dict[str, VerificationResult] = {}
    repeats = 0
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        at_end: set[int] = set()
        deadline = time.monotonic() + wait
        while len(found) < len(wanted):
            if len(at_end) == len(partitions) and time.monotonic() >= deadline:
                break
            for message in consumer.consume(5000, 0.5):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        at_end.add(message.partition() or 0)
                    continue
                at_end.discard(message.partition() or 0)
                value = message.value()
                request_id = _request_id(value)
                if request_id is not None and request_id not in wanted:
                    continue  # another campaign's answer: not even decoded
                result = decoder.decode(value)
                assert isinstance(result, VerificationResult)
                request_id = str(result.request_id)
                if request_id not in wanted:
                    continue
                if request_id in found:
                    repeats += 1
                else:
                    found[request_id] = result
    finally:
        consumer.close()
    return found, repeats


def _request_id(value: bytes | None) -> str | None:
    """The request id at the start of a result's Avro body (a 36-character UUID string, the
    record's first field), without decoding the rest; None if it is not there."""
    if not value or len(value) < 6 + 36 or value[5] != 72:  # zigzag length 36 = 72
        return None
    return value[6 : 6 + 36].decode("ascii", errors="replace")


def join(
    records: list[Submitted], results: dict[str, VerificationResult], unreadable: int, repeats: int
) -> CampaignReport:
    """The campaign report of `records` and their `results`."""
    report = CampaignReport(unreadable_lines=unreadable, duplicates_seen=repeats)
    for record in records:
        result = results.get(record.request_id)
        report.rows.append((record, result))
        if result is None:
            report.statuses["UNANSWERED"] += 1
            continue
        report.statuses[result.status.value] += 1
        for name, verdict in result.verdicts.items():
            if verdict is FieldVerdict.MISMATCH:
                report.mismatched_fields[name] += 1
            elif verdict is FieldVerdict.MATCH_IGNORING_DIACRITICS:
                report.diacritics_fields[name] += 1
    return report


def write_csv(report: CampaignReport, path: Path) -> None:
    """One row per submitted record: ids, status, the verdict of every claim, problems, action."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["line", "record_id", "request_id", "status", *CLAIMS, "problems", "action"])
        for record, result in report.rows:
            if result is None:
                out.writerow(
                    [record.line, record.record_id, record.request_id, "UNANSWERED"]
                    + [""] * len(CLAIMS)
                    + ["", "wait or submit again"]
                )
                continue
            verdicts = [result.verdicts[c].value if c in result.verdicts else "" for c in CLAIMS]
            problems = "; ".join(f"{p.claim}: {p.rule}" for p in result.problems)
            out.writerow(
                [
                    record.line,
                    record.record_id,
                    record.request_id,
                    result.status.value,
                    *verdicts,
                    problems,
                    ACTIONS[result.status],
                ]
            )
