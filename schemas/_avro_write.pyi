"""Types of the compiled Avro writer (`_avro_write.pyx`)."""

from collections.abc import Callable, Mapping
from typing import Any

from schemas.avro_write_program import Form, Program

class AvroWriter:
    """Appends the Avro binary of a value to a bytearray."""

    def __init__(
        self, program: Program, form: Form, helpers: Mapping[str, Callable[..., Any]]
    ) -> None: ...
    def __call__(self, value: Any, out: bytearray) -> None: ...
    def field_parts(self, value: Any) -> list[bytes]: ...
