"""A throwaway PostgreSQL server from the Debian binaries, in a data directory of ours."""

from __future__ import annotations

import signal
from pathlib import Path

import psycopg

from databus.stack.errors import MissingToolError
from databus.stack.part import Part
from databus.stack.process import free_port, run_checked, service_user
from databus.stack.state import PartRecord

DATABASE = "databus"
ROLE = "databus"
_HINT = "install PostgreSQL (apt-get install postgresql)"


def postgres_bin() -> Path:
    """Directory of initdb/postgres: the newest /usr/lib/postgresql/<major>/bin."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise MissingToolError("postgres", _HINT)
    return found[-1].parent


class PostgresPart(Part):
    """PostgreSQL on loopback TCP only, trust auth, a `databus` role and database."""

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for clients to leave

    def launch(self) -> PartRecord:
        bindir = postgres_bin()
        self.fresh_run_dir()
        user = service_user("postgres")
        service_dir = self.service_dir(user)
        data = service_dir / "data"
        run_checked(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "--auth=trust",
                f"--username={ROLE}",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            what="initdb",
            log=self.log,
            user=user,
        )
        port = free_port()
        pid = self.spawn(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=256MB",
                "-c",
                "max_wal_size=2GB",
            ],
            user=user,
        )
        address = f"127.0.0.1:{port}"
        return PartRecord(
            name=self.name,
            pid=pid,
            address=address,
            url=f"postgresql+psycopg://{ROLE}@{address}/{DATABASE}",
            log=str(self.log),
            marker=str(data),
            extra={"bin": str(bindir), "service_dir": str(service_dir)},
        )

    def probe(self, record: PartRecord) -> bool:
        host, port = record.address.split(":")
        try:
            with psycopg.connect(
                host=host, port=int(port), user=ROLE, dbname="postgres", connect_timeout=2
            ) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def on_ready(self, record: PartRecord) -> None:
        host, port = record.address.split(":")
        with psycopg.connect(
            host=host, port=int(port), user=ROLE, dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
