"""A throwaway MariaDB server from the Debian binaries, in a data directory of ours."""

from __future__ import annotations

import shutil

import pymysql

from databus.stack.part import Part
from databus.stack.process import free_port, require_tool, run_checked, service_user
from databus.stack.state import PartRecord

DATABASE = "databus"
ROLE = "databus"
_HINT = "install MariaDB (apt-get install mariadb-server)"


class MariaDBPart(Part):
    """MariaDB on loopback, a `databus` user (no password) owning a `databus` database."""

    name = "mariadb"

    def launch(self) -> PartRecord:
        install_db = require_tool("mariadb-install-db", _HINT)
        server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
        if server is None:
            require_tool("mariadbd", _HINT)
        self.fresh_run_dir()
        user = service_user("mysql")
        service_dir = self.service_dir(user)
        data = service_dir / "data"
        run_checked(
            [
                install_db,
                "--no-defaults",
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
            what="mariadb-install-db",
            log=self.log,
            user=user,
        )
        port = free_port()
        socket = service_dir / "mariadb.sock"
        pid = self.spawn(
            [
                str(server),
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={socket}",
                f"--port={port}",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                f"--pid-file={service_dir / 'mariadbd.pid'}",
                "--innodb-buffer-pool-size=256M",
                "--max-connections=200",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
            ],
            user=user,
        )
        address = f"127.0.0.1:{port}"
        return PartRecord(
            name=self.name,
            pid=pid,
            address=address,
            url=f"mysql+pymysql://{ROLE}@{address}/{DATABASE}?charset=utf8mb4",
            log=str(self.log),
            marker=str(data),
            extra={"socket": str(socket), "service_dir": str(service_dir)},
        )

    def probe(self, record: PartRecord) -> bool:
        try:
            conn = pymysql.connect(
                unix_socket=record.extra["socket"], user="root", connect_timeout=2
            )
        except pymysql.MySQLError:
            return False
        conn.close()
        return True

    def on_ready(self, record: PartRecord) -> None:
        conn = pymysql.connect(unix_socket=record.extra["socket"], user="root", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}` CHARACTER SET utf8mb4")
                cur.execute(f"CREATE USER IF NOT EXISTS '{ROLE}'@'127.0.0.1'")
                cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{ROLE}'@'127.0.0.1'")
        finally:
            conn.close()
