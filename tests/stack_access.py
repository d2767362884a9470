"""What the test harnesses of every stack (plain, secure, cluster) share: its addresses, read from
its state file, and fresh PostgreSQL databases dropped after the test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from databus.stack.state import StackState


class StackAddresses:
    """Addresses of a running stack, from `self.state` (a field or a property of the class)."""

    if TYPE_CHECKING:

        @property
        def state(self) -> StackState: ...

    @property
    def registry_url(self) -> str:
        url = self.state.registry_url()
        assert url
        return url

    def database_url(self, name: str) -> str:
        url = self.state.database_url(name)
        assert url, f"{name} is not part of the stack"
        return url


@contextmanager
def fresh_databases(server_url: str, prefix: str) -> Iterator[Callable[[], str]]:
    """A factory of new databases on the PostgreSQL of `server_url`, all dropped at the end."""
    import sqlalchemy as sa

    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"{prefix}{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return server_url.rsplit("/", 1)[0] + f"/{name}"

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
