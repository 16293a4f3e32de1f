"""The REST backends' HTTP client: one httpx client, retries within a budget, typed and scrubbed errors.

The token lives only in the client's default headers. It is never part of a description (dry
run), an event, a log line or an error message: every text taken from a response is scrubbed of
it before it is used. Requests go only to the API's own origin, so a hostile ``Link`` or
``X-Next-Page`` can never make us send the token elsewhere.

A rate-limited (429, GitHub's rate-limit 403) or failing (5xx) answer, or a request that failed
on the way, is tried again after a wait, within the tracker's :class:`RetryBudget` (see
:mod:`._retry`). Before a request with ``before_resend`` is sent again, that check runs first:
a create that failed with a 5xx may still have created the issue, and must not create it twice.

What the tracker finally answers becomes a typed error carrying the tracker's name, the status
and the fix: :class:`~orchestrator.trackers.TrackerAuthError` for 401 and 403 (the token),
:class:`~orchestrator.trackers.TrackerRateLimitError` and
:class:`~orchestrator.trackers.TrackerUnavailableError` when the budget ran out, and
:class:`~orchestrator.trackers.TrackerError` for anything else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import JsonValue

from orchestrator.agents.issue_reconciler.backends._retry import (
    MAX_ATTEMPTS,
    RetryBudget,
    is_rate_limited,
    is_retryable,
    requested_wait,
)
from orchestrator.trackers import (
    TrackerAuthError,
    TrackerError,
    TrackerRateLimitError,
    TrackerUnavailableError,
)

__all__ = ["MAX_PAGES", "PER_PAGE", "RestClient"]

PER_PAGE = 100
MAX_PAGES = 1000
_USER_AGENT = "orchestrate-issue-reconciler"


class RestClient:
    """An httpx client bound to one API base URL, with the token in a secret header."""

    def __init__(
        self,
        *,
        service: str,
        api_url: str,
        auth_header: tuple[str, str] | None,
        token: str | None,
        token_env: str | None,
        timeout_s: float,
        budget: RetryBudget,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        self.service = service
        self.api_url = api_url.rstrip("/")
        parts = urlsplit(self.api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TrackerError(
                f"{service}: api_url {api_url!r} is not an http(s) URL",
                tracker=service,
                fix="set [issues] api_url to the API's base URL, for example https://api.github.com",
            )
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.budget = budget
        self._token = token
        self._token_env = token_env
        headers = {"User-Agent": _USER_AGENT, "Accept": "application/json", **(extra_headers or {})}
        if auth_header is not None:
            headers[auth_header[0]] = auth_header[1]
        self._client = httpx.Client(headers=headers, timeout=timeout_s, follow_redirects=False)
        self._timeout_s = timeout_s
        self._unavailable: TrackerError | None = None
        """Set when a request was given up on: later ones fail at once instead of waiting again."""

    def __repr__(self) -> str:
        return f"RestClient({self.service!r}, {self.api_url!r})"

    def close(self) -> None:
        self._client.close()

    def url(self, path: str) -> str:
        """``path`` (starting with ``/``) under the API base URL."""
        return f"{self.api_url}{path}"

    def scrub(self, text: str) -> str:
        """``text`` with the token replaced by ``***``."""
        return text.replace(self._token, "***") if self._token else text

    def same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.origin

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        before_resend: Callable[[], None] | None = None,
    ) -> httpx.Response:
        """Send one request, retrying within the budget; a final failure is a :class:`TrackerError`.

        ``before_resend`` runs before every retry; it raises to stop (the write already landed).
        """
        if not self.same_origin(url):
            raise TrackerError(
                f"{self.service}: refusing to send a request to {url}, outside {self.origin}",
                tracker=self.service,
            )
        if self._unavailable is not None:
            # Given up on earlier in this run: every later request would wait the same way.
            earlier = self._unavailable
            raise type(earlier)(
                f"{self.service}: {method} {self._path(url)} not sent, the tracker gave up earlier: "
                f"{earlier.reason}",
                tracker=earlier.tracker,
                status=earlier.status,
                fix=earlier.fix,
            )
        attempt = 0
        while True:
            attempt += 1
            response: httpx.Response | None = None
            started = time.monotonic()
            # A retry gets only what is left of the budget as its timeout.
            timeout = (
                self._timeout_s if attempt == 1 else max(0.1, min(self._timeout_s, self.budget.remaining_s))
            )
            try:
                response = self._client.request(method, url, params=params, json=json, timeout=timeout)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                failure: TrackerError = self._transport_error(method, url, exc, attempt)
            except httpx.HTTPError as exc:  # not one a retry can cure (a bad URL, an unsupported scheme)
                raise self._transport_error(method, url, exc, attempt) from None
            else:
                if response.status_code < 400:
                    return response
                failure = self._status_error(method, url, response, attempt)
                if not is_retryable(response):
                    raise failure
            if attempt > 1:
                self.budget.charge(time.monotonic() - started)
            delay = self.budget.delay(attempt, response)
            if attempt >= MAX_ATTEMPTS or not self.budget.wait(delay):
                given_up = self._given_up(failure, response, delay, attempt)
                self._unavailable = given_up
                raise given_up
            if before_resend is not None:
                before_resend()

    def json_of(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise TrackerError(
                f"{self.service}: {response.request.method} {self._path(str(response.request.url))} "
                f"answered {response.status_code} with a body that is not JSON",
                tracker=self.service,
                status=response.status_code,
            ) from None

    def describe(self, action: str, method: str, url: str, payload: dict[str, Any]) -> dict[str, JsonValue]:
        """A request as dry-run output shows it: method, URL and JSON body; never a header."""
        return {"backend": self.service, "action": action, "method": method, "url": url, "json": payload}

    def _path(self, url: str) -> str:
        return urlsplit(url).path or "/"

    def _transport_error(self, method: str, url: str, exc: httpx.HTTPError, attempt: int) -> TrackerError:
        reason = self.scrub(str(exc)) or type(exc).__name__
        tries = f" ({attempt} attempts)" if attempt > 1 else ""
        return TrackerUnavailableError(
            f"{self.service}: {method} {self._path(url)} failed: {reason}{tries}",
            tracker=self.service,
            fix=f"check that {self.origin} is reachable and [issues] api_url is right",
        )

    def _status_error(self, method: str, url: str, response: httpx.Response, attempt: int) -> TrackerError:
        detail = ""
        try:
            document = response.json()
        except ValueError:
            document = None
        if isinstance(document, dict):
            found = document.get("message") or document.get("error") or document.get("error_description")
            detail = str(found) if found else ""
        if not detail:
            detail = response.text[:200]
        status = response.status_code
        reason = f"{self.service}: {method} {self._path(url)} answered {status}"
        if detail:
            reason += f": {self.scrub(detail.strip())}"
        if attempt > 1:
            reason += f" ({attempt} attempts)"
        if is_rate_limited(response):
            return TrackerRateLimitError(
                reason, tracker=self.service, status=status, fix=self._rate_limit_fix(response)
            )
        if status in (401, 403):
            if self._token_env:
                fix = f"check the token in ${self._token_env}: it must be valid and allowed to write issues"
            else:
                fix = "no token was sent; name the variable holding one with [issues] token_env"
            return TrackerAuthError(reason, tracker=self.service, status=status, fix=fix)
        if status == 404:
            fix = "check [issues] repository, and that the token can see it"
            return TrackerError(reason, tracker=self.service, status=status, fix=fix)
        if status >= 500:
            fix = "the tracker is failing; run again later (the unfiled findings are filed then)"
            return TrackerUnavailableError(reason, tracker=self.service, status=status, fix=fix)
        return TrackerError(reason, tracker=self.service, status=status)

    def _rate_limit_fix(self, response: httpx.Response) -> str:
        asked = requested_wait(response, self.budget.now())
        if asked is None:
            return "wait for the tracker's rate limit to reset and run again"
        back = datetime.fromtimestamp(self.budget.now() + asked, UTC).strftime("%H:%M:%SZ")
        return f"run again after {back}, when the tracker's rate limit resets"

    def _given_up(
        self, failure: TrackerError, response: httpx.Response | None, delay: float, attempt: int
    ) -> TrackerError:
        """``failure`` once no retry is left, saying why (attempts used, or a wait past the budget)."""
        if attempt >= MAX_ATTEMPTS:
            return failure
        left = self.budget.remaining_s
        why = f"; it asked to wait {delay:g} s, more than the {left:g} s left of [issues] retry_budget_s"
        if response is None or requested_wait(response, self.budget.now()) is None:
            why = f"; the {self.budget.total_s:g} s of [issues] retry_budget_s are spent"
        return type(failure)(
            failure.reason + why, tracker=failure.tracker, status=failure.status, fix=failure.fix
        )
