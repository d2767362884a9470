"""CPU share and peak memory of the processes of a benchmark, from /proc (Linux).

A part is a process, with or without its descendants (PostgreSQL serves each connection from
a child of the postmaster). Over a window (`with UsageSampler(parts): ...`):

- CPU share = CPU seconds (user + system) spent in the window / wall seconds of the window;
  1.0 is one core. For a tree: every live descendant's time plus the time of the children the
  root has already reaped (`cutime`/`cstime`), so a connection that ends in the window still
  counts.
- peak memory = the largest sum of PSS over the part's processes, sampled every
  `interval` seconds in the window (PSS shares shared pages among the processes mapping them,
  so PostgreSQL's shared buffers count once, not once a backend), and the root's VmHWM
  (its resident high-water mark since it started, which for the stack's long-running broker
  and PostgreSQL can predate the window).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Part:
    """A process to watch, by name; `tree` also counts its descendants."""

    name: str
    pid: int
    tree: bool = True


@dataclass(frozen=True)
class Usage:
    """What one part used over the window."""

    cpu_share: float
    peak_pss_mib: float
    vmhwm_mib: float


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (field 3 is index 0)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children() -> dict[int, list[int]]:
    """Parent pid -> its children's pids, over all processes."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _tree(part: Part, children: dict[int, list[int]]) -> list[int]:
    """The part's root and, for a tree, all its descendants."""
    found, todo = [], [part.pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        if part.tree:
            todo.extend(children.get(pid, []))
    return found


def _cpu_seconds(part: Part, pids: list[int]) -> float:
    """CPU seconds so far of the part's live processes, plus the root's reaped children."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime, stime
            if part.tree and pid == part.pid:
                total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / _TICK


def _status_kib(pid: int, key: str, name: str = "status") -> int:
    """A `key:  N kB` line of /proc/<pid>/status (or smaps_rollup); 0 if absent."""
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _pss_mib(pids: list[int]) -> float:
    """Sum of PSS (RSS where smaps_rollup cannot be read) of these processes, MiB."""
    total = 0
    for pid in pids:
        total += _status_kib(pid, "Pss", "smaps_rollup") or _status_kib(pid, "VmRSS")
    return total / 1024


@dataclass
class UsageSampler:
    """Samples the parts while the `with` block runs; `result` holds each part's usage."""

    parts: list[Part]
    interval: float = 1.0
    result: dict[str, Usage] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _peaks: dict[str, float] = field(default_factory=dict)
    _start_cpu: dict[str, float] = field(default_factory=dict)
    _started: float = 0.0
    _thread: threading.Thread | None = None

    def _sample(self) -> dict[str, list[int]]:
        children = _children()
        trees = {part.name: _tree(part, children) for part in self.parts}
        for part in self.parts:
            pss = _pss_mib(trees[part.name])
            self._peaks[part.name] = max(self._peaks.get(part.name, 0.0), pss)
        return trees

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> UsageSampler:
        trees = _children()
        self._start_cpu = {p.name: _cpu_seconds(p, _tree(p, trees)) for p in self.parts}
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        wall = time.monotonic() - self._started
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        trees = self._sample()
        for part in self.parts:
            cpu = _cpu_seconds(part, trees[part.name]) - self._start_cpu[part.name]
            self.result[part.name] = Usage(
                cpu_share=cpu / wall if wall > 0 else 0.0,
                peak_pss_mib=self._peaks.get(part.name, 0.0),
                vmhwm_mib=_status_kib(part.pid, "VmHWM") / 1024,
            )


def usage_table(usage_by_rate: dict[float, dict[str, Usage]]) -> list[str]:
    """Lines of a table: a row per part, for each rate its CPU share (1.00 = one core) and
    peak PSS in MiB."""
    rates = list(usage_by_rate)
    names: list[str] = []
    for usage in usage_by_rate.values():
        names += [name for name in usage if name not in names]
    width = max((len(name) for name in names), default=10)
    head = "".join(f"  {f'{rate:,.0f}/s cpu, MiB':>18}" for rate in rates)
    lines = [f"    {'process':<{width}}{head}"]
    for name in names:
        cells = ""
        for rate in rates:
            found = usage_by_rate[rate].get(name)
            cell = f"{found.cpu_share:5.2f}, {found.peak_pss_mib:>6,.0f}" if found else "-"
            cells += f"  {cell:>18}"
        lines.append(f"    {name:<{width}}{cells}")
    total = "".join(
        f"  {sum(u.cpu_share for u in usage_by_rate[rate].values()):>12.2f}      " for rate in rates
    )
    lines.append(f"    {'all of the above':<{width}}{total}")
    return lines
