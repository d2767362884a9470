"""`databus publish` on files mixing good and bad lines, against the real broker."""

from __future__ import annotations

import copy
import csv
import json
import uuid
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cli.main import cli
from databus.settings import Settings
from databus.topic_reader import header, read_all
from databus.topology.topics import Topics
from schemas.examples import EXAMPLES
from tests.conftest import settings_env


def _death(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(EXAMPLES["DeathRegistered"])
    event["event_id"] = str(uuid.uuid4())
    event.update(changes)
    return event


def _mixed_lines() -> tuple[list[str], dict[int, str], set[str]]:
    """Lines of a JSONL file, the expected rule per bad line number, the good event ids."""
    good = [_death() for _ in range(5)]
    lines = [
        json.dumps(good[0], ensure_ascii=False),
        json.dumps(_death(subject_pin="0010900000011"), ensure_ascii=False),  # 13 digits
        json.dumps(good[1], ensure_ascii=False),
        "{not json",
        json.dumps(good[2], ensure_ascii=False),
        json.dumps({**EXAMPLES["PinIssued"], "event_id": str(uuid.uuid4())}),  # identity
        json.dumps(_death(source="VN/GOV/BCA/cutru")),  # signed by another agency
        "",
        json.dumps(good[3], ensure_ascii=False),
        json.dumps(good[4], ensure_ascii=False),
    ]
    bad = {2: "pin.length", 4: "event.unreadable", 6: "event.wrong_topic", 7: "source.mismatch"}
    return lines, bad, {e["event_id"] for e in good}


def test_mixed_file_delivers_good_lines_and_reports_and_rejects_bad_ones(
    bus_ready: Settings, tmp_path: Path
) -> None:
    lines, bad, good_ids = _mixed_lines()
    source_file = tmp_path / "deaths.jsonl"
    source_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "publish",
            "--source",
            "VN/GOV/BTP/hotich",
            str(source_file),
            "--rejects",
            str(rejects),
            "--json",
        ],
        env=settings_env(bus_ready),
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["valid"] == 5 and report["delivered"] == 5
    assert {(r["line"], r["rule"]) for r in report["rejected"]} == set(bad.items())
    for row in report["rejected"]:
        assert "0010900000011" not in row["message"]
    assert rejects.read_text(encoding="utf-8").splitlines() == [lines[n - 1] for n in sorted(bad)]

    topic = Topics.from_settings(bus_ready).source_topic("civil-status")
    delivered = {
        header(m, "event_id") for m in read_all(bus_ready.endpoints.bootstrap_servers, topic)
    }
    assert delivered == good_ids


def test_all_good_file_exits_zero_and_dry_run_sends_nothing(
    bus_ready: Settings, tmp_path: Path
) -> None:
    topic = Topics.from_settings(bus_ready).source_topic("residence")
    events = [
        {**EXAMPLES[t], "event_id": str(uuid.uuid4())}
        for t in (
            "PermanentResidenceRegistered",
            "TemporaryResidenceRegistered",
            "ResidenceDeregistered",
            "Emigrated",
        )
    ]
    path = tmp_path / "moves.jsonl"
    path.write_text(
        "\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8"
    )
    runner = CliRunner()
    dry = runner.invoke(
        cli,
        ["publish", "--source", "residence", str(path), "--dry-run"],
        env=settings_env(bus_ready),
    )
    assert dry.exit_code == 0, dry.output
    assert read_all(bus_ready.endpoints.bootstrap_servers, topic) == []
    real = runner.invoke(
        cli, ["publish", "--source", "residence", str(path)], env=settings_env(bus_ready)
    )
    assert real.exit_code == 0, real.output
    assert "4 delivered" in real.output
    assert len(read_all(bus_ready.endpoints.bootstrap_servers, topic)) == 4


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            out[f"{prefix}{key}"] = json.dumps(value)
        else:
            out[f"{prefix}{key}"] = "" if value is None else str(value)
    return out


def test_csv_file_with_a_bad_row(bus_ready: Settings, tmp_path: Path) -> None:
    rows = [_flatten(_death()) for _ in range(3)]
    rows[1]["subject_pin"] = "003" + rows[1]["subject_pin"][3:]  # unknown province code
    path = tmp_path / "deaths.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(
        cli,
        ["publish", "--source", "civil-status", str(path), "--rejects", str(rejects), "--json"],
        env=settings_env(bus_ready),
    )
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert [(r["line"], r["field"], r["rule"]) for r in report["rejected"]] == [
        (3, "subject_pin", "pin.place_code")
    ]
    assert report["delivered"] == 2
    written = rejects.read_text(encoding="utf-8").splitlines()
    assert written[0] == path.read_text(encoding="utf-8").splitlines()[0]  # the header
    assert len(written) == 2
