"""The population database's version of every citizen, 16 bytes each, for the digest pass.

Content digests leave versions out (a live sector's versions may lag), so a sector row whose
only fault is a version above its citizen's would hide in an equal bucket, and the sink's guard
would refuse the citizen's next releases. Holding every (PIN, version) as two sorted 64-bit
arrays (16 MB for a million citizens) lets the digest pass check each sector row's version as
it streams by, and mark its bucket as differing.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left


class VersionIndex:
    """Sorted (PIN, version) pairs; PINs are 12-digit numbers, held as integers."""

    def __init__(self) -> None:
        self._pins = array("q")
        self._versions = array("q")
        self._sorted = True

    def add(self, pin: str, version: int) -> None:
        """Record a citizen's version (in PIN order is fastest; any order works)."""
        key = int(pin)
        if self._pins and key <= self._pins[-1]:
            self._sorted = False
        self._pins.append(key)
        self._versions.append(version)

    def seal(self) -> None:
        """Sort, if the pairs did not come in PIN order (call once, after the last `add`)."""
        if self._sorted:
            return
        order = sorted(range(len(self._pins)), key=self._pins.__getitem__)
        self._pins = array("q", (self._pins[i] for i in order))
        self._versions = array("q", (self._versions[i] for i in order))
        self._sorted = True

    def version(self, pin: str) -> int | None:
        """The citizen's version, or None if the PIN is no citizen."""
        if not (len(pin) == 12 and pin.isascii() and pin.isdigit()):
            return None
        key = int(pin)
        at = bisect_left(self._pins, key)
        if at < len(self._pins) and self._pins[at] == key:
            return self._versions[at]
        return None
