"""cProfile over every thread of this process, for the benchmarks' ``--profile`` option.

Each thread gets its own profiler timed by that thread's CPU clock, so waiting (on a server, a
queue, a lock) costs nothing and the figures add up to the CPU this process spent.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["profile_all_threads"]

T = TypeVar("T")


def profile_all_threads(work: Callable[[], T], *, top: int = 35) -> tuple[T, float]:
    """Run ``work`` with every thread profiled; print the top functions by own and cumulative time.

    Returns what ``work`` returned and its wall time in seconds.
    """
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start_in_thread(*_: Any) -> None:
        profile = cProfile.Profile(time.thread_time)
        with lock:
            profiles.append(profile)
        profile.enable()  # replaces this hook for the thread

    main = cProfile.Profile(time.thread_time)
    threading.setprofile(start_in_thread)
    wall = time.perf_counter()
    main.enable()
    try:
        result = work()
    finally:
        main.disable()
        threading.setprofile(None)
    wall = time.perf_counter() - wall
    with lock:
        threads = list(profiles)
    stats = pstats.Stats(main)
    for profile in threads:
        stats.add(profile)
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(top)
        print(f"--- by {order} (all threads, {len(threads) + 1} profiled) ---")
        print(out.getvalue())
    sys.setprofile(None)
    return result, wall
