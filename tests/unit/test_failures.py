"""An unexpected error is named by its type and frames, never by its message."""

from __future__ import annotations

from databus.failures import failure_trace

SECRET = "036094770381 Nguyễn Văn Ánh"


def _inner() -> None:
    raise TypeError(f"cannot write {SECRET}")


def _outer() -> None:
    _inner()


def test_the_trace_names_type_and_frames_but_not_the_message() -> None:
    try:
        _outer()
    except TypeError as error:
        trace = failure_trace(error)
    assert trace.startswith("TypeError at test_failures.py:")
    assert "in _inner <- test_failures.py:" in trace and "in _outer" in trace
    assert SECRET not in trace and "036094770381" not in trace


def test_an_error_never_raised_is_named_by_its_type() -> None:
    assert failure_trace(ValueError(SECRET)) == "ValueError"
