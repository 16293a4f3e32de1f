"""The ``gitlab`` backend: GitLab's REST API v4 (gitlab.com or self-managed) over httpx.

- list: ``GET /projects/{id}/issues?state=opened&labels=<our label>&per_page=100&page=N``,
  following ``X-Next-Page`` until it is empty.
- create: ``POST /projects/{id}/issues`` with ``title``, ``description`` and ``labels`` (comma-separated).
- notes: ``GET`` (paginated) and ``POST /projects/{id}/issues/{iid}/notes``.

``{id}`` is the project's numeric id or its URL-encoded path (``group%2Fproject``). The token
comes from ``[issues] token_env`` or ``GITLAB_TOKEN`` and is sent as ``PRIVATE-TOKEN``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import JsonValue

from orchestrator.agents.issue_reconciler._body import IssueDraft, check_body_size
from orchestrator.agents.issue_reconciler._errors import TrackerError
from orchestrator.agents.issue_reconciler._tracker import TrackerIssue, TrackerSettings
from orchestrator.agents.issue_reconciler.backends._http import MAX_PAGES, PER_PAGE, RestClient
from orchestrator.config import IssuesSection

__all__ = ["GitLabTracker"]

DEFAULT_API_URL = "https://gitlab.com/api/v4"
TOKEN_ENV = "GITLAB_TOKEN"  # noqa: S105 - the name of a variable, not a secret


class GitLabTracker:
    """Issues of one GitLab project."""

    name = "gitlab"

    def __init__(self, settings: TrackerSettings) -> None:
        project = settings.require_repository("group/project")
        token, token_env = settings.require_token(TOKEN_ENV)
        self.label = settings.label
        self.repository = project
        self._base = f"/projects/{quote(project, safe='')}"
        self._http = RestClient(
            service=self.name,
            api_url=settings.api_url or DEFAULT_API_URL,
            auth_header=("PRIVATE-TOKEN", token),
            token=token,
            token_env=token_env,
            timeout_s=settings.timeout_s,
        )

    @classmethod
    def from_config(
        cls,
        issues: IssuesSection,
        *,
        project_root: Path,
        label: str,
        env: Mapping[str, str] | None = None,
    ) -> GitLabTracker:
        return cls(TrackerSettings.of(issues, project_root=project_root, label=label, env=env))

    def __repr__(self) -> str:
        return f"GitLabTracker({self.repository!r}, {self._http.api_url!r})"

    def close(self) -> None:
        self._http.close()

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

    def list_open_issues(self) -> list[TrackerIssue]:
        return [
            _issue(item)
            for items in self._pages(f"{self._base}/issues", {"state": "opened", "labels": self.label})
            for item in items
            if isinstance(item, dict)
        ]

    def list_comments(self, number: int) -> list[str]:
        return [
            str(item.get("body") or "")
            for items in self._pages(f"{self._base}/issues/{int(number)}/notes", {"sort": "asc"})
            for item in items
            if isinstance(item, dict) and not item.get("system")
        ]

    def _create_payload(self, draft: IssueDraft) -> dict[str, Any]:
        return {"title": draft.title, "description": draft.body, "labels": ",".join(draft.labels)}

    def create_issue(self, draft: IssueDraft) -> int:
        check_body_size(draft.body, fingerprint=draft.fingerprint)
        response = self._http.request(
            "POST", self._http.url(f"{self._base}/issues"), json=self._create_payload(draft)
        )
        document = self._http.json_of(response)
        iid = document.get("iid") if isinstance(document, dict) else None
        if not isinstance(iid, int):
            raise TrackerError("gitlab: the created issue has no iid")
        return iid

    def add_comment(self, number: int, body: str) -> None:
        check_body_size(body)
        self._http.request(
            "POST", self._http.url(f"{self._base}/issues/{int(number)}/notes"), json={"body": body}
        )

    def describe_create(self, draft: IssueDraft) -> dict[str, JsonValue]:
        check_body_size(draft.body, fingerprint=draft.fingerprint)
        return self._http.describe(
            "create", "POST", self._http.url(f"{self._base}/issues"), self._create_payload(draft)
        )

    def describe_comment(self, number: int, body: str) -> dict[str, JsonValue]:
        check_body_size(body)
        url = self._http.url(f"{self._base}/issues/{int(number)}/notes")
        return self._http.describe("comment", "POST", url, {"body": body})


def _issue(item: dict[str, Any]) -> TrackerIssue:
    iid = item.get("iid")
    if not isinstance(iid, int):
        raise TrackerError("gitlab: an issue in the listing has no iid")
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
