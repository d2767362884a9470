"""A stand-in for a component's consumer, as its own process (the monitor's scenario tests).

    python -m tests.monitor_consumer BOOTSTRAP GROUP TOPIC MODE

MODE `commit`: consume and commit everything; `slow`: commit one record per second;
`nocommit`: stay a live member, read, never commit. Runs until killed.
"""

from __future__ import annotations

import sys
import time

from confluent_kafka import Consumer


def main(bootstrap: str, group: str, topics: str, mode: str) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
        }
    )
    consumer.subscribe(topics.split(","))
    print("ready", flush=True)
    while True:
        msg = consumer.poll(0.2)
        if msg is None or msg.error() is not None:
            continue
        if mode == "commit":
            consumer.commit(message=msg, asynchronous=False)
        elif mode == "slow":
            consumer.commit(message=msg, asynchronous=False)
            time.sleep(1.0)


if __name__ == "__main__":
    main(*sys.argv[1:5])
