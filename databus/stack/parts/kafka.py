"""Apache Kafka 4.x, one node in KRaft mode (broker and controller), from Maven Central jars."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from databus.stack.artifacts import LOCAL_DEPLOY, java, kafka_libs
from databus.stack.part import Part
from databus.stack.process import free_port, run_checked
from databus.stack.state import PartRecord

HEAP = ["-Xms256m", "-Xmx512m"]


class KafkaPart(Part):
    """Single-node KRaft broker on loopback, automatic topic creation off."""

    name = "kafka"

    def launch(self) -> PartRecord:
        java_bin = java()
        self.fresh_run_dir()
        libs = kafka_libs(self.cache_dir, self.log)
        port, controller_port = free_port(), free_port()
        props = self.run_dir / "server.properties"
        props.write_text(self.server_properties(port, controller_port))
        classpath = f"{libs}/*"
        base = java_command(java_bin, HEAP)
        cluster_id = (
            run_checked(
                [*base, "-cp", classpath, "kafka.tools.StorageTool", "random-uuid"],
                what="kafka-storage random-uuid",
                log=self.log,
            )
            .strip()
            .splitlines()[-1]
        )
        format_storage(base, classpath, cluster_id, props, self.log, self.format_options())
        extra = {
            "controller": f"127.0.0.1:{controller_port}",
            "cluster_id": cluster_id,
            "libs": str(libs),
        }
        return start_broker(self, base, classpath, props, port, extra)

    def server_properties(self, port: int, controller_port: int) -> str:
        """The broker's `server.properties` text (the secure stack adds TLS, SASL and ACLs)."""
        return _server_properties(port, controller_port, self.run_dir / "data")

    def format_options(self) -> list[str]:
        """Extra options of `kafka-storage format` (the secure stack bootstraps its admin)."""
        return []

    def client_config(self, record: PartRecord) -> dict[str, Any]:
        """What a client of this broker needs besides the bootstrap address."""
        return {}

    def probe(self, record: PartRecord) -> bool:
        admin = AdminClient(
            {
                "bootstrap.servers": record.url,
                "socket.timeout.ms": 2000,
                **self.client_config(record),
            }
        )
        try:
            admin.list_topics(timeout=2)
        except Exception:
            return False
        return True


def java_command(java_bin: str, heap: list[str]) -> list[str]:
    """The JVM's command line up to the class path: heap and our log4j2 configuration."""
    log4j = LOCAL_DEPLOY / "kafka" / "log4j2.properties"
    return [java_bin, *heap, f"-Dlog4j2.configurationFile={log4j}"]


def start_broker(
    part: Part, base: list[str], classpath: str, props: Path, port: int, extra: Mapping[str, object]
) -> PartRecord:
    """Spawn `kafka.Kafka` with `props` for `part` (marked as ours); its record, listening on
    loopback `port`."""
    pid = part.spawn(
        [*base, f"-Ddatabus.stack={part.marker}", "-cp", classpath, "kafka.Kafka", str(props)],
    )
    address = f"127.0.0.1:{port}"
    return PartRecord(
        name=part.name,
        pid=pid,
        address=address,
        url=address,
        log=str(part.log),
        marker=part.marker,
        extra=dict(extra),
    )


def format_storage(
    base: list[str],
    classpath: str,
    cluster_id: str,
    props: Path,
    log: Path,
    options: list[str] | None = None,
    what: str = "kafka-storage format",
) -> None:
    """`kafka-storage format` of one node's log directories (a no-op when already formatted)."""
    run_checked(
        [
            *base,
            *("-cp", classpath, "kafka.tools.StorageTool", "format"),
            *("-t", cluster_id, "-c", str(props), "--ignore-formatted"),
            *(options or []),
        ],
        what=what,
        log=log,
    )


def _server_properties(port: int, controller_port: int, log_dir: object) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.flush.interval.messages": "9223372036854775807",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())
