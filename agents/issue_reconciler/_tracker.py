"""The tracker extension point: what a backend must do, and how one is found and opened.

A tracker lists our open issues (those with our label, every page of them), lists an issue's
comments, creates an issue, and comments on one. For ``--dry-run`` it also *describes* the
create and comment requests it would send, without sending them and without any secret.

Backends are classes registered in the ``orchestrate.trackers`` entry-point group (ours:
``local``, ``github``, ``gitlab``, ``gh``, ``glab``); a third-party package registers its own class
the same way and is chosen with ``[issues] backend = "<name>"``. A backend class is built with
``from_config(issues, project_root=..., label=..., env=...)`` from plain configuration values
(``orchestrator.config.IssuesSection``), so neither the reconciler nor the CLI needs to know it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Self, runtime_checkable

from pydantic import JsonValue

from orchestrator.agents.issue_reconciler._body import IssueDraft, fingerprints_in
from orchestrator.config import IssuesSection
from orchestrator.errors import ConfigError
from orchestrator.plugins import load_plugin

__all__ = [
    "TRACKER_GROUP",
    "SettingsTracker",
    "Tracker",
    "TrackerClass",
    "TrackerIssue",
    "TrackerSettings",
    "open_tracker",
]

TRACKER_GROUP = "orchestrate.trackers"
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class TrackerIssue:
    """An issue as a tracker reports it (``number`` is GitHub's number, GitLab's iid)."""

    number: int
    title: str
    body: str
    state: str = "open"
    labels: tuple[str, ...] = ()
    url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    comments: int | None = None

    @property
    def fingerprints(self) -> list[str]:
        """The fingerprints whose sentinels stand in the body, sorted (normally exactly one)."""
        return sorted(fingerprints_in(self.body))

    def as_json(self) -> dict[str, JsonValue]:
        """The issue as a JSON-ready mapping (what ``orchestrate issues list --json`` prints)."""
        fingerprints: list[JsonValue] = list(self.fingerprints)
        return {
            "number": self.number,
            "title": self.title,
            "fingerprints": fingerprints,
            "state": self.state,
            "labels": list(self.labels),
            "url": self.url,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "comments": self.comments,
        }


@runtime_checkable
class Tracker(Protocol):
    """What the reconciler needs from an issue tracker."""

    name: str
    """The backend name (``github``), used in messages and tool events."""

    def list_open_issues(self) -> list[TrackerIssue]:
        """Every open issue carrying our label, following pagination to the last page."""
        ...

    def list_comments(self, number: int) -> list[str]:
        """The bodies of every comment on issue ``number``, oldest first."""
        ...

    def create_issue(self, draft: IssueDraft) -> int:
        """File ``draft`` and return the new issue's number."""
        ...

    def add_comment(self, number: int, body: str) -> None:
        """Add a comment to issue ``number``."""
        ...

    def describe_create(self, draft: IssueDraft) -> dict[str, JsonValue]:
        """The request or command :meth:`create_issue` would send, with no secret in it."""
        ...

    def describe_comment(self, number: int, body: str) -> dict[str, JsonValue]:
        """The request or command :meth:`add_comment` would send, with no secret in it."""
        ...

    def close(self) -> None:
        """Release connections; the tracker is not used afterwards."""
        ...


class TrackerClass(Protocol):
    """What an ``orchestrate.trackers`` entry point names: a class (or factory) with ``from_config``."""

    def from_config(
        self,
        issues: IssuesSection,
        *,
        project_root: Path,
        label: str,
        env: Mapping[str, str] | None = None,
    ) -> Tracker: ...


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """The configuration values a built-in backend is opened with (no secret values)."""

    backend: str
    project_root: Path
    label: str
    repository: str | None = None
    api_url: str | None = None
    token_env: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def of(
        cls,
        issues: IssuesSection,
        *,
        project_root: Path,
        label: str,
        env: Mapping[str, str] | None = None,
    ) -> TrackerSettings:
        return cls(
            backend=issues.backend,
            project_root=Path(project_root),
            label=label,
            repository=issues.repository,
            api_url=issues.api_url,
            token_env=issues.token_env,
            env=dict(os.environ if env is None else env),
        )

    def require_repository(self, example: str) -> str:
        """``repository``, or a :class:`ConfigError` saying how to set it."""
        if not self.repository or not self.repository.strip():
            raise ConfigError(
                None,
                "issues.repository",
                f"the {self.backend} backend needs the repository to file issues in",
                f'set it in [issues], for example repository = "{example}"',
            )
        return self.repository.strip().strip("/")

    def token(self, default_env: str | None) -> tuple[str | None, str | None]:
        """The token and the name of the variable it came from (``token_env``, else ``default_env``).

        An empty variable counts as unset. The value is only ever handed to the tracker's client.
        """
        name = self.token_env or default_env
        if name is None:
            return None, None
        value = self.env.get(name, "").strip()
        return (value or None), name

    def require_token(self, default_env: str) -> tuple[str, str]:
        """The token, or a :class:`ConfigError` naming the variable that should hold it."""
        value, name = self.token(default_env)
        if value is None:
            variable = name or default_env
            raise ConfigError(
                None,
                "issues.token_env",
                f"the {self.backend} backend needs a token and the environment variable {variable} "
                "is not set",
                f"export {variable}=<token>, or name another variable in [issues], "
                f'for example token_env = "{default_env}"',
            )
        return value, name or default_env


class SettingsTracker:
    """Base of the built-in backends opened from :class:`TrackerSettings` alone.

    Gives them the ``from_config`` the ``orchestrate.trackers`` entry points call.
    """

    def __init__(self, settings: TrackerSettings) -> None:
        self.label = settings.label

    @classmethod
    def from_config(
        cls,
        issues: IssuesSection,
        *,
        project_root: Path,
        label: str,
        env: Mapping[str, str] | None = None,
    ) -> Self:
        return cls(TrackerSettings.of(issues, project_root=project_root, label=label, env=env))


def open_tracker(
    issues: IssuesSection,
    *,
    project_root: Path,
    label: str,
    env: Mapping[str, str] | None = None,
) -> Tracker:
    """The tracker ``issues.backend`` names, found through the ``orchestrate.trackers`` entry points."""
    factory: Any = load_plugin(TRACKER_GROUP, issues.backend)
    if not callable(getattr(factory, "from_config", None)):
        raise ConfigError(
            None,
            "issues.backend",
            f"the tracker {issues.backend!r} has no from_config(issues, project_root=, label=, env=)",
            "register a class that implements the Tracker protocol of orchestrator.agents.issue_reconciler",
        )
    tracker = factory.from_config(issues, project_root=project_root, label=label, env=env)
    if not isinstance(tracker, Tracker):
        raise ConfigError(
            None,
            "issues.backend",
            f"the tracker {issues.backend!r} built a {type(tracker).__name__}, which is not a Tracker",
            "implement every method of the Tracker protocol of orchestrator.agents.issue_reconciler",
        )
    return tracker
