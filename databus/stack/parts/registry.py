"""Apicurio Registry 3.x with durable storage and its Confluent-compatible API.

Storage: Apicurio 3's SQL storage on a file-backed H2 database in the part's run directory
(`registry/data/`). Its default is the same H2 in memory, so this changes one URL and needs no
other part: the registry answers without PostgreSQL and starts as fast as before, while a
restart of the part (`Stack.stop_part` / `start_part`) keeps every schema id, so records
already on the bus still decode. `stack up` of a stopped stack still begins empty (throwaway
servers, docs/local-stack.md). Production uses the same SQL storage on PostgreSQL
(`deploy/k8s/registry.yaml`).
"""

from __future__ import annotations

import httpx

from databus.stack.artifacts import apicurio_home, apicurio_launch_jar, java
from databus.stack.errors import StackError
from databus.stack.part import Part
from databus.stack.process import free_port
from databus.stack.state import PartRecord

CCOMPAT_PATH = "/apis/ccompat/v7"
COMPATIBILITY = "BACKWARD_TRANSITIVE"


class RegistryPart(Part):
    """Apicurio Registry on loopback; global compatibility set and verified at start."""

    name = "registry"

    def launch(self) -> PartRecord:
        self.fresh_run_dir()
        jar = apicurio_launch_jar(apicurio_home(self.cache_dir, self.log))
        port = free_port()
        data = self.run_dir / "data"
        data.mkdir()
        pid = self.spawn(
            [
                java(),
                "-Xms128m",
                "-Xmx384m",
                "-XX:+UseSerialGC",
                f"-Ddatabus.stack={self.marker}",
                "-Dquarkus.http.host=127.0.0.1",
                f"-Dquarkus.http.port={port}",
                "-Dapicurio.storage.kind=sql",
                "-Dapicurio.storage.sql.kind=h2",
                f"-Dapicurio.datasource.url=jdbc:h2:file:{data / 'registry'}",
                "-Dquarkus.log.level=INFO",
                "-jar",
                str(jar),
            ],
            cwd=self.run_dir,
        )
        address = f"127.0.0.1:{port}"
        return PartRecord(
            name=self.name,
            pid=pid,
            address=address,
            url=f"http://{address}{CCOMPAT_PATH}",
            log=str(self.log),
            marker=self.marker,
            extra={"jar": str(jar), "data": str(data)},
        )

    def probe(self, record: PartRecord) -> bool:
        try:
            return httpx.get(f"{record.url}/subjects", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def on_ready(self, record: PartRecord) -> None:
        set_global_compatibility(record.url, COMPATIBILITY)


def set_global_compatibility(url: str, level: str) -> None:
    """Set the registry-wide compatibility rule and read it back (Apicurio has none by default)."""
    response = httpx.put(f"{url}/config", json={"compatibility": level}, timeout=10)
    response.raise_for_status()
    current = httpx.get(f"{url}/config", timeout=10).json().get("compatibilityLevel")
    if current != level:
        raise StackError(f"registry compatibility is {current!r} after setting {level!r}")
