"""One member process of bench/rebalance_churn's consumer group (started by it, not by hand).

It is built as the workers are (`raw_faust_app`, one agent taking `adaptive_batches`, a
simulated apply, `ack_events` after it), its consumer class as `--consumer` says. It appends
every processed (partition, offset, time) to `processed-<member>.txt` before acknowledging the
batch, and its consumer's rebalances, seeks, commits, gaps and skipped or dropped records to
`events-<member>.jsonl`, both in `--dir`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import faust

SESSION_TIMEOUT = 6.0
"""The members' group session timeout (the broker's minimum): a SIGKILLed member's partitions
move after it."""


# ---------------------------------------------------------------------------------- member


def run_member(args: argparse.Namespace) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--member", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--apply-ms", type=float, required=True)
    parser.add_argument("--apply-record-ms", type=float, required=True)
    parser.add_argument("--commit-every", type=int, required=True)
    parser.add_argument("--lean", action=argparse.BooleanOptionalAction, required=True)
    parser.add_argument("--consumer", choices=["raw", "fixed", "unfixed"], required=True)
    run_member(parser.parse_args())


if __name__ == "__main__":
    main()
