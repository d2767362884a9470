"""Starting, probing and stopping the processes of the local stack, by pid file only."""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from databus.stack.errors import MissingToolError, StackError

LOCAL_PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 10_000


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, chosen below the kernel's
    ephemeral range when there is room: a port from that range (what binding port 0 gives)
    may be taken by any outgoing connection before the server binds it (a registry failed to
    start so, "port in use", in a test run)."""
    low = _ephemeral_low()
    for _ in range(50):
        if low - LOWEST_PORT < 1000:
            break
        port = random.randrange(LOWEST_PORT, low)
        if _bindable(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        chosen: int = sock.getsockname()[1]
        return chosen


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (32768 where it cannot be read)."""
    try:
        return int(LOCAL_PORT_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_tool(name: str, install_hint: str) -> str:
    """Full path of the program `name`, or a MissingToolError saying what to install."""
    path = shutil.which(name)
    if path is None:
        raise MissingToolError(name, install_hint)
    return path


def service_user(preferred: str) -> pwd.struct_passwd | None:
    """The unprivileged user to run a database as when we are root, else None (run as us)."""
    if os.geteuid() != 0:
        return None
    for name in (preferred, "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise StackError(f"running as root and neither {preferred!r} nor 'nobody' exists")


def chown_tree(path: Path, user: pwd.struct_passwd | None) -> None:
    """Give `path` and everything below it to `user` (no-op when not root)."""
    if user is None:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, user.pw_uid, user.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid)


def run_checked(
    argv: Sequence[str],
    *,
    what: str,
    log: Path,
    user: pwd.struct_passwd | None = None,
    timeout: float = 120.0,
    cwd: Path | None = None,
) -> str:
    """Run a short command to completion; its output goes to `log` and is returned."""
    with log.open("ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        try:
            proc = subprocess.run(
                list(argv),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                cwd=cwd,
                check=False,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
            )
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"{what} did not finish within {timeout:.0f} s (log: {log})") from exc
        out.write(proc.stdout)
    text = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        raise StackError(
            f"{what} failed with exit code {proc.returncode} (log: {log}):\n{tail(text)}"
        )
    return text


def spawn(
    argv: Sequence[str],
    *,
    log: Path,
    pid_file: Path,
    user: pwd.struct_passwd | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> int:
    """Start a long-running server in its own session, logging to `log`; return its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def is_ours(pid: int, marker: str) -> bool:
    """Whether `pid` is a live (not zombie) process whose command line contains `marker`.

    A process that is still inside execve has an empty command line for a moment (the kernel
    sets it after our Popen already returned), so an empty one is read again before judging.
    """
    _reap(pid)
    deadline = time.monotonic() + 2.0
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            return False
        state = stat.rsplit(")", 1)[1].split()[0]
        if state == "Z":
            return False
        if raw or time.monotonic() >= deadline:
            return marker in raw.replace(b"\0", b" ").decode(errors="replace")
        time.sleep(0.02)


def _reap(pid: int) -> None:
    """Collect the exit status of our own child so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop(pid: int, marker: str, *, sig: int = signal.SIGTERM, grace: float = 30.0) -> bool:
    """Stop the process `pid` if it is still ours: `sig`, then SIGKILL of its group after `grace`.

    Returns whether it had to be killed. A pid that is gone, or now belongs to a process
    that is not ours (pid reuse), is left alone.
    """
    if not is_ours(pid, marker):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    if wait_for(lambda: not is_ours(pid, marker), grace):
        _kill_group(pid)
        return False
    _kill_group(pid)
    wait_for(lambda: not is_ours(pid, marker), 10.0)
    return True


def _kill_group(pid: int) -> None:
    """SIGKILL what is left of the session the launcher gave the process (its helpers)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; return whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def tail(text: str, lines: int = 20) -> str:
    """The last `lines` lines of `text`, for error messages that point at a log."""
    return "\n".join(text.splitlines()[-lines:])


def tail_file(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of a log file, or a note that it is empty."""
    try:
        return tail(path.read_text(errors="replace"), lines) or "(log is empty)"
    except FileNotFoundError:
        return "(no log written)"
