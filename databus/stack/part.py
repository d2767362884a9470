"""What every part of the local stack (broker, registry, database) provides to the launcher."""

from __future__ import annotations

import pwd
import shutil
import signal
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from databus.stack.errors import StackError
from databus.stack.process import chown_tree, is_ours, spawn, tail_file
from databus.stack.state import PartRecord


class Part(ABC):
    """One server of the stack, started fresh in `<stack_dir>/<name>` on free loopback ports."""

    name: ClassVar[str]
    ready_timeout: ClassVar[float] = 90.0
    stop_signal: ClassVar[int] = signal.SIGTERM

    def __init__(self, stack_dir: Path, cache_dir: Path) -> None:
        self.stack_dir = stack_dir.resolve()
        self.cache_dir = cache_dir
        self.run_dir = self.stack_dir / self.name
        self.log = self.run_dir / f"{self.name}.log"
        self.pid_file = self.stack_dir / f"{self.name}.pid"
        self.last_spawn: dict[str, object] = {}

    @property
    def marker(self) -> str:
        """Every process we start carries the stack directory on its command line."""
        return str(self.run_dir)

    def spawn(
        self, argv: list[str], *, user: pwd.struct_passwd | None = None, cwd: Path | None = None
    ) -> int:
        """Start the server process and remember how, so that `respawn` can start it again."""
        self.last_spawn = {
            "argv": list(argv),
            "user": user.pw_name if user else None,
            "cwd": str(cwd) if cwd else None,
        }
        return spawn(argv, log=self.log, pid_file=self.pid_file, user=user, cwd=cwd)

    def respawn(self, record: PartRecord) -> PartRecord:
        """Start a stopped part again with the same command, ports and data; wait until ready."""
        spec = record.extra.get("spawn")
        if not spec:
            raise StackError(f"{self.name} was started without a respawn spec; restart the stack")
        user = pwd.getpwnam(spec["user"]) if spec["user"] else None
        cwd = Path(spec["cwd"]) if spec["cwd"] else None
        pid = spawn(spec["argv"], log=self.log, pid_file=self.pid_file, user=user, cwd=cwd)
        again = record.model_copy(update={"pid": pid})
        self.wait_ready(again)
        return again

    def service_dir(self, user: pwd.struct_passwd | None) -> Path:
        """A fresh directory for a database's data and socket, reachable by its service user.

        It lives in the system temp dir (world-traversable, short paths for unix sockets),
        because the stack directory may sit under a path the service user cannot enter.
        """
        path = Path(tempfile.mkdtemp(prefix=f"databus-{self.name}-"))
        chown_tree(path, user)
        return path

    def fresh_run_dir(self) -> None:
        """Throwaway servers: every start begins with an empty data directory."""
        if self.run_dir.exists():
            shutil.rmtree(self.run_dir)
        self.run_dir.mkdir(parents=True)

    @abstractmethod
    def launch(self) -> PartRecord:
        """Prepare tools, artifacts and data, spawn the server, and return its record."""

    @abstractmethod
    def probe(self, record: PartRecord) -> bool:
        """Whether the server answers a real request now (not merely a bound port)."""

    def on_ready(self, record: PartRecord) -> None:  # noqa: B027 - optional hook
        """Work to do once the server answers (settings, users, databases)."""

    def cleanup(self, record: PartRecord) -> None:
        """Remove what the part left outside its run directory (its service dir)."""
        service_dir = record.extra.get("service_dir")
        if service_dir:
            shutil.rmtree(service_dir, ignore_errors=True)

    def wait_ready(self, record: PartRecord) -> None:
        """Wait until `probe` succeeds; fail fast with the log's tail if the process died."""
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if not is_ours(record.pid, record.marker):
                raise StackError(
                    f"{self.name} exited during start-up (log: {record.log}):\n"
                    f"{tail_file(Path(record.log))}"
                )
            if self.probe(record):
                self.on_ready(record)
                return
            time.sleep(0.5)
        raise StackError(
            f"{self.name} did not answer on {record.address} within {self.ready_timeout:.0f} s "
            f"(log: {record.log}):\n{tail_file(Path(record.log))}"
        )
