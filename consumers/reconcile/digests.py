"""Bucketed digests of sector rows: which buckets of PINs differ, without shipping rows.

A PIN's bucket is a hash of the PIN modulo the bucket count (256 by default), so drift spreads
over buckets independently of PIN prefixes (birth province, century). A bucket's digest is
the sum, modulo 2^128, of a 128-bit BLAKE2b hash of each of its rows: the same set of rows
gives the same digest in any order, so neither side has to sort, and the two databases'
collations do not matter. What is hashed is the row's content, (PIN, deceased, record text);
the version is left out on purpose (see `check.py`).
"""

from __future__ import annotations

from hashlib import blake2b

MODULUS = 1 << 128


def bucket_of(pin: str, buckets: int) -> int:
    """The bucket of a PIN."""
    return int.from_bytes(blake2b(pin.encode(), digest_size=8).digest(), "big") % buckets


def row_hash(pin: str, deceased: bool, record: str | None) -> int:
    """A 128-bit hash of a row's content (an erased record hashes apart from any text)."""
    text = "\x00" if record is None else f"\x01{record}"
    data = f"{pin}\x1f{int(deceased)}\x1f{text}".encode()
    return int.from_bytes(blake2b(data, digest_size=16).digest(), "big")


class BucketDigests:
    """Row counts and order-independent digests per bucket, for one side."""

    def __init__(self, buckets: int) -> None:
        self.buckets = buckets
        self.sums = [0] * buckets
        self.counts = [0] * buckets

    def add(self, bucket: int, digest: int) -> None:
        """Count a row (its bucket and `row_hash`)."""
        self.sums[bucket] = (self.sums[bucket] + digest) % MODULUS
        self.counts[bucket] += 1

    @property
    def rows(self) -> int:
        """Rows counted."""
        return sum(self.counts)

    def hex(self, bucket: int) -> str:
        """A bucket's digest as 32 hex digits."""
        return f"{self.sums[bucket]:032x}"

    def differing(self, other: BucketDigests) -> list[int]:
        """Buckets whose rows differ between the two sides."""
        return [
            b
            for b in range(self.buckets)
            if self.sums[b] != other.sums[b] or self.counts[b] != other.counts[b]
        ]
