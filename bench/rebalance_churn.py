"""bench/rebalance_churn: do records get lost or stuck when a faust consumer group rebalances
while records flow?

    .venv/bin/python -m bench.rebalance_churn [--lean|--no-lean] [--seconds N] [--members M]
        [--trials T] [--rate R] [--partitions P] [--churn-every S] [--seed X]

Needs Kafka (`databus stack up`; the endpoint from DATABUS_BOOTSTRAP_SERVERS or the stack's
state file). Each trial, on a fresh topic of P partitions and a fresh consumer group:

- a producer (confluent-kafka) writes R small records a second for N seconds, round robin over
  the partitions;
- M member processes of the group, each built as the workers are (`raw_faust_app(..., lean=)`,
  one agent taking `adaptive_batches`, a simulated apply of a few ms, `ack_events` after it),
  append every processed (partition, offset) to a file of their own, flushed before the batch
  is acknowledged;
- every S seconds (jittered) the group is churned: a member SIGKILLed or SIGTERMed and started
  again, or a member added or removed, so that rebalances happen while records flow;
- after the producer stops, M members run until the group's committed offsets reach the end of
  every partition, or `--drain-timeout` passes.

A trial fails when a partition's committed offset stays short of its end (stuck) or an offset
below the end was never processed by any member (lost). For each, a short timeline from the
members' event logs (assignments, seeks, commits, dropped records, processed ranges) is
printed. One JSON line per trial (`[churn] {...}`), then one summary line.

`--consumer` picks the members' consumer class: `raw` (default) what `raw_faust_app` builds,
`fixed` the commits of `streams.faust_delivery.BusConsumer` (lean or not), `unfixed` faust's own
commits (with the lean delivery under `--lean`: the consumer before the fix).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from databus.security.client import secured
from databus.settings import Settings

if TYPE_CHECKING:
    import faust

SESSION_TIMEOUT = 6.0
"""The members' group session timeout (the broker's minimum): a SIGKILLed member's partitions
move after it."""


# ---------------------------------------------------------------------------------- member


def _member(args: argparse.Namespace) -> None:
    """One member of the group (a child process): consume, simulate the apply, record."""
    out = Path(args.dir)
    member = args.member
    processed_fd = os.open(out / f"processed-{member}.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    events_fd = os.open(out / f"events-{member}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def event(kind: str, **fields: Any) -> None:
        line = json.dumps({"t": round(time.time(), 3), "m": member, "k": kind, **fields})
        os.write(events_fd, (line + "\n").encode())

    _instrument(event)
    event("start", pid=os.getpid(), lean=args.lean)

    import asyncio

    from streams.batching import ack_events, adaptive_batches

    overrides: dict[str, Any] = {
        "broker_session_timeout": SESSION_TIMEOUT,
        "broker_heartbeat_interval": 1.0,
    }
    if args.commit_every:
        overrides["broker_commit_every"] = args.commit_every
    app = _build_app(args, overrides)
    channel = app.topic(args.topic, value_serializer="raw", key_serializer="raw")
    apply_seconds = args.apply_ms / 1000
    per_record = args.apply_record_ms / 1000

    @app.agent(channel, name="churn")
    async def agent(stream: Any) -> None:
        async for events in adaptive_batches(stream, args.batch_size):
            await asyncio.sleep(apply_seconds + per_record * len(events))
            now = round(time.time(), 3)
            lines = "".join(f"{e.message.partition} {e.message.offset} {now}\n" for e in events)
            os.write(processed_fd, lines.encode())
            await ack_events(stream, events)

    import faust

    faust.Worker(
        app, loglevel="warn", quiet=True, logfile=str(out / f"faust-{member}.log")
    ).execute_from_commandline()


def _build_app(args: argparse.Namespace, overrides: dict[str, Any]) -> faust.App:
    """The workers' app (`raw_faust_app`), its consumer class as `--consumer` says."""
    from faust.transport.drivers import aiokafka

    from streams.faust_app import raw_faust_app
    from streams.faust_delivery import BusConsumer, LeanConsumer, LeanDelivery

    app = raw_faust_app(
        args.group, args.bootstrap, batch_size=args.batch_size, lean=args.lean, **overrides
    )
    if args.consumer == "raw":
        return app
    consumer: type[Any]
    if args.consumer == "fixed":
        consumer = LeanConsumer if args.lean else BusConsumer
    elif args.lean:  # the lean delivery over faust's own commits, as before the fix
        consumer = type("UnfixedLeanConsumer", (LeanDelivery, aiokafka.Consumer), {})
    else:
        consumer = aiokafka.Consumer
    transport = type("ChurnTransport", (aiokafka.Transport,), {"Consumer": consumer})

    def _new_transport(self: Any) -> Any:
        return transport(self.conf.broker_consumer, self)

    app.__class__ = type("ChurnApp", (type(app),), {"_new_transport": _new_transport})
    return app


