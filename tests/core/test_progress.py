"""Cancellation reaches work in flight; progress maps onto sub-ranges."""

from __future__ import annotations

import threading

import pytest

from kneeseg_app.core.errors import Cancelled
from kneeseg_app.core.progress import CancelToken, scaled


def test_cancel_from_another_thread_is_seen_and_raises() -> None:
    token = CancelToken()
    thread = threading.Thread(target=token.cancel)
    thread.start()
    thread.join()
    assert token.cancelled
    with pytest.raises(Cancelled):
        token.raise_if_cancelled()


def test_listeners_run_on_cancel_and_at_once_when_already_cancelled() -> None:
    token = CancelToken()
    calls: list[str] = []
    remove = token.add_listener(lambda: calls.append("a"))
    token.add_listener(lambda: calls.append("b"))
    remove()
    token.cancel()
    assert calls == ["b"]
    token.add_listener(lambda: calls.append("late"))
    assert calls == ["b", "late"]


def test_scaled_progress_maps_and_clamps() -> None:
    seen: list[tuple[str, float]] = []
    report = scaled(lambda s, f: seen.append((s, f)), 0.5, 1.0)
    report("network", 0.0)
    report("network", 0.5)
    report("network", 2.0)
    assert seen == [("network", 0.5), ("network", 0.75), ("network", 1.0)]
