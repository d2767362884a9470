"""Types of the compiled event checker (`_fast_check.pyx`)."""

from collections.abc import Iterable
from typing import Any

from schemas.fast_program import Node

class FastChecker:
    """Checks an event's plain data and appends its Avro body to a bytearray."""

    def __init__(
        self, program: Node, place_codes: Iterable[str], valid_names: dict[str, str]
    ) -> None: ...
    def __call__(self, data: dict[str, Any], out: bytearray, /) -> bool: ...
