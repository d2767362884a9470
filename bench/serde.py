"""bench/serde: validate + encode (+ decode) per event, beside raw fastavro on the same records.

"validate + encode" is what the SDK does with an event's plain data: the compiled checker
(`schemas.fast_events`) validates it and writes its Avro, pydantic only for data it does not
take; the row below it validates every event into its pydantic model, as before.

    .venv/bin/python -m bench.serde [--events N]

Needs the registry of the local stack (`databus stack up`): the serde registers the schemas
there; after the first record the schema id is cached, so the loop measures CPU only. Runs on
one core. Prints events/s of each path and the ratio to raw fastavro `schemaless_writer`.
"""

from __future__ import annotations

import argparse
import gc
import io
import time
from collections.abc import Callable
from pathlib import Path

import fastavro
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from bench.common import RESULTS, machine, pin_to_one_core, write_result
from bench.sample_events import sample_events
from databus.registry import registry_client
from databus.serde import Decoder, Encoder
from databus.settings import Settings
from schemas.avro_files import schema_dict, schema_text
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS, EventDomain
from schemas.codec import event_from_data, to_datum

TOPIC_PREFIX = "bench.serde."


def _domain(event_type: str) -> EventDomain:
    return next(d for d in EVENT_DOMAINS.values() if EVENT_CLASSES[event_type] in d.events)


def _rate(count: int, loop: Callable[[], None]) -> float:
    gc.collect()
    start = time.perf_counter()
    loop()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write serde.json")
    args = parser.parse_args()
    pin_to_one_core()
    client = registry_client(Settings().endpoints.registry_url)
    data = sample_events(args.events)
    work = [(d, _domain(d["event_type"])) for d in data]
    domains = {d.name: d for _, d in work}
    encoders = {
        n: Encoder(client, f"{TOPIC_PREFIX}{d.record_name}", d.record_name, auto_register=True)
        for n, d in domains.items()
    }
    decoders = {n: Decoder(client, f"{TOPIC_PREFIX}{d.record_name}", d) for n, d in domains.items()}
    parsed = {n: fastavro.parse_schema(schema_dict(d.record_name)) for n, d in domains.items()}
    ctx = {
        n: SerializationContext(f"{TOPIC_PREFIX}{d.record_name}", MessageField.VALUE)
        for n, d in domains.items()
    }
    serializers = {
        n: AvroSerializer(
            client,
            schema_text(d.record_name),
            to_dict=lambda r, _c: to_datum(r),
            conf={"subject.name.strategy.type": "TOPIC"},
        )
        for n, d in domains.items()
    }
    for d, domain in work[:10]:  # warm up: registration, caches
        event = event_from_data(domain, d)
        decoders[domain.name].decode(encoders[domain.name].encode(event))
        serializers[domain.name](event, ctx[domain.name])

    datums = [(to_datum(event_from_data(dom, d)), dom.name) for d, dom in work]
    buffer = io.BytesIO()

    def raw_fastavro() -> None:
        for datum, name in datums:
            buffer.seek(0)
            buffer.truncate()
            fastavro.schemaless_writer(buffer, parsed[name], datum)

    values: list[tuple[bytes, str]] = []

    def validate_encode() -> None:  # as the SDK publishes plain data
        for d, dom in work:
            encoder = encoders[dom.name]
            value = encoder.encode_data(d) or encoder.encode(event_from_data(dom, d))
            values.append((value, dom.name))

    def validate_encode_models() -> None:
        for d, dom in work:
            encoders[dom.name].encode(event_from_data(dom, d))

    def validate_avroserializer() -> None:
        for d, dom in work:
            serializers[dom.name](event_from_data(dom, d), ctx[dom.name])

    def decode_validate() -> None:
        for value, name in values:
            decoders[name].decode(value)

    n = len(work)
    raw = _rate(n, raw_fastavro)
    ours = _rate(n, validate_encode)
    models = _rate(n, validate_encode_models)
    plain = _rate(n, validate_avroserializer)
    decode = _rate(n, decode_validate)
    full = 1 / (1 / ours + 1 / decode)
    rows: list[tuple[str, float]] = [
        ("raw fastavro schemaless_writer (pre-built datums, no validation)", raw),
        ("ours: validate + encode (compiled checker, Confluent framing)", ours),
        ("ours: validate into pydantic models + encode (compiled writer)", models),
        ("ours: validate + encode through AvroSerializer every record", plain),
        ("ours: decode (AvroDeserializer) + validate", decode),
        ("ours: validate + encode + decode", full),
    ]
    print(f"bench/serde on {machine()}, one core, {n} events (mixed types)")
    for label, rate in rows:
        print(f"  {rate:>10,.0f} events/s  {label}")
    print(f"  ratio validate+encode / raw fastavro = {ours / raw:.2f}")
    print(
        f"  target validate+encode >= 100,000 events/s per core: "
        f"{'met' if ours >= 100_000 else 'NOT met'} ({ours:,.0f})"
    )
    path = write_result(
        "serde",
        "validate+encode events/s per core",
        ours,
        raw,
        unit="events/s",
        command="python -m bench.serde",
        results_dir=args.results,
        events=n,
        target=100_000,
        validate_encode_models=round(models, 1),
        validate_encode_avroserializer=round(plain, 1),
        decode_validate=round(decode, 1),
        validate_encode_decode=round(full, 1),
    )
    print(f"  wrote {path}")


if __name__ == "__main__":
    main()
