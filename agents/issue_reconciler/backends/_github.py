"""The ``github`` backend: GitHub's REST API (or GitHub Enterprise's) over httpx.

- list: ``GET /repos/{owner}/{repo}/issues?state=open&labels=<our label>&sort=created&direction=desc
  &per_page=100``, following ``Link: rel="next"`` to the last page; pull requests (which the
  endpoint also returns) are dropped. The same listing, newest first, is how a fingerprint is
  looked up right before a create.
- create: ``POST /repos/{owner}/{repo}/issues`` with ``title``, ``body`` and ``labels``.
- comments: ``GET`` (paginated) and ``POST /repos/{owner}/{repo}/issues/{number}/comments``.

The token comes from ``[issues] token_env`` or ``GITHUB_TOKEN`` and is sent as
``Authorization: Bearer``. Rate limits (429, or 403 with ``x-ratelimit-remaining: 0``) and 5xx
answers are retried within ``[issues] retry_budget_s``, honouring ``Retry-After`` and
``x-ratelimit-reset``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from orchestrator.agents.issue_reconciler.backends._http import MAX_PAGES, PER_PAGE, RestClient
from orchestrator.agents.issue_reconciler.backends._rest import RestTracker
from orchestrator.agents.issue_reconciler.backends._retry import RetryBudget
from orchestrator.errors import ConfigError
from orchestrator.trackers import IssueDraft, TrackerError, TrackerIssue, TrackerSettings

__all__ = ["GitHubTracker"]

DEFAULT_API_URL = "https://api.github.com"
TOKEN_ENV = "GITHUB_TOKEN"  # noqa: S105 - the name of a variable, not a secret
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


class GitHubTracker(RestTracker):
    """Issues of one GitHub repository."""

    name = "github"

    def __init__(self, settings: TrackerSettings, *, budget: RetryBudget | None = None) -> None:
        super().__init__(settings)
        repository = settings.require_repository("octo-org/hello-world")
        if not _REPOSITORY.fullmatch(repository):
            raise ConfigError(
                None,
                "issues.repository",
                f"{repository!r} is not a GitHub repository name",
                'use owner/name, for example repository = "octo-org/hello-world"',
            )
        token, token_env = settings.require_token(TOKEN_ENV)
        self.repository = repository
        owner, repo = repository.split("/")
        self._base = f"/repos/{quote(owner, safe='')}/{quote(repo, safe='')}"
        self._http = RestClient(
            service=self.name,
            api_url=settings.api_url or DEFAULT_API_URL,
            auth_header=("Authorization", f"Bearer {token}"),
            token=token,
            token_env=token_env,
            timeout_s=settings.timeout_s,
            budget=budget or RetryBudget(settings.retry_budget_s),
            extra_headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
        )

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
        url: str | None = self._http.url(path)
        query: dict[str, Any] | None = {**params, "per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self._http.request("GET", url, params=query)
            page = self._http.json_of(response)
            if not isinstance(page, list):
                raise TrackerError(f"github: GET {path} did not answer a list")
            yield page
            # The next link carries every query parameter itself.
            url, query = response.links.get("next", {}).get("url"), None
        raise TrackerError(f"github: GET {path} has more than {MAX_PAGES} pages; stopped")

    def _issue_pages(self) -> Iterator[list[TrackerIssue]]:
        query = {"state": "open", "labels": self.label, "sort": "created", "direction": "desc"}
        for page in self._pages(f"{self._base}/issues", query):
            yield [_issue(item) for item in page if isinstance(item, dict) and "pull_request" not in item]

    def _comments_path(self, number: int) -> str:
        return f"{self._base}/issues/{int(number)}/comments"

    def list_comments(self, number: int) -> list[str]:
        return [
            str(item.get("body") or "")
            for page in self._pages(self._comments_path(number), {})
            for item in page
            if isinstance(item, dict)
        ]

    def _create_payload(self, draft: IssueDraft) -> dict[str, Any]:
        return {"title": draft.title, "body": draft.body, "labels": list(draft.labels)}

    def _created_number(self, document: Any) -> int:
        return _number(document, "number")


def _number(document: Any, key: str) -> int:
    value = document.get(key) if isinstance(document, dict) else None
    if not isinstance(value, int):
        raise TrackerError(f"the tracker's answer has no issue {key}")
    return value


def _issue(item: dict[str, Any]) -> TrackerIssue:
    labels = tuple(
        str(label.get("name")) if isinstance(label, dict) else str(label)
        for label in item.get("labels") or []
    )
    return TrackerIssue(
        number=_number(item, "number"),
        title=str(item.get("title") or ""),
        body=str(item.get("body") or ""),
        state=str(item.get("state") or "open"),
        labels=labels,
        url=item.get("html_url"),
        created_at=item.get("created_at"),
        updated_at=item.get("updated_at"),
        comments=item.get("comments") if isinstance(item.get("comments"), int) else None,
    )
