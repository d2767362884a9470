"""The matching rules of verification: pure functions, standard library only.

A claimed name and the NPD's name are compared in two steps:

- `fold`: Unicode NFC, every run of whitespace one space (stripped), case folded. Two names
  equal after `fold` MATCH: they are the same name written the same way.
- `skeleton`: `fold`, then every diacritic removed (canonical decomposition, combining marks
  dropped) and đ/Đ turned into d explicitly (đ is a letter of its own, with no decomposition).
  Two names equal only after `skeleton` MATCH_IGNORING_DIACRITICS ("NGUYEN VAN DUNG" for
  "Nguyễn Văn Dũng"); anything else is a MISMATCH.

Other fields (date of birth, sex, identity card number) are compared exactly, after trimming.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Final

from schemas.models.downstream import FieldVerdict

_D_STROKE: Final = str.maketrans({"đ": "d", "Đ": "D"})


def collapse(text: str) -> str:
    """`text` in NFC with every run of whitespace (NBSP included) one space, stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


@lru_cache(maxsize=65_536)
def fold(text: str) -> str:
    """The form in which two names MATCH: NFC, whitespace collapsed, case folded."""
    return unicodedata.normalize("NFC", collapse(text).casefold())


def strip_diacritics(text: str) -> str:
    """`text` without diacritics: combining marks removed, đ/Đ -> d/D; result in NFC."""
    decomposed = unicodedata.normalize("NFD", text.translate(_D_STROKE))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare)


@lru_cache(maxsize=65_536)
def skeleton(text: str) -> str:
    """The form in which two names MATCH_IGNORING_DIACRITICS: `fold` without diacritics."""
    return strip_diacritics(fold(text))


def compare_name(claimed: str, actual: str | None) -> FieldVerdict:
    """MATCH, MATCH_IGNORING_DIACRITICS or MISMATCH of a claimed name against the NPD's."""
    if actual is None:
        return FieldVerdict.MISMATCH
    if fold(claimed) == fold(actual):
        return FieldVerdict.MATCH
    if skeleton(claimed) == skeleton(actual):
        return FieldVerdict.MATCH_IGNORING_DIACRITICS
    return FieldVerdict.MISMATCH


def compare_exact(claimed: str, actual: str | None) -> FieldVerdict:
    """MATCH when the trimmed texts are equal, else MISMATCH (dates, sex, card numbers)."""
    if actual is not None and claimed.strip() == actual.strip():
        return FieldVerdict.MATCH
    return FieldVerdict.MISMATCH
