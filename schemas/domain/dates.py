"""Dates and timestamps: not in the future, not before 1900, timestamps with a time zone.

"Today" and "now" default to the latest clock on earth (UTC+14): a date is in the future only
once it is in the future everywhere, so a birth registered abroad, or in Vietnam (UTC+7) while
the servers run on UTC, is never refused because of the time zone. Pass ``today``/``now`` to
check against another clock, and to avoid reading the clock once per event.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Final

from schemas.domain.issues import Issue

EARLIEST_DATE: Final = date(1900, 1, 1)
"""The earliest date the contracts accept."""
_LATEST_TZ: Final = timezone(timedelta(hours=14))
VIETNAM: Final = timezone(timedelta(hours=7))
"""Vietnam's time zone (UTC+7 all year, no daylight saving)."""


def local_date(value: datetime) -> date:
    """The calendar date in Vietnam of an aware instant.

    Dates in force (the VN-34 unit scheme from 1 July 2025, a death) are Vietnamese calendar
    dates; an instant's own offset is not (Avro timestamps come back in UTC: 00:30 on 1 July in
    Hà Nội is still 30 June in UTC)."""
    return value.astimezone(VIETNAM).date()


# In UTC: comparing datetimes with the same tzinfo is much faster than across time zones.
_EARLIEST_INSTANT: Final = datetime(1900, 1, 1, tzinfo=_LATEST_TZ).astimezone(UTC)
DEFAULT_SKEW: Final = timedelta(minutes=5)
"""How far into the future a timestamp may be, for clock skew between hosts."""

# Messages are constants: they never contain the value that was checked.
_MSG_FUTURE_DATE: Final = "the date is in the future"
_MSG_BEFORE_1900_DATE: Final = "the date is before 1 January 1900"
_MSG_FUTURE_TS: Final = "the timestamp is in the future, beyond the allowed clock skew"
_MSG_BEFORE_1900_TS: Final = "the timestamp is before 1 January 1900"
_MSG_NAIVE: Final = "the timestamp has no time zone; send it timezone-aware (e.g. UTC)"


def _today() -> date:
    return datetime.now(_LATEST_TZ).date()


def date_issues(value: date, field: str, *, today: date | None = None) -> list[Issue]:
    """Problems of a calendar date: ``date.future`` (after ``today``) or ``date.before_1900``.

    ``today`` defaults to the current date at UTC+14. A datetime is checked by its date part.
    Messages never contain the date.
    """
    if isinstance(value, datetime):
        value = value.date()
    if today is None:
        today = _today()
    elif isinstance(today, datetime):
        today = today.date()
    if value > today:
        return [Issue(field, "date.future", _MSG_FUTURE_DATE)]
    if value < EARLIEST_DATE:
        return [Issue(field, "date.before_1900", _MSG_BEFORE_1900_DATE)]
    return []


def timestamp_issues(
    value: datetime,
    field: str,
    *,
    now: datetime | None = None,
    skew: timedelta = DEFAULT_SKEW,
) -> list[Issue]:
    """Problems of a timestamp: ``timestamp.naive``, ``date.future`` or ``date.before_1900``.

    A naive timestamp gets only ``timestamp.naive``. ``date.future`` means later than ``now`` (the
    current time by default) plus ``skew``; ``date.before_1900`` means before 1900 everywhere on
    earth. ``now`` must be timezone-aware. Messages never contain the timestamp.
    """
    tz = value.tzinfo
    if tz is not UTC:
        if tz is None or value.utcoffset() is None:
            return [Issue(field, "timestamp.naive", _MSG_NAIVE)]
        value = value.astimezone(UTC)  # same-zone comparisons below are much cheaper
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is not UTC:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now: must be timezone-aware")
        now = now.astimezone(UTC)
    if value > now + skew:
        return [Issue(field, "date.future", _MSG_FUTURE_TS)]
    if value < _EARLIEST_INSTANT:
        return [Issue(field, "date.before_1900", _MSG_BEFORE_1900_TS)]
    return []
