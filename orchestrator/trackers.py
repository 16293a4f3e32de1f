"""The issue-tracker contract: what a tracker backend does, the issues it speaks of, how one is opened.

The UI gate files findings as issues through a *tracker*. A tracker lists our open issues (those
carrying our label, every page of them), lists an issue's comments, creates an issue and comments
on one; for ``--dry-run`` it also *describes* the create and comment requests it would send,
without sending them and without any secret. That is the :class:`Tracker` protocol.

Backends are classes registered in the ``orchestrate.trackers`` entry-point group and chosen with
``[issues] backend = "<name>"``; the shipped ones (``local``, ``github``, ``gitlab``, ``gh``,
``glab``) are registered there exactly like a third-party one, and :func:`open_tracker` finds every
one of them the same way. A backend class is built with ``from_config(issues, project_root=...,
label=..., env=...)`` from plain configuration values (:class:`~orchestrator.config.IssuesSection`;
:class:`TrackerSettings` reads them, tokens included, for a backend that wants it).

Issues are recognised by the **fingerprint sentinel**, an HTML comment alone on the last line of
every body we file (invisible when rendered)::

    <!-- orchestrate:fingerprint=0123456789abcdef -->

Optional capabilities a backend may add, each checked with ``isinstance``:

- :class:`LockingTracker` (``write_lock()``): a lock held while a reconcile re-checks and writes,
  so two reconciles of the same tracker never file one finding twice (the local tracker: a file
  lock in its directory, across processes);
- :class:`SearchingTracker` (``find_open_issue(fingerprint)``): asked right before each create,
  so an issue another run filed since the listing is found instead of duplicated;
- :class:`StateFilteringTracker` (``list_issues(state)``): closed issues too, for
  ``orchestrate issues list --state``.

Failures are :class:`TrackerError` (under :class:`~orchestrator.errors.OrchestrateError`); a
tracker puts its name, the status it got and the fix in the error, never a token::

    OrchestrateError
    └── TrackerError               tracker_error          the tracker could not be read or written
        ├── TrackerAuthError       tracker_auth_failed    the tracker refused the credentials
        ├── TrackerRateLimitError  tracker_rate_limited   still rate-limited when the retry budget ran out
        └── TrackerUnavailableError tracker_unavailable   unreachable, or failing (5xx) past the retry budget
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, Self, runtime_checkable

from pydantic import JsonValue

from orchestrator.config import IssuesSection
from orchestrator.errors import ConfigError, OrchestrateError
from orchestrator.plugins import load_plugin

__all__ = [
    "DEFAULT_RETRY_BUDGET_S",
    "SENTINEL_TEMPLATE",
    "TRACKER_GROUP",
    "IssueDraft",
    "IssueState",
    "LockingTracker",
    "SearchingTracker",
    "SettingsTracker",
    "StateFilteringTracker",
    "Tracker",
    "TrackerAuthError",
    "TrackerClass",
    "TrackerError",
    "TrackerIssue",
    "TrackerRateLimitError",
    "TrackerSettings",
    "TrackerUnavailableError",
    "find_open_issue",
    "fingerprints_in",
    "open_tracker",
    "sentinel",
    "write_lock",
]

TRACKER_GROUP = "orchestrate.trackers"
SENTINEL_TEMPLATE = "<!-- orchestrate:fingerprint={fingerprint} -->"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRY_BUDGET_S = 60.0
"""How long, in total, a tracker may wait to retry rate-limited or failing requests."""

IssueState = Literal["open", "closed", "all"]

_FINGERPRINT = re.compile(r"[0-9a-f]{16}")
_SENTINEL_LINE = re.compile(r"^<!-- orchestrate:fingerprint=([0-9a-f]{16}) -->[ \t]*\r?$", re.MULTILINE)


# --- errors --------------------------------------------------------------------------------------


class TrackerError(OrchestrateError):
    """A tracker could not be read or written (unreachable, refused, malformed answer).

    ``tracker`` names the backend, ``status`` is what it answered (an HTTP status, a command's
    exit status) and ``fix`` says what to do; all optional, all free of secrets. ``reason`` is
    the message without the fix, which ``str()`` appends.
    """

    error_code = "tracker_error"

    def __init__(
        self,
        reason: str,
        *,
        tracker: str | None = None,
        status: int | None = None,
        fix: str | None = None,
    ) -> None:
        self.reason = reason
        self.tracker = tracker
        self.status = status
        self.fix = fix
        super().__init__(f"{reason} ({fix})" if fix else reason)

    def as_data(self) -> dict[str, JsonValue]:
        """The error as a JSON-ready mapping (what a failed finding records)."""
        return {
            "error_code": self.error_code,
            "error": str(self),
            "tracker": self.tracker,
            "status": self.status,
            "fix": self.fix,
        }


class TrackerAuthError(TrackerError):
    """The tracker refused the credentials (HTTP 401 or 403): a missing, wrong or weak token."""

    error_code = "tracker_auth_failed"


class TrackerRateLimitError(TrackerError):
    """The tracker was still rate-limiting us when the retry budget ran out."""

    error_code = "tracker_rate_limited"


class TrackerUnavailableError(TrackerError):
    """The tracker could not be reached, or kept failing (5xx), past the retry budget."""

    error_code = "tracker_unavailable"


# --- the sentinel --------------------------------------------------------------------------------


def sentinel(fingerprint: str) -> str:
    """The sentinel line for ``fingerprint`` (16 lowercase hex digits)."""
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise ValueError(f"a fingerprint is 16 lowercase hex digits, got {fingerprint!r}")
    return SENTINEL_TEMPLATE.format(fingerprint=fingerprint)


def fingerprints_in(text: str | None) -> frozenset[str]:
    """Every fingerprint whose sentinel stands on a line of its own in ``text``."""
    return frozenset(_SENTINEL_LINE.findall(text or ""))


# --- issues ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssueDraft:
    """An issue ready to file: sanitised title, body ending in its sentinel, labels."""

    title: str
    body: str
    labels: tuple[str, ...]
    fingerprint: str | None = None


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


# --- the protocol ----------------------------------------------------------------------------------


@runtime_checkable
class Tracker(Protocol):
    """What the issue reconciler needs from an issue tracker."""

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


@runtime_checkable
class LockingTracker(Protocol):
    """A tracker that can serialise reconciles: re-check and write under one lock."""

    def write_lock(self) -> AbstractContextManager[object]:
        """A lock every reconcile of this tracker holds while it re-checks and writes.

        Raises :class:`TrackerError` when it cannot be had in reasonable time.
        """
        ...


@runtime_checkable
class SearchingTracker(Protocol):
    """A tracker that can look one fingerprint up, right before creating its issue."""

    def find_open_issue(self, fingerprint: str) -> TrackerIssue | None:
        """The open issue of ours whose body carries ``fingerprint``'s sentinel, else ``None``.

        It must see issues created since the last :meth:`Tracker.list_open_issues`, by this
        process or any other.
        """
        ...


@runtime_checkable
class StateFilteringTracker(Protocol):
    """A tracker that lists closed issues too (``orchestrate issues list --state``)."""

    def list_issues(self, state: IssueState) -> list[TrackerIssue]:
        """Issues in ``state`` (``all`` for every one), by number."""
        ...


def write_lock(tracker: Tracker) -> AbstractContextManager[object]:
    """``tracker``'s write lock when it has one (:class:`LockingTracker`), else a no-op."""
    if isinstance(tracker, LockingTracker):
        return tracker.write_lock()
    return nullcontext()


