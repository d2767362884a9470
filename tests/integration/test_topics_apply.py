"""`apply_topics` and `databus topics apply` against the real local Kafka."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from cli.topics_cmd import topics as topics_cli
from databus.kafka_admin import TopicChange, TopicsApplyError, apply_topics, plan_topics
from databus.settings import Settings
from databus.topology import Topics, TopicSpec, load_topology

pytestmark = pytest.mark.integration


def _topics(settings: Settings) -> Topics:
    return Topics(load_topology(settings.topology), settings.environment, settings.topic_prefix)


def _with(specs: list[TopicSpec], replacement: TopicSpec) -> list[TopicSpec]:
    return [replacement if s.name == replacement.name else s for s in specs]


def test_apply_is_idempotent_and_reports_exactly_what_changed(bus_settings: Settings) -> None:
    bootstrap = bus_settings.endpoints.bootstrap_servers
    topics = _topics(bus_settings)
    specs = topics.specs()

    created = apply_topics(bootstrap, specs)
    assert sorted(c.topic for c in created) == sorted(s.name for s in specs)
    assert {c.action for c in created} == {"create"}
    assert apply_topics(bootstrap, specs) == []

    source = topics.source_topic("civil-status")
    sector = topics.sector_topic("tax")
    config = {**topics.spec(source).config, "retention.ms": "3600000"}
    changed = _with(specs, dataclasses.replace(topics.spec(source), config=config))
    changed = _with(changed, dataclasses.replace(topics.spec(sector), partitions=5))

    preview = apply_topics(bootstrap, changed, dry_run=True)
    assert plan_topics(bootstrap, changed).changes == preview  # a dry run changes nothing

    applied = apply_topics(bootstrap, changed)
    assert (
        applied
        == preview
        == [
            TopicChange(source, "set-config", "retention.ms", "604800000", "3600000"),
            TopicChange(sector, "add-partitions", "partitions", "3", "5"),
        ]
    )
    assert apply_topics(bootstrap, changed) == []


def test_partitions_never_decrease(bus_settings: Settings) -> None:
    bootstrap = bus_settings.endpoints.bootstrap_servers
    topics = _topics(bus_settings)
    sector = topics.sector_topic("health")
    apply_topics(bootstrap, [topics.spec(sector)])
    fewer = dataclasses.replace(topics.spec(sector), partitions=1)
    with pytest.raises(TopicsApplyError) as info:
        apply_topics(bootstrap, [fewer])
    assert info.value.applied == []
    assert info.value.problems == [
        f"{sector}: has 3 partitions, spec says 1; Kafka cannot remove partitions "
        "(raise the spec, or recreate the topic)"
    ]


def test_cli_apply_json(bus_settings: Settings) -> None:
    runner = CliRunner()
    first = runner.invoke(topics_cli, ["apply", "--json"], obj=bus_settings)
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["ok"] is True
    assert len(report["changes"]) == report["topics"] == len(_topics(bus_settings).specs())
    assert {c["action"] for c in report["changes"]} == {"create"}

    second = runner.invoke(topics_cli, ["apply", "--json"], obj=bus_settings)
    assert second.exit_code == 0, second.output
    assert json.loads(second.output)["changes"] == []

    human = runner.invoke(topics_cli, ["apply"], obj=bus_settings)
    assert human.exit_code == 0, human.output
    assert "no changes" in human.output
