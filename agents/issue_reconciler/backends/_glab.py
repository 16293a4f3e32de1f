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

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

from orchestrator.agents.issue_reconciler.backends._cli import CliTracker
from orchestrator.agents.issue_reconciler.backends._gitlab import (
    gitlab_created_iid,
    gitlab_issues,
    gitlab_note_bodies,
)
from orchestrator.agents.issue_reconciler.backends._http import MAX_PAGES, PER_PAGE
from orchestrator.trackers import IssueDraft, TrackerError, TrackerIssue

__all__ = ["GlabCliTracker"]


class GlabCliTracker(CliTracker):
    """Issues of one GitLab project, through ``glab``."""

    name = "glab"
    binary = "glab"
    token_variable = "GITLAB_TOKEN"  # noqa: S105 - the name of a variable, not a secret
    quiet_env = {"NO_PROMPT": "1"}

    def _project(self) -> str:
        return f"projects/{quote(self.repository, safe='')}" if self.repository else "projects/:id"

    def _api(self, *args: str) -> list[str]:
        host = [f"--hostname={self.host}"] if self.host else []
        return ["api", *host, *args]

    def _get_pages(self, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
        for page in range(1, MAX_PAGES + 1):
            query = urlencode({**params, "per_page": PER_PAGE, "page": page})
            printed = self.run(self._api("--method=GET", f"{path}?{query}"))
            items = self.parse_json(printed, f"glab api {path}")
            if not isinstance(items, list):
                raise TrackerError(f"glab: glab api {path} did not print a JSON list")
            yield items
            if len(items) < PER_PAGE:
                return
        raise TrackerError(f"glab: {path} has more than {MAX_PAGES} pages; stopped")

    def list_open_issues(self) -> list[TrackerIssue]:
        pages = self._get_pages(f"{self._project()}/issues", {"state": "opened", "labels": self.label})
        return gitlab_issues(pages, service=self.name)

    def list_comments(self, number: int) -> list[str]:
        pages = self._get_pages(f"{self._project()}/issues/{int(number)}/notes", {"sort": "asc"})
        return gitlab_note_bodies(pages)

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
        return gitlab_created_iid(
            self.parse_json(self._run_create(draft), "creating the issue"), service=self.name
        )