def find_open_issue(tracker: Tracker, fingerprint: str) -> TrackerIssue | None:
    """``tracker.find_open_issue(fingerprint)`` if it can (:class:`SearchingTracker`), else ``None``."""
    if isinstance(tracker, SearchingTracker):
        return tracker.find_open_issue(fingerprint)
    return None


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


# --- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """The configuration values a backend is opened with, and the environment its token is read from.

    ``retry_budget_s`` is how long, in total over all its requests, the backend may wait to retry
    a rate-limited or failing tracker before it gives up.
    """

    backend: str
    project_root: Path
    label: str
    repository: str | None = None
    api_url: str | None = None
    token_env: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    retry_budget_s: float = DEFAULT_RETRY_BUDGET_S

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
            retry_budget_s=issues.retry_budget_s,
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
    """A base for backends opened from :class:`TrackerSettings` alone: it gives them ``from_config``."""

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
    """The tracker ``issues.backend`` names, found through the ``orchestrate.trackers`` entry points.

    An unknown backend, or one that is not a :class:`Tracker`, is a :class:`ConfigError`;
    so is a backend's own configuration mistake (a missing token or repository).
    """
    factory: Any = load_plugin(TRACKER_GROUP, issues.backend)
    if not callable(getattr(factory, "from_config", None)):
        raise ConfigError(
            None,
            "issues.backend",
            f"the tracker {issues.backend!r} has no from_config(issues, project_root=, label=, env=)",
            "register a class that implements the Tracker protocol of orchestrator.trackers",
        )
    tracker = factory.from_config(issues, project_root=project_root, label=label, env=env)
    if not isinstance(tracker, Tracker):
        raise ConfigError(
            None,
            "issues.backend",
            f"the tracker {issues.backend!r} built a {type(tracker).__name__}, which is not a Tracker",
            "implement every method of the Tracker protocol of orchestrator.trackers",
        )
    return tracker
