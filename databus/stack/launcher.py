"""Bring the local stack up, report its status, and take it down again.

Every part runs from `<stack_dir>/<part>`, logs to `<stack_dir>/<part>/<part>.log` and
has a pid file `<stack_dir>/<part>.pid`; `down` stops exactly those pids.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from databus.stack.cluster import node_part
from databus.stack.errors import StackError
from databus.stack.part import Part
from databus.stack.parts import PARTS
from databus.stack.process import is_ours, port_open, stop, wait_for
from databus.stack.state import PartRecord, StackState

Report = Callable[[str], None]


@dataclass(frozen=True)
class PartStatus:
    """What `stack status` shows for one part."""

    name: str
    address: str
    url: str
    pid: int
    running: bool
    answers: bool
    log: str

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


class Stack:
    """The local stack of one directory (default `.stack`), jars cached in `cache_dir`."""

    def __init__(
        self, stack_dir: Path, cache_dir: Path, parts: Mapping[str, type[Part]] | None = None
    ) -> None:
        self.stack_dir = stack_dir.resolve()
        self.cache_dir = cache_dir
        self.parts = {**PARTS, **(parts or {})}

    def part(self, name: str) -> Part:
        cls = self.parts.get(name) or node_part(name)
        if cls is None:
            known = ", ".join([*self.parts, "kafka-1 ... (cluster nodes)"])
            raise StackError(f"unknown stack part {name!r}; known: {known}")
        return cls(self.stack_dir, self.cache_dir)

    def state(self) -> StackState:
        return StackState.load(self.stack_dir) or StackState(stack_dir=str(self.stack_dir))

    def up(self, names: Iterable[str], report: Report = print) -> StackState:
        """Start the named parts that are not already running and answering; wait for all."""
        state = self.state()
        pending: list[tuple[Part, PartRecord]] = []
        try:
            for name in names:
                part = self.part(name)
                record = state.parts.get(name)
                if record and is_ours(record.pid, record.marker) and part.probe(record):
                    report(f"{name}: already running on {record.address}")
                    continue
                if record:
                    self._stop_record(part, record)
                report(f"{name}: starting")
                record = part.launch()
                record.extra["spawn"] = part.last_spawn
                state.parts[name] = record
                state.save()
                pending.append((part, record))
            for part, record in pending:
                part.wait_ready(record)
                report(f"{part.name}: ready on {record.address} (log {record.log})")
        except BaseException:
            for part, record in pending:
                with contextlib.suppress(Exception):
                    self._stop_record(part, record)
                state.parts.pop(part.name, None)
            state.save()
            raise
        return state

    def down(self, names: Iterable[str] | None = None, report: Report = print) -> list[str]:
        """Stop the parts this stack started (all, or those named), by pid file and marker."""
        state = self.state()
        wanted = set(names) if names is not None else set(state.parts)
        stopped = []
        for name, record in reversed(list(state.parts.items())):
            if name not in wanted:
                continue
            killed = self._stop_record(self.part(name), record)
            report(f"{name}: stopped" + (" (killed after grace period)" if killed else ""))
            stopped.append(name)
            del state.parts[name]
        state.save()
        return stopped

    def stop_part(self, name: str, *, kill: bool = False) -> PartRecord:
        """Stop one part but keep its data, ports and record, for `start_part` (outage tests)."""
        record = self.state().parts[name]
        part = self.part(name)
        stop(record.pid, record.marker, sig=signal.SIGKILL if kill else part.stop_signal)
        host, port = record.address.rsplit(":", 1)
        if not wait_for(lambda: not port_open(host, int(port)), 10):
            raise StackError(f"{name} stopped but {record.address} still accepts connections")
        return record

    def start_part(self, name: str) -> PartRecord:
        """Start a part stopped by `stop_part` again, same ports and data; wait until ready."""
        state = self.state()
        record = self.part(name).respawn(state.parts[name])
        state.parts[name] = record
        state.save()
        return record

    def running(self) -> set[str]:
        """Names of the parts that run and answer now."""
        return {s.name for s in self.status() if s.answers}

    def status(self) -> list[PartStatus]:
        """Each started part, its address and whether it runs and answers right now."""
        result = []
        for name, record in self.state().parts.items():
            running = is_ours(record.pid, record.marker)
            answers = running and self.part(name).probe(record)
            result.append(
                PartStatus(
                    name=name,
                    address=record.address,
                    url=record.url,
                    pid=record.pid,
                    running=running,
                    answers=answers,
                    log=record.log,
                )
            )
        return result

    def _stop_record(self, part: Part, record: PartRecord) -> bool:
        killed = stop(record.pid, record.marker, sig=part.stop_signal)
        part.cleanup(record)
        part.pid_file.unlink(missing_ok=True)
        host, port = record.address.rsplit(":", 1)
        # a JVM's main thread may be reaped while its other threads still close their sockets
        if not wait_for(lambda: not port_open(host, int(port)), 10):
            raise StackError(f"{part.name} stopped but {record.address} still accepts connections")
        return killed
