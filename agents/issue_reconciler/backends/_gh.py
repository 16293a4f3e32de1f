"""The ``gh`` backend: GitHub through the GitHub CLI, with its own login.

Commands (``--repo`` only when ``[issues] repository`` is set; otherwise gh uses the project
directory's repository):

- ``gh issue list --repo=R --state=open --label=<label> --json=number,title,body,... --limit=N``;
  when N issues come back there may be more, so the listing is asked again with a larger limit
  until fewer than the limit come back;
- ``gh issue create --repo=R --title=T --label=L1 --label=L2 --body-file=-`` (body on stdin;
  gh prints the new issue's URL);
- ``gh issue comment N --repo=R --body-file=-`` and ``gh issue view N --repo=R --json=comments``.

A token is passed as ``GH_TOKEN`` only when ``[issues] token_env`` names a variable; with
``api_url`` set, ``GH_HOST`` names the GitHub Enterprise host.
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.agents.issue_reconciler.backends._cli import CliTracker
from orchestrator.trackers import IssueDraft, TrackerError, TrackerIssue

__all__ = ["GhCliTracker"]

FIRST_LIMIT = 1000
MAX_LIMIT = 256_000
_FIELDS = "number,title,body,state,labels,url,createdAt,updatedAt"
_ISSUE_URL = re.compile(r"/issues/(\d+)\s*$")


class GhCliTracker(CliTracker):
    """Issues of one GitHub repository, through ``gh``."""

    name = "gh"
    binary = "gh"
    token_variable = "GH_TOKEN"  # noqa: S105 - the name of a variable, not a secret
    host_variable = "GH_HOST"
    quiet_env = {"GH_PROMPT_DISABLED": "1", "GH_NO_UPDATE_NOTIFIER": "1"}

    def _repo(self) -> list[str]:
        return [f"--repo={self.repository}"] if self.repository else []

    def list_open_issues(self) -> list[TrackerIssue]:
        limit = FIRST_LIMIT
        while True:
            args = [
                "issue", "list", *self._repo(), "--state=open", f"--label={self.label}",
                f"--json={_FIELDS}", f"--limit={limit}",
            ]  # fmt: skip
            items = self.parse_json(self.run(args), "gh issue list")
            if not isinstance(items, list):
                raise TrackerError("gh: gh issue list did not print a JSON list")
            if len(items) < limit:
                return [_issue(item) for item in items if isinstance(item, dict)]
            if limit >= MAX_LIMIT:
                raise TrackerError(f"gh: more than {MAX_LIMIT} open issues carry {self.label}; stopped")
            limit *= 4

    def list_comments(self, number: int) -> list[str]:
        document = self.parse_json(
            self.run(["issue", "view", str(int(number)), *self._repo(), "--json=comments"]), "gh issue view"
        )
        comments = document.get("comments") if isinstance(document, dict) else None
        return [str(c.get("body") or "") for c in comments or [] if isinstance(c, dict)]

    def _create_args(self, draft: IssueDraft) -> list[str]:
        labels = [f"--label={label}" for label in draft.labels]
        return ["issue", "create", *self._repo(), f"--title={draft.title}", *labels, "--body-file=-"]

    def _comment_args(self, number: int) -> list[str]:
        return ["issue", "comment", str(int(number)), *self._repo(), "--body-file=-"]

    def create_issue(self, draft: IssueDraft) -> int:
        printed = self._run_create(draft).strip()
        found = _ISSUE_URL.search(printed.splitlines()[-1] if printed else "")
        if found is None:
            raise TrackerError(
                f"gh: gh issue create did not print the new issue's URL (got {printed[-200:]!r})"
            )
        return int(found.group(1))


def _issue(item: dict[str, Any]) -> TrackerIssue:
    number = item.get("number")
    if not isinstance(number, int):
        raise TrackerError("gh: an issue in the listing has no number")
    labels = tuple(
        str(label.get("name")) if isinstance(label, dict) else str(label)
        for label in item.get("labels") or []
    )
    return TrackerIssue(
        number=number,
        title=str(item.get("title") or ""),
        body=str(item.get("body") or ""),
        state=str(item.get("state") or "OPEN").lower(),
        labels=labels,
        url=item.get("url"),
        created_at=item.get("createdAt"),
        updated_at=item.get("updatedAt"),
    )
