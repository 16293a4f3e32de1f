"""When a REST tracker's request is worth another try, how long to wait first, and the budget for it.

- **Worth a retry**: 429; 500, 502, 503 and 504; GitHub's rate-limit 403 (one that says the
  limit is spent, ``x-ratelimit-remaining: 0``, or asks to wait, ``Retry-After``); and a
  request that failed on the way (connection refused or reset, timed out).
- **The wait**: at least what the tracker asks for, ``Retry-After`` (seconds or an HTTP date),
  else GitHub's ``x-ratelimit-reset`` (when the spent limit comes back, in epoch seconds);
  never less than an exponential backoff (0.5 s, 1 s, 2 s, ... up to 30 s), so a tracker
  answering ``Retry-After: 0`` is not hammered.
- **The budget**: a tracker spends at most ``[issues] retry_budget_s`` (60 s by default) in all,
  over every request it sends, on retrying: the waits and the retried attempts themselves (a retry
  is given only the time left as its timeout). It tries one request at most :data:`MAX_ATTEMPTS`
  times. A wait that would not fit in what is left is not started: the request fails at once,
  saying how long the tracker asked to wait.

The clock and the sleep are the budget's, so tests give it their own and never sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

__all__ = [
    "MAX_ATTEMPTS",
    "RETRY_STATUSES",
    "RetryBudget",
    "is_rate_limited",
    "is_retryable",
    "requested_wait",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0


def is_rate_limited(response: httpx.Response) -> bool:
    """429, or GitHub's 403 that says the rate limit is spent or asks to wait."""
    if response.status_code == 429:
        return True
    return response.status_code == 403 and (
        response.headers.get("x-ratelimit-remaining", "").strip() == "0" or "retry-after" in response.headers
    )


def is_retryable(response: httpx.Response) -> bool:
    """Whether the same request may succeed later (rate-limited, or a server failure)."""
    return response.status_code in RETRY_STATUSES or is_rate_limited(response)


def requested_wait(response: httpx.Response, now: float) -> float | None:
    """The seconds the tracker asked us to wait (``Retry-After``, else a spent limit's reset), or ``None``."""
    retry_after = response.headers.get("retry-after", "").strip()
    if retry_after:
        if retry_after.isdigit():
            return float(retry_after)
        try:
            when: float = parsedate_to_datetime(retry_after).timestamp()
        except (TypeError, ValueError):
            pass  # an unreadable header: fall back to the reset time or the backoff
        else:
            return max(0.0, when - now)
    reset = response.headers.get("x-ratelimit-reset", "").strip()
    if reset.isdigit() and response.headers.get("x-ratelimit-remaining", "").strip() == "0":
        return max(0.0, float(reset) - now)
    return None


@dataclass
class RetryBudget:
    """The waiting one tracker may do to retry its requests, in seconds, over all of them.

    ``sleep`` waits and ``now`` reads the wall clock (for reset times and HTTP dates); both are
    replaceable, so a test can record the waits instead of sleeping them.
    """

    total_s: float
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.time
    spent_s: float = 0.0

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.total_s - self.spent_s)

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        """How long to wait before try ``attempt + 1``: the tracker's wish, never below the backoff."""
        backoff = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (attempt - 1))
        asked = requested_wait(response, self.now()) if response is not None else None
        return backoff if asked is None else max(asked, backoff)

    def wait(self, seconds: float) -> bool:
        """Wait ``seconds`` if the budget has them (``True``), else do nothing (``False``)."""
        if seconds > self.remaining_s:
            return False
        self.spent_s += seconds
        self.sleep(seconds)
        return True

    def charge(self, seconds: float) -> None:
        """Count a retried attempt's own time against the budget."""
        self.spent_s += max(0.0, seconds)
