"""Personal names: normalisation and character rules (DESIGN.md §4).

Names are Unicode NFC, always: the same Vietnamese name can arrive composed ("ễ" as one code
point) or decomposed ("e" + circumflex + tilde) and must compare equal after `normalize_name`.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from schemas.domain.issues import Issue

NAME_MAX_LENGTH: Final = 100
"""Default maximum length of a name, in code points after normalisation."""

_PUNCTUATION: Final[frozenset[str]] = frozenset(" -'.")
_MARK_CATEGORIES: Final[frozenset[str]] = frozenset(("Mn", "Mc"))

# Messages are constants: they never contain the value that was checked.
_MSG_EMPTY: Final = "the name is required and is empty after normalisation"
_MSG_CHARACTERS: Final = (
    "the name must have at least one letter and only letters (with or without diacritics), "
    "spaces, hyphens, apostrophes and periods; digits, control characters and other symbols "
    "are not allowed"
)


def normalize_name(value: str) -> str:
    """``value`` in Unicode NFC, every run of whitespace (NBSP included) one space, stripped."""
    if not value.isascii():
        # The typographic apostrophe of names such as H’Hen is folded to the ASCII one.
        value = unicodedata.normalize("NFC", value).replace("\u2019", "'")
    return " ".join(value.split())


def _characters_ok(name: str) -> bool:
    """Whether ``name`` has a letter and only letters, their combining marks and punctuation."""
    if name.replace(" ", "").isalpha():
        return True
    seen_letter = False
    after_letter = False
    for char in name:
        if char.isalpha():
            seen_letter = after_letter = True
        elif char in _PUNCTUATION:
            after_letter = False
        elif not (after_letter and unicodedata.category(char) in _MARK_CATEGORIES):
            return False
    return seen_letter


def name_issues(
    value: str, field: str, *, required: bool = True, max_length: int = NAME_MAX_LENGTH
) -> list[Issue]:
    """Problems of a name, checked on its normalised form; an empty list if there are none.

    Rules: ``name.empty`` (only when ``required``), ``name.too_long`` (more than ``max_length``
    code points) and ``name.characters`` (at least one letter; letters with their combining marks,
    spaces, hyphens, apostrophes and periods only). Messages never contain the name.
    """
    name = normalize_name(value)
    if not name:
        return [Issue(field, "name.empty", _MSG_EMPTY)] if required else []
    if len(name) <= max_length and _characters_ok(name):
        return []
    issues: list[Issue] = []
    if len(name) > max_length:
        issues.append(
            Issue(
                field,
                "name.too_long",
                f"the name is longer than the maximum of {max_length} characters",
            )
        )
    if not _characters_ok(name):
        issues.append(Issue(field, "name.characters", _MSG_CHARACTERS))
    return issues