def _instrument(event: Any) -> None:  # noqa: PLR0915
    """Record the consumer's rebalances, seeks, commits and dropped records as events."""
    from faust.transport import consumer as base
    from mode.utils import logging as mode_logging

    cls = base.Consumer

    def topic_offsets(mapping: Any) -> dict[str, Any]:
        return {str(tp.partition): v for tp, v in dict(mapping).items()}

    revoked_orig = cls.on_partitions_revoked
    assigned_orig = cls.on_partitions_assigned
    seek_orig = cls.perform_seek
    commit_orig = cls._commit_offsets

    async def on_partitions_revoked(self: Any, revoked: Any) -> None:
        event(
            "revoke",
            tps=sorted(tp.partition for tp in revoked),
            acked={str(tp.partition): sorted(self._acked.get(tp, []))[:5] for tp in revoked},
            committed=topic_offsets({tp: self._committed_offset.get(tp) for tp in revoked}),
            read=topic_offsets({tp: self._read_offset.get(tp) for tp in revoked}),
        )
        await revoked_orig(self, revoked)
        event("revoked", tps=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self: Any, assigned: Any, generation_id: int = 0) -> None:
        event(
            "assign",
            tps=sorted(tp.partition for tp in assigned),
            gen=generation_id,
            consumer=type(self).__name__,
        )
        await assigned_orig(self, assigned, generation_id)

    async def perform_seek(self: Any) -> None:
        await seek_orig(self)
        self._churn_seeks += 1
        event(
            "seek",
            read=topic_offsets(self._read_offset),
            committed=topic_offsets(self._committed_offset),
        )

    async def _commit_offsets(self: Any, offsets: Any, start_new_transaction: bool = True) -> Any:
        assignment = {tp.partition for tp in self.assignment()}
        did = await commit_orig(self, offsets, start_new_transaction)
        event("commit", offsets=topic_offsets(offsets), assigned=sorted(assignment), did=did)
        return did

    init_orig = cls.__init__
    getmany_orig = cls.getmany

    class ReadOffsets(defaultdict[Any, Any]):
        """`Consumer._read_offset`, noting a record fetched before a seek whose offset is
        written back after it."""

        def __init__(self, owner: Any) -> None:
            super().__init__(lambda: None)
            self.owner = owner

        def __setitem__(self, tp: Any, value: Any) -> None:
            fetched = self.owner._churn_fetched.get(tp)
            seeks = self.owner._churn_seeks
            if fetched is not None and fetched[0] == value and fetched[1] != seeks:
                event(
                    "stale-read-offset",
                    tp=tp.partition,
                    offset=value,
                    seek_value=self.get(tp),
                    fetched_gen=fetched[2],
                    gen=self.owner.app.consumer_generation_id,
                )
            super().__setitem__(tp, value)

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        init_orig(self, *args, **kwargs)
        self._churn_seeks = 0
        self._churn_fetched = {}
        self._read_offset = ReadOffsets(self)

    async def getmany(self: Any, timeout: float) -> Any:
        async for tp, message in getmany_orig(self, timeout):
            self._churn_fetched[tp] = (
                message.offset,
                self._churn_seeks,
                self.app.consumer_generation_id,
            )
            yield tp, message

    add_gap_orig = cls._add_gap

    async def _add_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        event(
            "gap",
            tp=tp.partition,
            start=offset_from,
            end=offset_to,
            committed=self._committed_offset.get(tp),
            gen=self.app.consumer_generation_id,
        )
        await add_gap_orig(self, tp, offset_from, offset_to)

    cls._add_gap = _add_gap  # type: ignore[method-assign]
    cls.__init__ = init  # type: ignore[method-assign]
    cls.getmany = getmany  # type: ignore[method-assign]
    cls.on_partitions_revoked = on_partitions_revoked  # type: ignore[method-assign]
    cls.on_partitions_assigned = on_partitions_assigned  # type: ignore[method-assign]
    cls.perform_seek = perform_seek  # type: ignore[method-assign]
    cls._commit_offsets = _commit_offsets  # type: ignore[method-assign]

    dev_orig = mode_logging.LogSeverityMixin.dev

    def dev(self: Any, message: str, *args: Any, **kwargs: Any) -> None:
        if message.startswith("DROPPED"):
            fetched = getattr(self, "_churn_fetched", {})
            tps = [tp.partition for tp, f in fetched.items() if f[0] == args[0]]
            event("dropped", offset=args[0], tp=tps[0] if len(tps) == 1 else None)
        elif message.startswith("Skipping message"):
            skipped = args[0]
            event(
                "skipped",
                tp=skipped.partition,
                offset=skipped.offset,
                msg_gen=args[1],
                gen=args[2],
                flow=args[3],
            )
        dev_orig(self, message, *args, **kwargs)

    mode_logging.LogSeverityMixin.dev = dev  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------- driver


