"""When a failed model call is worth another try, how long to wait first, and what the provider said.

- **Worth a retry**: 429; any 5xx (Anthropic's 529 "overloaded" included); and a request that
  failed on the way: a connect or read timeout, a refused or reset connection, a connection closed
  before the whole answer came. Any other 4xx is a mistake in the request or the key, which the
  same request cannot fix, so it fails at once.
- **The wait**: what the provider asks for when it says (``retry-after-ms``, else ``Retry-After``
  in seconds or as an HTTP date); else exponential backoff, 0.5 s doubling with each attempt,
  with jitter (a random point in the upper half of the step, so clients that failed together do
  not retry together). Either way never more than ``max_backoff_s``.

The random source and the clock are the caller's, so a test seeds one and fixes the other.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx

__all__ = [
    "BACKOFF_BASE_S",
    "RETRYABLE_TRANSPORT_ERRORS",
    "Backoff",
    "is_retryable_status",
    "provider_message",
]

BACKOFF_BASE_S = 0.5
RETRYABLE_TRANSPORT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
"""Failures on the way (timeouts, refused or reset connections, a cut answer); a bad URL is not one."""

_MESSAGE_LIMIT = 500


def is_retryable_status(status: int) -> bool:
    """Whether the same request may succeed later: rate-limited (429) or a server failure (5xx)."""
    return status == 429 or 500 <= status <= 599


def requested_wait(headers: httpx.Headers, now: float) -> float | None:
    """The seconds the provider asked to wait (``retry-after-ms``, ``Retry-After``), or ``None``."""
    millis = _non_negative(headers.get("retry-after-ms", ""))
    if millis is not None:
        return millis / 1000
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    seconds = _non_negative(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None  # an unreadable header: the backoff decides
    return max(0.0, when - now)


def _non_negative(text: str) -> float | None:
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


@dataclass
class Backoff:
    """How long to wait before each retry (see the module doc); ``rng`` and ``now`` are replaceable."""

    max_backoff_s: float
    rng: random.Random = field(default_factory=random.Random)
    now: Callable[[], float] = time.time

    def wait_before_retry(self, attempt: int, response: httpx.Response | None) -> float:
        """The wait after failed attempt number ``attempt`` (1-based), whose answer was ``response``."""
        asked = requested_wait(response.headers, self.now()) if response is not None else None
        if asked is not None:
            return min(asked, self.max_backoff_s)
        step = min(self.max_backoff_s, BACKOFF_BASE_S * 2.0 ** (attempt - 1))
        return step / 2 + self.rng.uniform(0.0, step / 2)


def provider_message(response: httpx.Response) -> str:
    """The provider's own error message: ``error.message`` (OpenAI, Anthropic), else the body's text."""
    try:
        document = response.json()
    except ValueError:
        document = None
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        message: str = error["message"]
    elif isinstance(error, str):  # some OpenAI-compatible servers answer {"error": "..."}
        message = error
    else:
        message = response.text.strip() or response.reason_phrase
    message = " ".join(message.split())
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 3] + "..."
