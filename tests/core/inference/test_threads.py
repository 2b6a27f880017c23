"""Independent pieces of the anatomy rule go to the engine's threads: same results, same order, errors seen."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from kneeseg_app.core.inference.threads import map_in, thread_pool
from kneeseg_app.core.progress import Cancelled


def test_results_come_back_in_the_order_of_the_items_with_or_without_a_pool() -> None:
    with ThreadPoolExecutor(2) as pool:
        assert map_in(pool, lambda k: k * k, range(7)) == [0, 1, 4, 9, 16, 25, 36]
    assert map_in(None, lambda k: k * k, range(7)) == [0, 1, 4, 9, 16, 25, 36]


def test_a_cancel_in_a_thread_reaches_the_caller() -> None:
    def work(k: int) -> int:
        if k == 3:
            raise Cancelled()
        return k

    with ThreadPoolExecutor(2) as pool, pytest.raises(Cancelled):
        map_in(pool, work, range(6))


def test_a_thread_pool_is_none_for_one_thread_and_shut_down_after_the_block() -> None:
    with thread_pool(1) as none:
        assert none is None
    with thread_pool(2) as pool:
        assert pool is not None
        assert pool.submit(lambda: 6 * 7).result() == 42
    with pytest.raises(RuntimeError):
        pool.submit(lambda: 0)  # shut down: no new work
