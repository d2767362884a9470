"""Types of the compiled transcoder (`_avro_json.pyx`)."""

from consumers.sink.json_program import Program

class JsonReader:
    """Reads one Avro record into its stored JSON text."""

    def __init__(self, program: Program) -> None: ...
    def __call__(self, body: bytes, position: int) -> tuple[str, int]: ...