class Members:
    """The member processes of one trial."""

    def __init__(self, args: argparse.Namespace, topic: str, group: str, out: Path) -> None:
        self.args = args
        self.topic = topic
        self.group = group
        self.out = out
        self.running: dict[int, subprocess.Popen[bytes]] = {}
        self.next_id = 0
        self.actions: list[dict[str, Any]] = []

    def start(self) -> int:
        member = self.next_id
        self.next_id += 1
        command = [
            sys.executable,
            "-m",
            "bench.rebalance_churn",
            "--member",
            str(member),
            "--dir",
            str(self.out),
            "--group",
            self.group,
            "--topic",
            self.topic,
            "--bootstrap",
            self.args.bootstrap,
            "--batch-size",
            str(self.args.batch_size),
            "--apply-ms",
            str(self.args.apply_ms),
            "--apply-record-ms",
            str(self.args.apply_record_ms),
            "--commit-every",
            str(self.args.commit_every),
            "--lean" if self.args.lean else "--no-lean",
        ]
        command += ["--consumer", self.args.consumer]
        stderr = (self.out / f"stderr-{member}.txt").open("wb")
        self.running[member] = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=stderr, cwd=Path(__file__).parents[1]
        )
        self._note("start", member)
        return member

    def stop(self, member: int, sig: int) -> None:
        process = self.running.pop(member)
        process.send_signal(sig)
        self._note("kill" if sig == signal.SIGKILL else "term", member)
        if sig == signal.SIGKILL:
            process.wait()
        else:
            threading.Thread(target=_reap, args=(process,), daemon=True).start()

    def _note(self, what: str, member: int) -> None:
        self.actions.append({"t": round(time.time(), 3), "m": member, "k": what})

    def churn(self, rng: random.Random) -> None:
        """One change to the group."""
        lo, hi = max(1, self.args.members - 1), self.args.members + 1
        choices = ["kill-restart"] * 3 + ["term-restart"] * 2
        if len(self.running) < hi:
            choices.append("add")
        if len(self.running) > lo:
            choices.append("remove")
        action = rng.choice(choices)
        if action == "add" or not self.running:
            self.start()
            return
        victim = rng.choice(sorted(self.running))
        if action == "remove":
            self.stop(victim, signal.SIGTERM)
            return
        self.stop(victim, signal.SIGKILL if action == "kill-restart" else signal.SIGTERM)
        self.start()

    def settle(self) -> None:
        """Back to the configured number of members."""
        while len(self.running) < self.args.members:
            self.start()
        while len(self.running) > self.args.members:
            self.stop(max(self.running), signal.SIGTERM)

    def stop_all(self) -> None:
        for member in sorted(self.running):
            process = self.running[member]
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.running.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.running.clear()


