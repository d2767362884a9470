"""A light future for delivery results: one allocation per event, a lock only for waiters.

`concurrent.futures.Future` builds a Condition per instance; at tens of thousands of events per
second that is a measurable share of the publisher's time. This future has the same reading
API (`done`, `result`, `exception`, `add_done_callback`), shares one module lock, and creates a
threading.Event only when someone actually waits on an unfinished delivery.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_WAITERS = threading.Lock()


class DeliveryTimeoutError(TimeoutError):
    """The delivery report did not arrive within the time asked for."""


class LightFuture(Generic[T]):
    """The outcome of one delivery: a result or an exception, set exactly once."""

    __slots__ = ("_callbacks", "_done", "_error", "_result", "_waiter")

    def __init__(self) -> None:
        self._done = False
        self._result: T | None = None
        self._error: BaseException | None = None
        self._waiter: threading.Event | None = None
        self._callbacks: list[Callable[[LightFuture[T]], None]] | None = None

    def done(self) -> bool:
        """Whether the outcome is known."""
        return self._done

    def result(self, timeout: float | None = None) -> T:
        """The result; raises the delivery's exception, or DeliveryTimeoutError."""
        self._wait(timeout)
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The delivery's exception, or None if it succeeded."""
        self._wait(timeout)
        return self._error

    def add_done_callback(self, callback: Callable[[LightFuture[T]], None]) -> None:
        """Call `callback(self)` once the outcome is known (at once if it already is)."""
        with _WAITERS:
            if not self._done:
                self._callbacks = [*(self._callbacks or []), callback]
                return
        callback(self)

    def set_result(self, result: T) -> None:
        self._finish(result, None)

    def set_exception(self, error: BaseException) -> None:
        self._finish(None, error)

    def _finish(self, result: T | None, error: BaseException | None) -> None:
        with _WAITERS:  # uncontended: tens of nanoseconds
            self._result, self._error, self._done = result, error, True
            waiter, callbacks = self._waiter, self._callbacks
        if waiter is not None:
            waiter.set()
        for callback in callbacks or ():
            callback(self)

    def _wait(self, timeout: float | None) -> None:
        if self._done:
            return
        with _WAITERS:
            if self._waiter is None:
                self._waiter = threading.Event()
            waiter = self._waiter
        if not self._done and not waiter.wait(timeout):
            raise DeliveryTimeoutError("no delivery report within the time-out")
