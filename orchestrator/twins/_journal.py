"""The journal: one entry per request a twin served, with secrets redacted.

Every request to a twin (covered or not; admin calls excepted) becomes an entry: method, path,
route, status, duration, request and response summaries, the chaos injected (or ``null``) and
the trajectory id the caller sent in :data:`TRAJECTORY_HEADER` (``X-Request-Id`` is the
fallback). Authorization headers, API-key headers, cookies, secret-looking fields and every token
value the request carried are replaced by ``[redacted]`` before anything is stored or logged.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "FALLBACK_TRAJECTORY_HEADER",
    "REDACTED",
    "TRAJECTORY_HEADER",
    "Journal",
    "redact_data",
    "redact_headers",
    "summarize",
]

TRAJECTORY_HEADER = "X-Orchestrate-Trajectory"
"""The request header that carries a trajectory (correlation) id into a twin's journal."""
FALLBACK_TRAJECTORY_HEADER = "X-Request-Id"
REDACTED = "[redacted]"
SUMMARY_LIMIT = 240

_SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "private-token", "x-api-key", "api-key"}
)
# Keys whose values are secrets: "token", "access_token", "sessionToken", "password", "client_secret"...
# but not counts such as "max_tokens" or "prompt_tokens".
_SECRET_KEY = re.compile(
    r"(?i)(token|secret|passw(or)?d|api[_-]?key|authori[sz]ation|credentials?|cookie)$|^secret|passw"
)


# In a body that did not parse (broken JSON, plain text): a quoted key and its value, quoted (up
# to the closing quote, or the end when a cut or a typo left it open) or bare; and key=value
# pairs as in a form or a query string. The value goes when the key looks secret.
_TEXT_PAIR = re.compile(
    r'"(?P<key>(?:[^"\\\n]|\\.){1,100})"\s*:\s*(?P<value>"(?:[^"\\]|\\.)*"?|[^\s,}\]]+)'
    r"|(?<![\w.-])(?P<form_key>[\w.-]{1,100})=(?P<form_value>[^&\s]*)"
)


def _redact_text(text: str) -> str:
    """``text`` with the values of secret-looking keys redacted (for bodies that are not JSON)."""

    def replace(found: re.Match[str]) -> str:
        if found.group("key") is not None:
            if not _SECRET_KEY.search(found.group("key")):
                return found.group(0)
            head = found.group(0)[: found.start("value") - found.start()]
            return f'{head}"{REDACTED}"'
        if not _SECRET_KEY.search(found.group("form_key")):
            return found.group(0)
        return f"{found.group('form_key')}={REDACTED}"

    return _TEXT_PAIR.sub(replace, text)


def redact_headers(
    headers: Iterable[tuple[str, str]], *, sensitive: frozenset[str] = frozenset()
) -> dict[str, str]:
    """Headers as a dict with credential-carrying ones redacted (``sensitive``: extra lowercase names)."""
    result: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        secret = lower in _SENSITIVE_HEADERS or lower in sensitive or bool(_SECRET_KEY.search(lower))
        result[lower] = REDACTED if secret else value
    return result


