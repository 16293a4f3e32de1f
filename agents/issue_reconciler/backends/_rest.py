"""The base of the REST backends: listing, finding, creating and commenting, the same for each.

A subclass says how its tracker pages through open issues (:meth:`RestTracker._issue_pages`),
how an issue is shaped (:meth:`RestTracker._create_payload`), where comments live
(:meth:`RestTracker._comments_path`) and how the created issue's number is read
(:meth:`RestTracker._created_number`).

Filing each finding once, when reconciles run at the same time:

- :meth:`RestTracker.find_open_issue` looks a fingerprint up right before each create, among the
  open issues created since this tracker's last listing (newest first, so usually one page): an
  issue another run filed in the meantime is found, not duplicated;
- :meth:`RestTracker.write_lock` serialises the check and the create of every reconcile of the
  same repository in this process, so between threads the check is exact; between processes it
  narrows the race to the time of one request;
- a create or comment that failed with a 5xx or on the way may have landed anyway, so before it
  is retried the tracker checks for it first (:meth:`RestClient.request`'s ``before_resend``).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import JsonValue

from orchestrator.agents.issue_reconciler import check_body_size
from orchestrator.agents.issue_reconciler.backends._http import RestClient
from orchestrator.trackers import IssueDraft, SettingsTracker, TrackerError, TrackerIssue, fingerprints_in

__all__ = ["WRITE_LOCK_TIMEOUT_S", "RestTracker"]

WRITE_LOCK_TIMEOUT_S = 600.0

_write_locks: dict[tuple[str, str], threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _write_lock_of(key: tuple[str, str]) -> threading.Lock:
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.Lock())


class _Landed(Exception):  # noqa: N818 - control flow inside this module, never raised past it
    """A write that failed on the way had landed after all (``number`` is the issue it reached)."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


class RestTracker(SettingsTracker, ABC):
    """Base of the REST backends (see the module docstring).

    A subclass sets ``name``, ``repository``, ``_base`` (the repository's API path) and
    ``_http`` in its ``__init__``.
    """

    name: str
    repository: str
    _base: str
    _http: RestClient
    _listed_up_to: int | None = None
    """The highest issue number the last full listing saw: older issues need no second look."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.repository!r}, {self._http.api_url!r})"

    def close(self) -> None:
        self._http.close()

    @abstractmethod
    def _issue_pages(self) -> Iterator[list[TrackerIssue]]:
        """Open issues carrying our label, newest first, a page at a time."""

    @abstractmethod
    def _create_payload(self, draft: IssueDraft) -> dict[str, Any]:
        """The JSON body that creates ``draft``."""

    @abstractmethod
    def _created_number(self, document: Any) -> int:
        """The new issue's number in the tracker's answer to a create."""

    @abstractmethod
    def _comments_path(self, number: int) -> str:
        """The API path of issue ``number``'s comments."""

    @abstractmethod
    def list_comments(self, number: int) -> list[str]:
        """The bodies of every comment on issue ``number``, oldest first."""

    def list_open_issues(self) -> list[TrackerIssue]:
        issues = [issue for page in self._issue_pages() for issue in page]
        self._listed_up_to = max((issue.number for issue in issues), default=0)
        return issues

    def find_open_issue(self, fingerprint: str) -> TrackerIssue | None:
        """The open issue of ours carrying ``fingerprint``, among those newer than the last listing."""
        for page in self._issue_pages():
            found = next((issue for issue in page if fingerprint in issue.fingerprints), None)
            if found is not None:
                return found
            if self._listed_up_to is not None and any(i.number <= self._listed_up_to for i in page):
                return None  # the rest was in the listing the reconcile decided on
        return None

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Held by a reconcile of this repository while it checks and writes (this process only)."""
        lock = _write_lock_of((self._http.api_url, self.repository))
        if not lock.acquire(timeout=WRITE_LOCK_TIMEOUT_S):
            raise TrackerError(
                f"{self.name}: another reconcile of {self.repository} in this process held the write "
                f"lock for {WRITE_LOCK_TIMEOUT_S:g} s",
                tracker=self.name,
                fix="run again once the other run has finished",
            )
        try:
            yield
        finally:
            lock.release()

    def create_issue(self, draft: IssueDraft) -> int:
        check_body_size(draft.body, fingerprint=draft.fingerprint)

        def landed() -> None:
            found = self.find_open_issue(draft.fingerprint) if draft.fingerprint else None
            if found is not None:
                raise _Landed(found.number)

        try:
            response = self._http.request(
                "POST",
                self._http.url(f"{self._base}/issues"),
                json=self._create_payload(draft),
                before_resend=landed,
            )
        except _Landed as done:
            return done.number
        return self._created_number(self._http.json_of(response))

    def add_comment(self, number: int, body: str) -> None:
        check_body_size(body)
        expected = fingerprints_in(body)

        def landed() -> None:
            present = {fp for text in self.list_comments(number) for fp in fingerprints_in(text)}
            if expected and expected <= present:
                raise _Landed(number)

        try:
            self._http.request(
                "POST", self._http.url(self._comments_path(number)), json={"body": body}, before_resend=landed
            )
        except _Landed:
            return

    def describe_create(self, draft: IssueDraft) -> dict[str, JsonValue]:
        check_body_size(draft.body, fingerprint=draft.fingerprint)
        return self._http.describe(
            "create", "POST", self._http.url(f"{self._base}/issues"), self._create_payload(draft)
        )

    def describe_comment(self, number: int, body: str) -> dict[str, JsonValue]:
        check_body_size(body)
        url = self._http.url(self._comments_path(number))
        return self._http.describe("comment", "POST", url, {"body": body})
