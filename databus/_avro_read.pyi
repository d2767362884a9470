"""Types of the compiled Avro reader (`_avro_read.pyx`)."""

from typing import Any

from databus.avro_read_program import Program

class AvroReader:
    """Reads an Avro body into its datum."""

    def __init__(self, program: Program) -> None: ...
    def __call__(self, body: bytes) -> dict[str, Any]: ...
