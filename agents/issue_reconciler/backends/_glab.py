"""The ``glab`` backend: GitLab through the GitLab CLI, with its own login.

Everything goes through ``glab api``, whose flags are stable across glab releases and which
reads a field's value from standard input (``--field=description=@-``): ``glab issue create``
and ``glab issue note`` take the text only as a command-line argument, and a multi-line body
must never be one. The project is ``[issues] repository`` URL-encoded, or glab's ``:id``
placeholder (the project directory's repository) when it is not set:

- ``glab api projects/P/issues?state=opened&labels=<label>&per_page=100&page=N``, page after page
  until one comes back short;
- ``glab api --method=POST projects/P/issues --raw-field=title=T --raw-field=labels=L1,L2
  --field=description=@-`` (body on stdin);
- ``glab api --method=POST projects/P/issues/N/notes --field=body=@-`` and the paged
  ``glab api projects/P/issues/N/notes?sort=asc&per_page=100&page=N``.

With ``api_url`` set, ``--hostname`` names the self-managed host. A token is passed as
``GITLAB_TOKEN`` only when ``[issues] token_env`` names a variable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from pydantic import JsonValue

from orchestrator.agents.issue_reconciler._body import IssueDraft, check_body_size
from orchestrator.agents.issue_reconciler._errors import TrackerError
from orchestrator.agents.issue_reconciler._tracker import TrackerIssue, TrackerSettings
from orchestrator.agents.issue_reconciler.backends._cli import CliTracker
from orchestrator.agents.issue_reconciler.backends._http import MAX_PAGES, PER_PAGE
from orchestrator.config import IssuesSection

__all__ = ["GlabCliTracker"]


class GlabCliTracker(CliTracker):
    """Issues of one GitLab project, through ``glab``."""

    name = "glab"
    binary = "glab"
    token_variable = "GITLAB_TOKEN"  # noqa: S105 - the name of a variable, not a secret
    quiet_env = {"NO_PROMPT": "1"}

    @classmethod
    def from_config(
        cls,
        issues: IssuesSection,
        *,
        project_root: Path,
        label: str,
        env: Mapping[str, str] | None = None,
    ) -> GlabCliTracker:
        return cls(TrackerSettings.of(issues, project_root=project_root, label=label, env=env))

    def _project(self) -> str:
        return f"projects/{quote(self.repository, safe='')}" if self.repository else "projects/:id"

    def _api(self, *args: str) -> list[str]:
        host = [f"--hostname={self.host}"] if self.host else []
        return ["api", *host, *args]

    def _get_pages(self, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
        for page in range(1, MAX_PAGES + 1):
            query = urlencode({**params, "per_page": PER_PAGE, "page": page})
            printed = self.run(self._api("--method=GET", f"{path}?{query}"))
            try:
                items = json.loads(printed)
            except ValueError:
                raise TrackerError(f"glab: glab api {path} did not print JSON") from None
            if not isinstance(items, list):
                raise TrackerError(f"glab: glab api {path} did not print a JSON list")
            yield items
            if len(items) < PER_PAGE:
                return
        raise TrackerError(f"glab: {path} has more than {MAX_PAGES} pages; stopped")

    def list_open_issues(self) -> list[TrackerIssue]:
        return [
            _issue(item)
            for items in self._get_pages(
                f"{self._project()}/issues", {"state": "opened", "labels": self.label}
            )
            for item in items
            if isinstance(item, dict)
        ]

    def list_comments(self, number: int) -> list[str]:
        return [
            str(item.get("body") or "")
            for items in self._get_pages(f"{self._project()}/issues/{int(number)}/notes", {"sort": "asc"})
            for item in items
            if isinstance(item, dict) and not item.get("system")
        ]

    def _create_args(self, draft: IssueDraft) -> list[str]:
        return self._api(
            "--method=POST",
            f"{self._project()}/issues",
            f"--raw-field=title={draft.title}",
            f"--raw-field=labels={','.join(draft.labels)}",
            "--field=description=@-",
        )

    def _comment_args(self, number: int) -> list[str]:
        return self._api("--method=POST", f"{self._project()}/issues/{int(number)}/notes", "--field=body=@-")

    def create_issue(self, draft: IssueDraft) -> int:
        check_body_size(draft.body, fingerprint=draft.fingerprint)
        printed = self.run(self._create_args(draft), stdin=draft.body)
        try:
            document = json.loads(printed)
        except ValueError:
            raise TrackerError("glab: creating the issue did not print JSON") from None
        iid = document.get("iid") if isinstance(document, dict) else None
        if not isinstance(iid, int):
            raise TrackerError("glab: the created issue has no iid")
        return iid

    def add_comment(self, number: int, body: str) -> None:
        check_body_size(body)
        self.run(self._comment_args(number), stdin=body)

    def describe_create(self, draft: IssueDraft) -> dict[str, JsonValue]:
        check_body_size(draft.body, fingerprint=draft.fingerprint)
        return self.describe("create", self._create_args(draft), draft.body)

    def describe_comment(self, number: int, body: str) -> dict[str, JsonValue]:
        check_body_size(body)
        return self.describe("comment", self._comment_args(number), body)


def _issue(item: dict[str, Any]) -> TrackerIssue:
    iid = item.get("iid")
    if not isinstance(iid, int):
        raise TrackerError("glab: an issue in the listing has no iid")
    return TrackerIssue(
        number=iid,
        title=str(item.get("title") or ""),
        body=str(item.get("description") or ""),
        state="open" if item.get("state") == "opened" else str(item.get("state") or "open"),
        labels=tuple(str(label) for label in item.get("labels") or []),
        url=item.get("web_url"),
        created_at=item.get("created_at"),
        updated_at=item.get("updated_at"),
        comments=item.get("user_notes_count") if isinstance(item.get("user_notes_count"), int) else None,
    )
