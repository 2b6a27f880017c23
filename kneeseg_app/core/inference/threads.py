"""Work spread over the engine's threads: scipy.ndimage and numpy release the GIL in their loops, so
independent pieces of the anatomy rule (two legs, slabs of slices) run on two cores at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

_In = TypeVar("_In")
_Out = TypeVar("_Out")


def map_in(pool: Executor | None, work: Callable[[_In], _Out], items: Iterable[_In]) -> list[_Out]:
    """``work`` over ``items``, in ``pool``'s threads when given, results in order; errors (``Cancelled``
    included) surface in the caller. Without a pool: the same calls, one after the other."""
    return list(pool.map(work, items)) if pool is not None else [work(item) for item in items]


@contextmanager
def thread_pool(threads: int) -> Iterator[Executor | None]:
    """A pool of ``threads`` threads for the ``with`` block, shut down after it (queued work cancelled);
    None for one thread, so the work runs in the caller."""
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
