"""What the REST backends share: one httpx client, typed errors, scrubbed messages, safe paging,
and :class:`RestTracker`, their base, which files issues and comments the same way for each.

The token lives only in the client's default headers. It is never part of a description (dry
run), an event, a log line or an error message: every text taken from a response is scrubbed of
it before it is used. Pagination follows only URLs on the API's own origin, so a hostile
``Link`` or ``X-Next-Page`` can never make us send the token elsewhere, and stops after
:data:`MAX_PAGES` pages rather than loop forever.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import JsonValue

from orchestrator.agents.issue_reconciler._body import IssueDraft, check_body_size
from orchestrator.agents.issue_reconciler._errors import TrackerError
from orchestrator.agents.issue_reconciler._tracker import SettingsTracker

__all__ = ["MAX_PAGES", "PER_PAGE", "RestClient", "RestTracker"]

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
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        self.service = service
        self.api_url = api_url.rstrip("/")
        parts = urlsplit(self.api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TrackerError(
                f"{service}: api_url {api_url!r} is not an http(s) URL (for example https://api.github.com)"
            )
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self._token = token
        self._token_env = token_env
        headers = {"User-Agent": _USER_AGENT, "Accept": "application/json", **(extra_headers or {})}
        if auth_header is not None:
            headers[auth_header[0]] = auth_header[1]
        self._client = httpx.Client(headers=headers, timeout=timeout_s, follow_redirects=False)

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
    ) -> httpx.Response:
        """Send one request; any transport failure or status >= 400 is a :class:`TrackerError`."""
        if not self.same_origin(url):
            raise TrackerError(f"{self.service}: refusing to send a request to {url}, outside {self.origin}")
        try:
            response = self._client.request(method, url, params=params, json=json)
        except httpx.HTTPError as exc:
            reason = self.scrub(str(exc)) or type(exc).__name__
            raise TrackerError(f"{self.service}: {method} {self._path(url)} failed: {reason}") from None
        if response.status_code >= 400:
            raise TrackerError(self._status_message(method, url, response))
        return response

    def json_of(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise TrackerError(
                f"{self.service}: {response.request.method} {self._path(str(response.request.url))} "
                f"answered {response.status_code} with a body that is not JSON"
            ) from None

    def describe(self, action: str, method: str, url: str, payload: dict[str, Any]) -> dict[str, JsonValue]:
        """A request as dry-run output shows it: method, URL and JSON body; never a header."""
        return {"backend": self.service, "action": action, "method": method, "url": url, "json": payload}

    def _path(self, url: str) -> str:
        return urlsplit(url).path or "/"

    def _status_message(self, method: str, url: str, response: httpx.Response) -> str:
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
        message = f"{self.service}: {method} {self._path(url)} answered {response.status_code}"
        if detail:
            message += f": {self.scrub(detail.strip())}"
        if response.status_code in (401, 403) and self._token_env:
            message += f" (check the token in ${self._token_env} and its permissions)"
        elif response.status_code in (401, 403):
            message += " (no token was sent; set one with [issues] token_env)"
        return message


class RestTracker(SettingsTracker, ABC):
    """Base of the REST backends: creating, commenting and describing both, the same for each.

    Issues are POSTed to ``<base>/issues``, comments to :meth:`_comments_path`. A subclass sets
    ``repository``, ``_base`` (the repository's API path) and ``_http`` in its ``__init__``, and
    says how an issue is shaped (:meth:`_create_payload`) and where its comments live
    (:meth:`_comments_path`).
    """

    name: str
    repository: str
    _base: str
    _http: RestClient

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.repository!r}, {self._http.api_url!r})"

    def close(self) -> None:
        self._http.close()

    @abstractmethod
    def _create_payload(self, draft: IssueDraft) -> dict[str, Any]:
        """Provided by each backend."""

    @abstractmethod
    def _comments_path(self, number: int) -> str:
        """Provided by each backend."""

    def _post_issue(self, draft: IssueDraft) -> Any:
        """Create the issue; the tracker's JSON answer, which holds its number."""
        check_body_size(draft.body, fingerprint=draft.fingerprint)
        response = self._http.request(
            "POST", self._http.url(f"{self._base}/issues"), json=self._create_payload(draft)
        )
        return self._http.json_of(response)

    def add_comment(self, number: int, body: str) -> None:
        check_body_size(body)
        self._http.request("POST", self._http.url(self._comments_path(number)), json={"body": body})

    def describe_create(self, draft: IssueDraft) -> dict[str, JsonValue]:
        check_body_size(draft.body, fingerprint=draft.fingerprint)
        return self._http.describe(
            "create", "POST", self._http.url(f"{self._base}/issues"), self._create_payload(draft)
        )

    def describe_comment(self, number: int, body: str) -> dict[str, JsonValue]:
        check_body_size(body)
        url = self._http.url(self._comments_path(number))
        return self._http.describe("comment", "POST", url, {"body": body})
