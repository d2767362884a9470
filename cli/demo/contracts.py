"""Demo step: the data contracts. Every example event validates, goes through the registry
serde and comes back equal; a bad event is refused with field and rule, and no value; the
compiled Avro writer and reader give the generated Python code's bytes and datums; the compiled
event checker takes every example and writes the model path's bytes, several times faster."""

from __future__ import annotations

import copy
import time
import unicodedata

from rich.table import Table

from cli.output import console
from databus import avro_reader
from databus.avro_reader import compile_reader
from databus.contracts import binding_for
from databus.registry import registry_client
from databus.serde import Decoder, Encoder
from databus.topology.model import Topology
from databus.topology.topics import Topics
from schemas import avro_writer
from schemas.avro_files import schema_dict
from schemas.avro_writer import compile_writer
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS
from schemas.codec import event_from_data
from schemas.domain import ContractError
from schemas.event_types import EVENT_TYPES_BY_NAME
from schemas.examples import EXAMPLES
from schemas.fast_events import FastEvents


def show_contracts(registry_url: str, topology: Topology, topics: Topics) -> bool:
    """Round-trip every example through the registry; show one refusal. True if all held."""
    client = registry_client(registry_url)
    table = Table("event type", "topic", "schema id", "bytes", "round trip")
    ok = True
    encoders: dict[str, Encoder] = {}
    for event_type, example in EXAMPLES.items():
        domain = EVENT_DOMAINS[EVENT_TYPES_BY_NAME[event_type].domain]
        source = topology.source_of_event_type(event_type)
        topic = topics.source_topic(source) if source else "?"
        binding = binding_for(topics, topic)
        encoder = encoders.setdefault(topic, Encoder(client, topic, binding.schema_name))
        event = event_from_data(domain, example)
        value = encoder.encode(event)
        same = Decoder(client, topic, domain).decode(value) == event
        ok &= same
        table.add_row(
            event_type,
            topic,
            str(encoder.schema_id),
            str(len(value)),
            "[green]equal[/]" if same else "[red]differs[/]",
        )
    console.print(table)

    bad = copy.deepcopy(EXAMPLES["BirthRegistered"])
    pin = bad["subject_pin"]
    bad["subject_pin"] = pin[:3] + "0" + pin[4:]  # 1900s male: contradicts a 2024 girl
    bad["payload"]["name"]["given_name"] = unicodedata.normalize("NFD", "Ánh")
    try:
        event_from_data(EVENT_DOMAINS["civil-status"], bad)
        console.print("[red]the bad event was accepted[/]")
        ok = False
    except ContractError as exc:
        console.print("refused at the edge, no personal value in the message:")
        console.print(f"  {exc}", markup=False, highlight=False)
    fixed = {**bad, "subject_pin": pin}
    name = event_from_data(EVENT_DOMAINS["civil-status"], fixed).payload.name.given_name
    console.print(
        f"a decomposed given name ({len(bad['payload']['name']['given_name'])} code "
        f"points) is stored NFC ({len(name)} code points): "
        f"{'yes' if unicodedata.is_normalized('NFC', name) else 'NO'}"
    )
    ok &= _show_compiled()
    ok &= _show_checker()
    assert set(EXAMPLES) == set(EVENT_CLASSES)
    return ok


def _show_compiled() -> bool:
    """Every example through the compiled writer and reader (docs/architecture.md, "The
    compiled parts") beside the generated Python ones: the same bytes, the same datum."""
    same = 0
    for event_type, example in EXAMPLES.items():
        domain = EVENT_DOMAINS[EVENT_TYPES_BY_NAME[event_type].domain]
        schema = schema_dict(domain.record_name)
        event = event_from_data(domain, example)
        bodies = []
        for compiled in (True, False):
            out = bytearray()
            compile_writer(schema, compiled=compiled)(event, out)
            bodies.append(bytes(out))
        readers = [compile_reader(schema, compiled=c) for c in (True, False)]
        datums = [r(bodies[0]) if r is not None else None for r in readers]
        same += bodies[0] == bodies[1] and datums[0] is not None and datums[0] == datums[1]
    built = avro_writer.COMPILED and avro_reader.COMPILED
    console.print(
        f"compiled Avro writer and reader (C): {'built' if built else '[red]not built[/]'}; "
        f"{same} of {len(EXAMPLES)} examples give the generated Python code's bytes and datum"
    )
    return built and same == len(EXAMPLES)


def _show_checker() -> bool:
    """Every example through the compiled event checker (docs/architecture.md, "The compiled
    event checker") beside pydantic and the writer: the same bytes, and each path's cost."""
    checkers = {name: FastEvents(domain) for name, domain in EVENT_DOMAINS.items()}
    work = []
    for event_type, example in EXAMPLES.items():
        name = EVENT_TYPES_BY_NAME[event_type].domain
        domain = EVENT_DOMAINS[name]
        work.append(
            (example, domain, checkers[name], compile_writer(schema_dict(domain.record_name)))
        )
    taken = 0
    for example, domain, checker, writer in work:
        model_bytes, fast_bytes = bytearray(), bytearray()
        writer(event_from_data(domain, example), model_bytes)  # pydantic caches the names
        taken += checker.encode(example, fast_bytes) and fast_bytes == model_bytes
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        for example, domain, _checker, writer in work:
            writer(event_from_data(domain, example), bytearray())
    model_us = (time.perf_counter() - started) / (rounds * len(work)) * 1e6
    started = time.perf_counter()
    for _ in range(rounds):
        for example, _domain, checker, _writer in work:
            checker.encode(example, bytearray())
    fast_us = (time.perf_counter() - started) / (rounds * len(work)) * 1e6
    console.print(
        f"compiled event checker (C): {taken} of {len(EXAMPLES)} examples validated and written "
        f"without a model, the model path's bytes; {fast_us:.1f} µs an event against "
        f"{model_us:.1f} through pydantic"
    )
    return taken == len(EXAMPLES)
