"""The ``gitlab`` backend: GitLab's REST API v4 (gitlab.com or self-managed) over httpx.

- list: ``GET /projects/{id}/issues?state=opened&labels=<our label>&order_by=created_at&sort=desc
  &per_page=100&page=N``, following ``X-Next-Page`` until it is empty. The same listing, newest
  first, is how a fingerprint is looked up right before a create.
- create: ``POST /projects/{id}/issues`` with ``title``, ``description`` and ``labels`` (comma-separated).
- notes: ``GET`` (paginated) and ``POST /projects/{id}/issues/{iid}/notes``.

``{id}`` is the project's numeric id or its URL-encoded path (``group%2Fproject``). The token
comes from ``[issues] token_env`` or ``GITLAB_TOKEN`` and is sent as ``PRIVATE-TOKEN``. Rate
limits (429) and 5xx answers are retried within ``[issues] retry_budget_s``, honouring
``Retry-After``.

:func:`gitlab_issues`, :func:`gitlab_note_bodies` and :func:`gitlab_created_iid` read GitLab's
JSON; the ``glab`` backend, which gets the same JSON through ``glab api``, uses them too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

from orchestrator.agents.issue_reconciler.backends._http import MAX_PAGES, PER_PAGE, RestClient
from orchestrator.agents.issue_reconciler.backends._rest import RestTracker
from orchestrator.agents.issue_reconciler.backends._retry import RetryBudget
from orchestrator.trackers import IssueDraft, TrackerError, TrackerIssue, TrackerSettings

__all__ = ["GitLabTracker", "gitlab_created_iid", "gitlab_issues", "gitlab_note_bodies"]

DEFAULT_API_URL = "https://gitlab.com/api/v4"
TOKEN_ENV = "GITLAB_TOKEN"  # noqa: S105 - the name of a variable, not a secret


class GitLabTracker(RestTracker):
    """Issues of one GitLab project."""

    name = "gitlab"

    def __init__(self, settings: TrackerSettings, *, budget: RetryBudget | None = None) -> None:
        super().__init__(settings)
        project = settings.require_repository("group/project")
        token, token_env = settings.require_token(TOKEN_ENV)
        self.repository = project
        self._base = f"/projects/{quote(project, safe='')}"
        self._http = RestClient(
            service=self.name,
            api_url=settings.api_url or DEFAULT_API_URL,
            auth_header=("PRIVATE-TOKEN", token),
            token=token,
            token_env=token_env,
            timeout_s=settings.timeout_s,
            budget=budget or RetryBudget(settings.retry_budget_s),
        )

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
        url = self._http.url(path)
        page = "1"
        for _ in range(MAX_PAGES):
            response = self._http.request("GET", url, params={**params, "per_page": PER_PAGE, "page": page})
            items = self._http.json_of(response)
            if not isinstance(items, list):
                raise TrackerError(f"gitlab: GET {path} did not answer a list")
            yield items
            page = response.headers.get("x-next-page", "").strip()
            if not page:
                return
            if not page.isdigit():
                raise TrackerError(
                    f"gitlab: GET {path} answered X-Next-Page {page[:20]!r}, not a page number"
                )
        raise TrackerError(f"gitlab: GET {path} has more than {MAX_PAGES} pages; stopped")

    def _issue_pages(self) -> Iterator[list[TrackerIssue]]:
        query = {"state": "opened", "labels": self.label, "order_by": "created_at", "sort": "desc"}
        for items in self._pages(f"{self._base}/issues", query):
            yield gitlab_issues([items], service=self.name)

    def _comments_path(self, number: int) -> str:
        return f"{self._base}/issues/{int(number)}/notes"

    def list_comments(self, number: int) -> list[str]:
        return gitlab_note_bodies(self._pages(self._comments_path(number), {"sort": "asc"}))

    def _create_payload(self, draft: IssueDraft) -> dict[str, Any]:
        return {"title": draft.title, "description": draft.body, "labels": ",".join(draft.labels)}

    def _created_number(self, document: Any) -> int:
        return gitlab_created_iid(document, service=self.name)


def gitlab_created_iid(document: Any, *, service: str) -> int:
    """The iid in GitLab's answer to creating an issue; ``service`` names the backend in errors."""
    iid = document.get("iid") if isinstance(document, dict) else None
    if not isinstance(iid, int):
        raise TrackerError(f"{service}: the created issue has no iid")
    return iid


def gitlab_issues(pages: Iterable[list[Any]], *, service: str) -> list[TrackerIssue]:
    """The issues in pages of GitLab's issue JSON; ``service`` names the backend in errors."""
    return [_issue(item, service) for items in pages for item in items if isinstance(item, dict)]


def gitlab_note_bodies(pages: Iterable[list[Any]]) -> list[str]:
    """The bodies of the notes people wrote (system notes left out) in pages of GitLab's note JSON."""
    return [
        str(item.get("body") or "")
        for items in pages
        for item in items
        if isinstance(item, dict) and not item.get("system")
    ]


def _issue(item: dict[str, Any], service: str) -> TrackerIssue:
    iid = item.get("iid")
    if not isinstance(iid, int):
        raise TrackerError(f"{service}: an issue in the listing has no iid")
    labels = item.get("labels") or []
    return TrackerIssue(
        number=iid,
        title=str(item.get("title") or ""),
        body=str(item.get("description") or ""),
        state="open" if item.get("state") == "opened" else str(item.get("state") or "open"),
        labels=tuple(str(label) for label in labels),
        url=item.get("web_url"),
        created_at=item.get("created_at"),
        updated_at=item.get("updated_at"),
        comments=item.get("user_notes_count") if isinstance(item.get("user_notes_count"), int) else None,
    )
