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
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from databus.security.client import secured
from databus.settings import Settings

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
            "bench.churn_member",
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
    args = parser.parse_args()
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