def _reap(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _produce(bootstrap: str, topic: str, partitions: int, rate: float, seconds: float) -> int:
    producer = Producer(secured({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all"}))
    started = time.monotonic()
    sent = 0
    while True:
        elapsed = time.monotonic() - started
        if elapsed >= seconds:
            break
        due = int(elapsed * rate)
        while sent < due:
            try:
                producer.produce(topic, b"x%d" % sent, partition=sent % partitions)
            except BufferError:
                producer.poll(0.05)
                continue
            sent += 1
        producer.poll(0)
        time.sleep(0.005)
    if producer.flush(60):
        raise SystemExit("the producer could not deliver every record")
    return sent


def _ends(bootstrap: str, topic: str, group: str, partitions: int) -> tuple[list[int], list[int]]:
    """Each partition's end offset and the group's committed offset (-1: none)."""
    consumer = Consumer(
        secured({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    )
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in tps]
        committed = [tp.offset for tp in consumer.committed(tps, timeout=10)]
        return ends, committed
    finally:
        consumer.close()


def _load_processed(out: Path) -> dict[int, dict[int, list[tuple[int, float]]]]:
    """partition -> offset -> [(member, time)] of every processing recorded."""
    seen: dict[int, dict[int, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for path in out.glob("processed-*.txt"):
        member = int(path.stem.split("-")[1])
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:
                seen[int(parts[0])][int(parts[1])].append((member, float(parts[2])))
    return seen


def _load_events(out: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for path in out.glob("events-*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by SIGKILL
    return sorted(events, key=lambda e: e["t"])


def _timeline(
    partition: int,
    offset: int,
    events: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    processed: dict[int, list[tuple[int, float]]],
    t0: float,
) -> list[str]:
    """What happened around `offset` of `partition`."""
    key = str(partition)
    lines: list[str] = []

    def near(other: int) -> bool:
        return abs(other - offset) < 50

    for e in sorted(events + actions, key=lambda e: e["t"]):
        kind = e["k"]
        text = ""
        if kind in ("start", "kill", "term") and "pid" not in e:
            text = kind
        elif kind in ("revoke", "assign") and partition in e["tps"]:
            extra = ""
            if kind == "revoke":
                extra = (
                    f" read={e['read'].get(key)} committed={e['committed'].get(key)}"
                    f" acked_head={e['acked'].get(key)}"
                )
            text = f"{kind} gen={e.get('gen', '')}{extra}"
        elif kind == "seek" and key in e["read"]:
            text = f"seek read={e['read'][key]} committed={e['committed'].get(key)}"
        elif kind == "commit" and key in e["offsets"]:
            value = e["offsets"][key]
            if abs(value - offset) > 400:
                continue
            text = f"commit {value} did={e['did']} assigned={partition in e['assigned']}"
        elif kind == "stale-read-offset" and e["tp"] == partition:
            text = (
                f"read offset {e['offset']} (fetched in gen {e['fetched_gen']}) written over"
                f" the seek's {e['seek_value']} in gen {e['gen']}"
            )
        elif kind == "gap" and e["tp"] == partition:
            text = f"gap {e['start']}..{e['end']} added (treated as acked) gen={e['gen']}"
        elif kind == "skipped" and e["tp"] == partition and abs(e["offset"] - offset) < 300:
            text = (
                f"stream skipped (and acked) {e['offset']}: message gen {e['msg_gen']},"
                f" app gen {e['gen']}, flow active {e['flow']}"
            )
        elif kind == "dropped" and e.get("tp") in (partition, None) and near(e["offset"]):
            text = f"dropped offset {e['offset']} (read offset above it)"
        if text:
            lines.append(f"{e['t'] - t0:8.3f} m{e['m']} {text}")
    hits_sorted = sorted((o, m, t) for o, hits in processed.items() for m, t in hits)
    window = [x for x in hits_sorted if abs(x[0] - offset) <= 30]
    for o, m, t in window:
        lines.append(f"{t - t0:8.3f} m{m} processed {o}")
    lines.sort(key=lambda s: float(s.split()[0]))
    return lines


def _trial(args: argparse.Namespace, number: int, rng: random.Random) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    topic, group = f"churn-{run}", f"churn-{run}"
    out = Path(args.workdir) / f"trial-{number:03d}-{run}"
    out.mkdir(parents=True)
    admin = AdminClient(secured({"bootstrap.servers": args.bootstrap}))
    admin.create_topics([NewTopic(topic, args.partitions, 1)])[topic].result(timeout=30)
    members = Members(args, topic, group, out)
    t0 = time.time()
    for _ in range(args.members):
        members.start()
    time.sleep(args.warmup)
    produced: dict[str, int] = {}
    producer = threading.Thread(
        target=lambda: produced.update(
            sent=_produce(args.bootstrap, topic, args.partitions, args.rate, args.seconds)
        ),
        daemon=True,
    )
    producer.start()
    churns = 0
    while producer.is_alive():
        producer.join(args.churn_every * rng.uniform(0.5, 1.5))
        if producer.is_alive():
            members.churn(rng)
            churns += 1
    members.settle()
    drained_at: float | None = None
    deadline = time.monotonic() + args.drain_timeout
    ends, committed = _ends(args.bootstrap, topic, group, args.partitions)
    while time.monotonic() < deadline:
        ends, committed = _ends(args.bootstrap, topic, group, args.partitions)
        if all(c == e for c, e in zip(committed, ends, strict=True)):
            drained_at = time.time()
            break
        time.sleep(1)
    members.stop_all()
    processed = _load_processed(out)
    events = _load_events(out)
    stuck = {
        p: {"committed": c, "end": e}
        for p, (c, e) in enumerate(zip(committed, ends, strict=True))
        if c != e
    }
    lost = {
        p: [o for o in range(ends[p]) if o not in processed.get(p, {})]
        for p in range(args.partitions)
    }
    lost = {p: offsets for p, offsets in lost.items() if offsets}
    duplicates = sum(len(hits) - 1 for offsets in processed.values() for hits in offsets.values())
    result: dict[str, Any] = {
        "trial": number,
        "lean": args.lean,
        "consumer": args.consumer,
        "ok": not stuck and not lost,
        "produced": produced.get("sent"),
        "churns": churns,
        "rebalances": sum(1 for e in events if e["k"] == "assign"),
        "dropped": sum(1 for e in events if e["k"] == "dropped"),
        "skipped": sum(1 for e in events if e["k"] == "skipped"),
        "gaps": sum(1 for e in events if e["k"] == "gap"),
        "stale_read_offsets": sum(1 for e in events if e["k"] == "stale-read-offset"),
        "duplicates": duplicates,
        "stuck": stuck,
        "lost": {str(p): offsets[:20] for p, offsets in lost.items()},
        "drain_seconds": round(drained_at - t0 - args.warmup - args.seconds, 1)
        if drained_at
        else None,
        "dir": str(out),
    }
    for p, offsets in lost.items():
        print(f"--- partition {p}: offsets {offsets[:10]} never processed", flush=True)
        for line in _timeline(p, offsets[0], events, members.actions, processed[p], t0)[-60:]:
            print("   ", line, flush=True)
    for p, where in stuck.items():
        if p in lost:
            continue
        print(f"--- partition {p}: stuck at {where}", flush=True)
        offset = where["committed"]
        for line in _timeline(p, offset, events, members.actions, processed[p], t0)[-60:]:
            print("   ", line, flush=True)
    admin.delete_topics([topic])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--lean", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--seconds", type=float, default=30.0, help="producing time per trial")
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--rate", type=float, default=1500.0, help="records/s")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--apply-ms", type=float, default=5.0)
    parser.add_argument("--apply-record-ms", type=float, default=0.0)
    parser.add_argument("--commit-every", type=int, default=1000)
    parser.add_argument("--churn-every", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--stop-on-failure", action="store_true")
    parser.add_argument(
        "--consumer",
        choices=["raw", "fixed", "unfixed"],
        default="raw",
        help="raw: what raw_faust_app builds; fixed: streams.faust_delivery's BusConsumer "
        "(LeanConsumer with --lean); unfixed: faust's own commits (with the lean delivery "
        "with --lean)",
    )
    parser.add_argument("--bootstrap", default=None)
    # a member process (internal)
    parser.add_argument("--member", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--group", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--topic", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.member is not None:
        _member(args)
        return
    if args.bootstrap is None:
        args.bootstrap = Settings().endpoints.bootstrap_servers
    if args.workdir is None:
        args.workdir = f"/tmp/rebalance-churn-{uuid.uuid4().hex[:6]}"
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    results = []
    for number in range(args.trials):
        result = _trial(args, number, rng)
        results.append(result)
        print("[churn] " + json.dumps(result), flush=True)
        if args.stop_on_failure and not result["ok"]:
            break
    failed = [r["trial"] for r in results if not r["ok"]]
    summary = {
        "summary": True,
        "lean": args.lean,
        "consumer": args.consumer,
        "seed": seed,
        "trials": len(results),
        "failed": len(failed),
        "failed_trials": failed,
        "lost_trials": sum(1 for r in results if r["lost"]),
        "stuck_trials": sum(1 for r in results if r["stuck"]),
        "workdir": args.workdir,
    }
    print("[churn] " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
