"""Make Kafka's topics match their specs: create, add partitions, set configs; idempotently.

`apply_topics` compares what the broker has with `TopicSpec`s derived from the topology and
changes only what differs: it creates missing topics, raises partition counts (never lowers
them: that is reported as a problem), and sets the configs the bus manages with
`incremental_alter_configs`. A second run with the same specs changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

from confluent_kafka import KafkaException

# confluent_kafka.admin re-exports these without `__all__`, which mypy --strict does not count as
# an export; the names are public API (documented in confluent-kafka's admin module).
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from databus.security.client import secured
from databus.topology.topics import TopicSpec

_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())  # librdkafka's own log lines go to logging, not stderr

ChangeAction = Literal["create", "add-partitions", "set-config"]


@dataclass(frozen=True, slots=True)
class TopicChange:
    """One change made (or, in a dry run, to be made) to one topic."""

    topic: str
    action: ChangeAction
    key: str | None = None
    """`partitions` or the config key; None for `create`."""
    old: str | None = None
    new: str | None = None

    def __str__(self) -> str:
        if self.action == "create":
            return f"{self.topic}: create ({self.new})"
        return f"{self.topic}: {self.key} {self.old} → {self.new}"

    def as_dict(self) -> dict[str, str | None]:
        """Machine form, for `--json` output."""
        return {
            "topic": self.topic,
            "action": self.action,
            "key": self.key,
            "old": self.old,
            "new": self.new,
        }


@dataclass
class TopicPlan:
    """What `apply` would change, and what it cannot change."""

    changes: list[TopicChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class TopicsApplyError(RuntimeError):
    """Some topics could not be made to match their spec; `applied` lists what did change."""

    def __init__(self, problems: Sequence[str], applied: Sequence[TopicChange] = ()) -> None:
        self.problems = list(problems)
        self.applied = list(applied)
        lines = [f"{len(self.problems)} topic problem(s):", *(f"  - {p}" for p in self.problems)]
        super().__init__("\n".join(lines))


def _normalise(key: str, value: str | None) -> str | None:
    if value is not None and key == "cleanup.policy":
        return ",".join(sorted(v.strip() for v in value.split(",")))
    return value


def _describe_spec(spec: TopicSpec) -> str:
    configs = ", ".join(f"{k}={v}" for k, v in sorted(spec.config.items()))
    return f"partitions={spec.partitions}, replication_factor={spec.replication_factor}" + (
        f", {configs}" if configs else ""
    )


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, KafkaException) and exc.args:
        err = exc.args[0]
        return f"{err.name()}: {err.str()}" if hasattr(err, "str") else str(err)
    return str(exc)


class TopicAdmin:
    """Plans and applies topic specs against one Kafka cluster."""

    def __init__(
        self,
        bootstrap: str,
        *,
        timeout: float = 30.0,
        client_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.timeout = timeout
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "logger": _log,
            "socket.connection.setup.timeout.ms": int(timeout * 1000),
        }
        config.update(client_config or {})
        self._admin = AdminClient(secured(config))

    # -------------------------------------------------------------- reading

    def _existing(self) -> dict[str, tuple[int, int]]:
        """(partitions, replication factor) of every topic on the cluster."""
        try:
            metadata = self._admin.list_topics(timeout=self.timeout)
        except KafkaException as exc:
            raise TopicsApplyError(
                [f"cannot reach Kafka at {self.bootstrap}: {_error_text(exc)}"]
            ) from None
        out: dict[str, tuple[int, int]] = {}
        for name, topic in metadata.topics.items():
            if topic.error is not None:
                continue
            replicas = max((len(p.replicas) for p in topic.partitions.values()), default=0)
            out[name] = (len(topic.partitions), replicas)
        return out

    def _configs(self, names: Sequence[str]) -> tuple[dict[str, dict[str, str | None]], list[str]]:
        if not names:
            return {}, []
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in names]
        futures: dict[ConfigResource, Future[Any]] = self._admin.describe_configs(
            resources, request_timeout=self.timeout
        )
        out: dict[str, dict[str, str | None]] = {}
        problems: list[str] = []
        for resource, future in futures.items():
            try:
                entries = future.result()
            except KafkaException as exc:
                problems.append(f"{resource.name}: cannot read configs: {_error_text(exc)}")
                continue
            out[resource.name] = {k: e.value for k, e in entries.items()}
        return out, problems

    def plan(self, specs: Sequence[TopicSpec]) -> TopicPlan:
        """Compare the cluster with `specs`; change nothing."""
        plan = TopicPlan()
        seen: set[str] = set()
        for spec in specs:
            if spec.name in seen:
                plan.problems.append(f"{spec.name}: specified twice")
            seen.add(spec.name)
        existing = self._existing()
        present = [s for s in specs if s.name in existing]
        configs, config_problems = self._configs([s.name for s in present])
        plan.problems.extend(config_problems)
        for spec in specs:
            if spec.name not in existing:
                plan.changes.append(TopicChange(spec.name, "create", new=_describe_spec(spec)))
                continue
            partitions, replication = existing[spec.name]
            if spec.partitions > partitions:
                plan.changes.append(
                    TopicChange(
                        spec.name,
                        "add-partitions",
                        "partitions",
                        str(partitions),
                        str(spec.partitions),
                    )
                )
            elif spec.partitions < partitions:
                plan.problems.append(
                    f"{spec.name}: has {partitions} partitions, spec says {spec.partitions}; "
                    "Kafka cannot remove partitions (raise the spec, or recreate the topic)"
                )
            if spec.replication_factor != replication:
                plan.problems.append(
                    f"{spec.name}: replication factor is {replication}, spec says "
                    f"{spec.replication_factor}; changing it needs a partition reassignment"
                )
            current = configs.get(spec.name)
            if current is None:
                continue
            for key, value in sorted(spec.config.items()):
                old = current.get(key)
                if _normalise(key, old) != _normalise(key, value):
                    plan.changes.append(TopicChange(spec.name, "set-config", key, old, value))
        return plan

    # -------------------------------------------------------------- writing

    def apply(self, specs: Sequence[TopicSpec], dry_run: bool = False) -> list[TopicChange]:
        """Make the cluster match `specs`; return the changes (validated only if `dry_run`).

        Raises `TopicsApplyError` if a spec cannot be met (fewer partitions than the topic has,
        another replication factor) before changing anything, or if the broker refuses a change.
        """
        plan = self.plan(specs)
        if plan.problems:
            raise TopicsApplyError(plan.problems)
        if not plan.changes:
            return []
        by_name = {s.name: s for s in specs}
        applied: list[TopicChange] = []
        problems: list[str] = []
        self._create(
            [c for c in plan.changes if c.action == "create"], by_name, dry_run, applied, problems
        )
        self._add_partitions(
            [c for c in plan.changes if c.action == "add-partitions"],
            by_name,
            dry_run,
            applied,
            problems,
        )
        self._set_configs(
            [c for c in plan.changes if c.action == "set-config"], dry_run, applied, problems
        )
        if not dry_run and applied:
            problems.extend(
                self._wait_until_visible(
                    [by_name[n] for n in dict.fromkeys(c.topic for c in applied)]
                )
            )
        order = {change: i for i, change in enumerate(plan.changes)}
        applied.sort(key=order.__getitem__)  # the order of the plan, whatever ran first
        if problems:
            raise TopicsApplyError(problems, applied)
        return applied

    def _collect(
        self,
        futures: Mapping[Any, Future[Any]],
        changes: Mapping[str, list[TopicChange]],
        what: str,
        applied: list[TopicChange],
        problems: list[str],
    ) -> None:
        for key, future in futures.items():
            name = key if isinstance(key, str) else key.name
            try:
                future.result()
            except KafkaException as exc:
                problems.append(f"{name}: cannot {what}: {_error_text(exc)}")
            else:
                applied.extend(changes[name])

    def _create(
        self,
        changes: list[TopicChange],
        specs: Mapping[str, TopicSpec],
        dry_run: bool,
        applied: list[TopicChange],
        problems: list[str],
    ) -> None:
        if not changes:
            return
        new = [
            NewTopic(
                c.topic,
                num_partitions=specs[c.topic].partitions,
                replication_factor=specs[c.topic].replication_factor,
                config=dict(specs[c.topic].config),
            )
            for c in changes
        ]
        futures = self._admin.create_topics(
            new, operation_timeout=self.timeout, request_timeout=self.timeout, validate_only=dry_run
        )
        self._collect(futures, {c.topic: [c] for c in changes}, "create", applied, problems)

    def _add_partitions(
        self,
        changes: list[TopicChange],
        specs: Mapping[str, TopicSpec],
        dry_run: bool,
        applied: list[TopicChange],
        problems: list[str],
    ) -> None:
        if not changes:
            return
        new = [NewPartitions(c.topic, specs[c.topic].partitions) for c in changes]
        futures = self._admin.create_partitions(
            new, operation_timeout=self.timeout, request_timeout=self.timeout, validate_only=dry_run
        )
        self._collect(futures, {c.topic: [c] for c in changes}, "add partitions", applied, problems)

    def _set_configs(
        self,
        changes: list[TopicChange],
        dry_run: bool,
        applied: list[TopicChange],
        problems: list[str],
    ) -> None:
        if not changes:
            return
        per_topic: dict[str, list[TopicChange]] = {}
        for change in changes:
            per_topic.setdefault(change.topic, []).append(change)
        resources = [
            ConfigResource(
                ResourceType.TOPIC,
                name,
                incremental_configs=[
                    ConfigEntry(c.key or "", c.new, incremental_operation=AlterConfigOpType.SET)
                    for c in topic_changes
                ],
            )
            for name, topic_changes in per_topic.items()
        ]
        futures = self._admin.incremental_alter_configs(
            resources, request_timeout=self.timeout, validate_only=dry_run
        )
        self._collect(futures, per_topic, "set configs", applied, problems)

    def _wait_until_visible(self, specs: Sequence[TopicSpec]) -> list[str]:
        """Wait until metadata and configs show the changes, so a rerun sees no difference."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                plan = self.plan(specs)
                pending = [str(c) for c in plan.changes] + plan.problems
            except TopicsApplyError as exc:
                pending = exc.problems
            if not pending:
                return []
            if time.monotonic() > deadline:
                return [
                    f"applied but not yet visible after {self.timeout:g} s: {p}" for p in pending
                ]
            time.sleep(0.2)


def plan_topics(
    bootstrap: str,
    specs: Sequence[TopicSpec],
    *,
    timeout: float = 30.0,
    client_config: Mapping[str, Any] | None = None,
) -> TopicPlan:
    """What `apply_topics` would change on the cluster at `bootstrap`, and what it cannot."""
    return TopicAdmin(bootstrap, timeout=timeout, client_config=client_config).plan(specs)


def apply_topics(
    bootstrap: str,
    specs: Sequence[TopicSpec],
    dry_run: bool = False,
    *,
    timeout: float = 30.0,
    client_config: Mapping[str, Any] | None = None,
) -> list[TopicChange]:
    """Make the topics at `bootstrap` match `specs`; return what changed (empty: nothing to do).

    With `dry_run`, the broker validates the changes but makes none. Raises `TopicsApplyError`
    listing every problem (unreachable broker, partitions that would shrink, refused changes).
    """
    admin = TopicAdmin(bootstrap, timeout=timeout, client_config=client_config)
    return admin.apply(specs, dry_run=dry_run)