def redact_data(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of a JSON value with secret-looking keys and the given secret strings redacted."""
    tokens = [secret for secret in secrets if secret]
    return _redact(value, tokens)


def _redact(value: Any, tokens: list[str]) -> Any:
    if isinstance(value, Mapping):
        return {
            key: REDACTED if isinstance(key, str) and _SECRET_KEY.search(key) else _redact(item, tokens)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item, tokens) for item in value]
    if isinstance(value, str) and tokens:
        return _scrub(value, tokens)
    return value


def _scrub(text: str, tokens: Iterable[str]) -> str:
    for token in tokens:
        if token and token in text:
            text = text.replace(token, REDACTED)
    return text


def summarize(value: Any, *, secrets: Iterable[str] = (), limit: int = SUMMARY_LIMIT) -> str | None:
    """A short one-line summary of a body: parsed data (redacted) or raw bytes, cut at ``limit``."""
    if value is None or value == b"":
        return None
    tokens = [secret for secret in secrets if secret]
    if isinstance(value, bytes):
        text = _redact_text(value[: limit * 2].decode("utf-8", errors="replace"))
        truncated = len(value) > limit
    elif isinstance(value, str):
        text = json.dumps(_redact_text(value), ensure_ascii=False)
        truncated = len(text) > limit
    else:
        text = json.dumps(_redact(value, tokens), ensure_ascii=False, separators=(",", ":"), default=str)
        truncated = len(text) > limit
    text = _scrub(text, tokens)
    if truncated or len(text) > limit:
        return text[:limit] + "…"
    return text


class Journal:
    """Entries of one twin in arrival order; the oldest are dropped past ``max_entries``.

    A request takes its sequence number when it arrives (:meth:`reserve`) and its entry is
    stored when it is answered (:meth:`append`), in place by that number, so a slow request
    still precedes a fast one that came after it. A request still in flight when the journal
    is cleared is not stored: it belongs to the run before the reset.
    """

    def __init__(self, max_entries: int = 20_000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._lock = threading.Condition()
        self._next_seq = 1
        self._pending: set[int] = set()
        self._dropped = 0

    def reserve(self) -> int:
        """Take the next sequence number for a request that just arrived."""
        with self._lock:
            seq = self._next_seq
            self._next_seq += 1
            self._pending.add(seq)
            return seq

    def append(self, entry: dict[str, Any]) -> int | None:
        """Store ``entry`` and return its sequence number; ``None`` when it is not stored.

        An entry whose ``seq`` was reserved is stored under it; one without a ``seq`` gets the
        next number. An entry reserved before the last :meth:`clear` is left out.
        """
        with self._lock:
            seq = entry.get("seq") or 0
            if seq <= 0:
                seq = self._next_seq
                self._next_seq += 1
            elif seq in self._pending:
                self._pending.discard(seq)
            else:
                return None
            entry["seq"] = seq
            self._insert(seq, entry)
            self._lock.notify_all()
            return seq

    def _insert(self, seq: int, entry: dict[str, Any]) -> None:
        entries = self._entries
        full = entries.maxlen is not None and len(entries) == entries.maxlen
        if not entries or seq > entries[-1]["seq"]:
            if full:
                self._dropped += 1
            entries.append(entry)
            return
        position = bisect.bisect(entries, seq, key=lambda stored: stored["seq"])
        if full:
            self._dropped += 1
            if position == 0:
                return  # older than everything kept: it is the one that falls out
            entries.popleft()
            position -= 1
        entries.insert(position, entry)

    def entries(
        self, *, since: int = 0, trajectory: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Entries with ``seq`` above ``since``, optionally of one trajectory, at most ``limit``."""
        with self._lock:
            selected = [
                entry
                for entry in self._entries
                if entry["seq"] > since and (trajectory is None or entry.get("trajectory_id") == trajectory)
            ]
        return selected[:limit] if limit is not None else selected

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], *, since: int = 0, timeout: float = 10.0
    ) -> dict[str, Any] | None:
        """Wait for an entry after ``since`` that satisfies ``predicate``; ``None`` at the deadline."""

        def find() -> dict[str, Any] | None:
            return next((e for e in self._entries if e["seq"] > since and predicate(e)), None)

        with self._lock:
            found: dict[str, Any] | None = None

            def ready() -> bool:
                nonlocal found
                found = find()
                return found is not None

            self._lock.wait_for(ready, timeout)
            return found

    def clear(self) -> None:
        """Drop every entry, and the entries of requests still in flight (numbers go on rising)."""
        with self._lock:
            self._entries.clear()
            self._pending.clear()
            self._dropped = 0

    @property
    def next_seq(self) -> int:
        """The lowest sequence number that may still be stored: every entry below it is final.

        Equal to the last number taken plus one when no request is in flight; poll with
        ``since=next_seq - 1`` to miss nothing (an entry at or above it may be seen twice).
        """
        with self._lock:
            return min(self._pending, default=self._next_seq)

    @property
    def last_seq(self) -> int:
        """The last sequence number taken (0 before the first request), answered or still in flight.

        Entries of requests that arrived between two readings have numbers in that range, which
        is how a caller attributes requests to what it did in between, without timing.
        """
        with self._lock:
            return self._next_seq - 1

    def wait_settled(self, below: int, *, timeout: float) -> bool:
        """Wait until no request numbered below ``below`` is in flight; whether that happened in time."""
        with self._lock:
            return self._lock.wait_for(lambda: min(self._pending, default=self._next_seq) >= below, timeout)

    @property
    def dropped(self) -> int:
        return self._dropped
