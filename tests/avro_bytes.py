"""Avro byte helpers of the tests of the compiled readers and writers."""

from __future__ import annotations

from schemas.avro_writer import zigzag


def varint(n: int) -> bytes:
    """Avro `long` `n`: zig-zag, then base-128 varint (held to the spec by test_avro_writer)."""
    return zigzag(n)


def has_overlong_varint(body: bytes) -> bool:
    """Whether `body` holds a run of 9 or more continuation bytes: a varint that may pass 64
    bits (not Avro), which the compiled readers refuse and Python reads as a big integer."""
    run = 0
    for byte in body:
        run = run + 1 if byte & 0x80 else 0
        if run >= 9:
            return True
    return False
