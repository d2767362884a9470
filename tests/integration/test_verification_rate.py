"""Fairness: one sector's campaign is paced at its topology rate, nothing dropped, and another
sector's requests are not slowed by it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from databus.settings import Settings
from producers.verification import VerificationClient
from tests.population_harness import stop_worker, wait_until
from tests.verification_harness import (
    SECTOR,
    build_campaign,
    generated_citizens,
    load_population,
    read_results,
    start_verifier,
)

RATE = 400
PACED = 4_000
OTHER = 2_000


def _topology_with_rates(path: Path, source: Path) -> Path:
    topology = yaml.safe_load(source.read_text(encoding="utf-8"))
    topology["sectors"][SECTOR]["verification"]["rate_per_second"] = RATE
    topology["sectors"]["tax"]["verification"].pop("rate_per_second", None)
    path.write_text(yaml.safe_dump(topology, allow_unicode=True, sort_keys=False))
    return path


def test_a_paced_sector_does_not_slow_another(
    bus_ready: Settings, pg_url: str, tmp_path: Path
) -> None:
    settings = bus_ready.model_copy(
        update={"topology": _topology_with_rates(tmp_path / "topology.yaml", bus_ready.topology)}
    )
    citizens = generated_citizens(2_000, tmp_path)
    campaign = build_campaign(citizens, PACED)
    load_population(pg_url, campaign)
    log = tmp_path / "verifier.log"
    verifier = start_verifier(settings, pg_url, log, "--log-level", "info")
    try:
        wait_until(lambda: "Worker]: Ready" in log.read_text(errors="replace"), 60, "ready")
        started = time.monotonic()
        started_at = datetime.now(UTC)
        with VerificationClient(SECTOR, settings=settings, campaign="big") as mobile:
            for item in campaign.expected:
                mobile.submit(item.record)
        with VerificationClient("tax", settings=settings, campaign="small") as tax:
            for item in campaign.expected[:OTHER]:
                claims = {
                    k: v for k, v in item.record.items() if k not in ("sex", "identity_card_number")
                }
                tax.submit(claims)
        wait_until(
            lambda: len(read_results(settings, "tax")) >= OTHER, 120, "tax answers", verifier, log
        )
        tax_done = time.monotonic() - started
        mobile_at_tax_done = len(read_results(settings, SECTOR))
        wait_until(
            lambda: len(read_results(settings, SECTOR)) >= PACED,
            120,
            "every paced answer",
            verifier,
            log,
        )
        mobile_done = time.monotonic() - started
        answers = [r for _, r in read_results(settings, SECTOR)]
        # The bucket allows its burst (RATE) at once and RATE a second after it, so the last of
        # PACED answers comes at least (PACED - RATE) / RATE seconds after the first request;
        # measured from the submission (from the first answer would credit the first batch's
        # own wait, which depends on the batch size).
        span = (max(r.answered_at for r in answers) - started_at).total_seconds()
        print(
            f"tax ({OTHER}, no limit) answered in {tax_done:.1f} s while {mobile_at_tax_done} of "
            f"{PACED} paced requests were; paced campaign done in {mobile_done:.1f} s, "
            f"last answer {span:.1f} s after the first request at {RATE}/s"
        )
        assert len({str(r.request_id) for r in answers}) == PACED  # none dropped
        assert span >= (PACED - RATE) / RATE * 0.9  # paced at the topology's rate
        assert mobile_at_tax_done < PACED * 0.75  # tax did not wait for the paced campaign
        assert tax_done < mobile_done / 2
    finally:
        stop_worker(verifier)
