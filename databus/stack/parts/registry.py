"""Apicurio Registry 3.x with in-memory storage and its Confluent-compatible API."""

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
        pid = self.spawn(
            [
                java(),
                "-Xms128m",
                "-Xmx384m",
                "-XX:+UseSerialGC",
                f"-Ddatabus.stack={self.marker}",
                "-Dquarkus.http.host=127.0.0.1",
                f"-Dquarkus.http.port={port}",
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
            extra={"jar": str(jar)},
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
