"""The publisher's light future: set once, waiters woken, callbacks run exactly once."""

from __future__ import annotations

import threading
import time

import pytest

from producers.sdk.futures import DeliveryTimeoutError, LightFuture


def test_result_and_exception() -> None:
    ok: LightFuture[int] = LightFuture()
    ok.set_result(7)
    assert ok.done() and ok.result() == 7 and ok.exception() is None
    bad: LightFuture[int] = LightFuture()
    bad.set_exception(ValueError("x"))
    assert isinstance(bad.exception(), ValueError)
    with pytest.raises(ValueError):
        bad.result()


def test_waiter_is_woken_by_another_thread_and_timeout_is_reported() -> None:
    future: LightFuture[str] = LightFuture()
    with pytest.raises(DeliveryTimeoutError):
        future.result(timeout=0.05)
    threading.Timer(0.05, future.set_result, args=("done",)).start()
    started = time.monotonic()
    assert future.result(timeout=5) == "done"
    assert time.monotonic() - started < 2


def test_callbacks_run_once_whether_added_before_or_after() -> None:
    seen: list[str] = []
    future: LightFuture[str] = LightFuture()
    future.add_done_callback(lambda f: seen.append("before"))
    future.set_result("x")
    future.add_done_callback(lambda f: seen.append("after"))
    assert seen == ["before", "after"]


def test_many_threads_racing_lose_no_wakeup() -> None:
    futures: list[LightFuture[int]] = [LightFuture() for _ in range(2000)]
    results: list[int] = []

    def wait_all() -> None:
        results.extend(f.result(timeout=10) for f in futures)

    waiter = threading.Thread(target=wait_all)
    waiter.start()
    for i, future in enumerate(futures):
        future.set_result(i)
    waiter.join(15)
    assert results == list(range(2000))
