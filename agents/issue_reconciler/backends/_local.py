"""The ``local`` backend (the default): issues kept in the project, as Markdown files, nothing to set up.

Layout, under ``.orchestrator/issues/``::

    .orchestrator/issues/
        .lock          # held while a reconcile checks and writes, and by every write (filelock)
        0001.md        # issue 1
        0002.md        # issue 2, ...

Each file is a small YAML front matter, the issue body, then its comments, each introduced by a
marker line (an HTML comment, invisible when rendered) and a heading::

    ---
    number: 1
    title: '[test-runner] Images must have alternate text'
    state: open
    labels: [from:test-runner, priority:critical]
    created_at: '2025-01-01T12:00:00Z'
    updated_at: '2025-01-01T12:00:00Z'
    comments: 1
    ---
    <issue body, ending in its fingerprint sentinel>

    <!-- orchestrate:comment at=2025-01-02T08:00:00Z -->
    ### Comment (2025-01-02T08:00:00Z)

    <comment body>

Numbers are 1, 2, 3... in order of creation. Files are replaced atomically, and creating or
commenting holds the lock, so concurrent runs never reuse a number or lose a comment. A
reconcile holds the same lock (:meth:`LocalTracker.write_lock`) from its last look at the
issues (:meth:`LocalTracker.find_open_issue`) to its last write, so two reconciles running at
once, in any processes, file each finding once. A person may edit a file: setting
``state: closed`` closes the issue (it is no longer listed as open).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock, Timeout
from pydantic import JsonValue

from orchestrator.agents.issue_reconciler import check_body_size
from orchestrator.artifacts import atomic_write_text
from orchestrator.config import STATE_DIR_NAME, IssuesSection
from orchestrator.errors import ConfigError
from orchestrator.trackers import (
    IssueDraft,
    IssueState,
    TrackerError,
    TrackerIssue,
    TrackerSettings,
    fingerprints_in,
)

__all__ = ["ISSUES_DIR_NAME", "LocalTracker", "issues_dir_of"]

ISSUES_DIR_NAME = "issues"
LOCK_TIMEOUT_S = 60.0
_FILE = re.compile(r"^(\d+)\.md$")
_COMMENT_MARKER = re.compile(r"^<!-- orchestrate:comment at=(\S+) -->[ \t]*$", re.MULTILINE)


def issues_dir_of(project_root: Path) -> Path:
    """Where the local tracker of the project at ``project_root`` keeps its issues."""
    return Path(project_root) / STATE_DIR_NAME / ISSUES_DIR_NAME


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _LocalFile:
    """One parsed issue file: front matter, body, and the comment text after it."""

    def __init__(self, path: Path, meta: dict[str, Any], body: str, comments_text: str) -> None:
        self.path = path
        self.meta = meta
        self.body = body
        self.comments_text = comments_text

    @classmethod
    def read(cls, path: Path) -> _LocalFile:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TrackerError(f"local: cannot read {path}: {exc.strerror or exc}") from None
        if not text.startswith("---\n"):
            raise ConfigError(
                path, "(front matter)", "the file does not start with a --- front matter block",
                "keep the first lines as written: ---, number: 1, title: ..., state: open, ---",
            )  # fmt: skip
        end = text.find("\n---\n", 3)
        if end < 0:
            raise ConfigError(
                path, "(front matter)", "the front matter block is not closed by a --- line",
                "end the front matter with a line holding only ---",
            )  # fmt: skip
        try:
            meta = yaml.safe_load(text[4:end])
        except yaml.YAMLError as exc:
            raise ConfigError(
                path, "(front matter)", f"is not valid YAML: {exc}", "fix the YAML, e.g. state: open"
            ) from None
        if not isinstance(meta, dict):
            raise ConfigError(path, "(front matter)", "is not a mapping", "write key: value lines")
        number = meta.get("number")
        expected = int(_FILE.match(path.name).group(1))  # type: ignore[union-attr]
        if number != expected:
            raise ConfigError(
                path, "number", f"is {number!r} but the file is {path.name}", f"set number: {expected}"
            )
        state = meta.get("state", "open")
        if state not in ("open", "closed"):
            raise ConfigError(path, "state", f"is {state!r}", "use state: open or state: closed")
        rest = text[end + 5 :]
        marker = _COMMENT_MARKER.search(rest)
        body, comments = (rest, "") if marker is None else (rest[: marker.start()], rest[marker.start() :])
        return cls(path, meta, body.rstrip("\n") + "\n" if body.strip() else "", comments)

    def comment_bodies(self) -> list[str]:
        parts = _COMMENT_MARKER.split(self.comments_text)
        # split() gives [before, at1, text1, at2, text2, ...]; each text starts with its heading.
        bodies = []
        for text in parts[2::2]:
            lines = text.strip("\n").split("\n")
            if lines and lines[0].startswith("### Comment"):
                lines = lines[1:]
            bodies.append("\n".join(lines).strip("\n") + "\n")
        return bodies

    def render(self) -> str:
        front = yaml.safe_dump(
            self.meta, sort_keys=False, allow_unicode=True, default_flow_style=None, width=1000
        )
        comments = "\n" + self.comments_text if self.comments_text else ""
        return f"---\n{front}---\n{self.body}{comments}"

    def as_issue(self, project_root: Path) -> TrackerIssue:
        labels = self.meta.get("labels") or []
        return TrackerIssue(
            number=int(self.meta["number"]),
            title=str(self.meta.get("title") or ""),
            body=self.body,
            state=str(self.meta.get("state", "open")),
            labels=tuple(str(label) for label in labels) if isinstance(labels, list) else (),
            url=self.path.relative_to(project_root).as_posix(),
            created_at=_text(self.meta.get("created_at")),
            updated_at=_text(self.meta.get("updated_at")),
            comments=int(self.meta.get("comments") or 0),
        )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):  # YAML turns unquoted timestamps into datetimes
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


class LocalTracker:
    """The project's own tracker: Markdown files under ``.orchestrator/issues/``."""

    name = "local"

    def __init__(
        self, project_root: Path, *, label: str = "from:test-runner", clock: Callable[[], str] = _now
    ) -> None:
        self.project_root = Path(project_root)
        self.directory = issues_dir_of(self.project_root)
        self.label = label
        self._clock = clock
        self._file_lock: FileLock | None = None
        self._write_locked = False
        self._index: dict[str, TrackerIssue] | None = None
        """While write-locked: the open issues by fingerprint, read once (nobody else writes then)."""

    @classmethod
    def from_config(
        cls,
        issues: IssuesSection,
        *,
        project_root: Path,
        label: str,
        env: Mapping[str, str] | None = None,
    ) -> LocalTracker:
        settings = TrackerSettings.of(issues, project_root=project_root, label=label, env=env or {})
        return cls(settings.project_root, label=settings.label)

    def __repr__(self) -> str:
        return f"LocalTracker({str(self.directory)!r})"

    def close(self) -> None:
        """Nothing to release."""

    # --- reading ------------------------------------------------------------------------------

    def _paths(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir() if (m := _FILE.match(p.name))]
        return [path for _, path in sorted(found)]

    def _path(self, number: int) -> Path:
        return self.directory / f"{int(number):04d}.md"

    def list_issues(self, state: IssueState = "open", *, ours_only: bool = False) -> list[TrackerIssue]:
        """Issues in ``state`` (``all`` for every one), by number; ``ours_only`` keeps our label's."""
        issues = [_LocalFile.read(path).as_issue(self.project_root) for path in self._paths()]
        return [
            issue
            for issue in issues
            if (state == "all" or issue.state == state) and (not ours_only or self.label in issue.labels)
        ]

    def list_open_issues(self) -> list[TrackerIssue]:
        return self.list_issues("open", ours_only=True)

    def list_comments(self, number: int) -> list[str]:
        return self._read(number).comment_bodies()

    def find_open_issue(self, fingerprint: str) -> TrackerIssue | None:
        """The open issue of ours carrying ``fingerprint`` (read once per hold of the write lock)."""
        if not self._write_locked:
            return self._by_fingerprint().get(fingerprint)
        if self._index is None:
            self._index = self._by_fingerprint()
        return self._index.get(fingerprint)

    def _by_fingerprint(self) -> dict[str, TrackerIssue]:
        index: dict[str, TrackerIssue] = {}
        for issue in self.list_open_issues():
            for fingerprint in issue.fingerprints:
                index.setdefault(fingerprint, issue)
        return index

    def _read(self, number: int) -> _LocalFile:
        path = self._path(number)
        if not path.is_file():
            raise TrackerError(f"local: there is no issue {number} ({path} does not exist)")
        return _LocalFile.read(path)

    # --- writing ------------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold ``.lock`` (re-entrant in one thread; exclusive across threads and processes)."""
        if self._file_lock is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._file_lock = FileLock(self.directory / ".lock", timeout=LOCK_TIMEOUT_S)
        try:
            self._file_lock.acquire()
        except Timeout:
            raise TrackerError(
                f"local: {self.directory / '.lock'} was held for more than {LOCK_TIMEOUT_S:g} s "
                "by another run",
                tracker=self.name,
                fix="run again once the other run has finished",
            ) from None
        try:
            yield
        finally:
            self._file_lock.release()

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Held by a reconcile while it checks and writes; other reconciles of the project wait."""
        with self._locked():
            self._write_locked = True
            try:
                yield
            finally:
                self._write_locked = False
                self._index = None

    def create_issue(self, draft: IssueDraft) -> int:
        check_body_size(draft.body, fingerprint=draft.fingerprint)
        with self._locked():
            paths = self._paths()
            number = (int(_FILE.match(paths[-1].name).group(1)) if paths else 0) + 1  # type: ignore[union-attr]
            now = self._clock()
            meta = {
                "number": number,
                "title": draft.title,
                "state": "open",
                "labels": list(draft.labels),
                "created_at": now,
                "updated_at": now,
                "comments": 0,
            }
            body = draft.body if draft.body.endswith("\n") else draft.body + "\n"
            issue = _LocalFile(self._path(number), meta, body, "")
            atomic_write_text(issue.path, issue.render())
        if self._index is not None and self.label in draft.labels:
            for fingerprint in fingerprints_in(body):
                self._index.setdefault(fingerprint, issue.as_issue(self.project_root))
        return number

    def add_comment(self, number: int, body: str) -> None:
        check_body_size(body)
        with self._locked():
            issue = self._read(number)
            now = self._clock()
            text = body if body.endswith("\n") else body + "\n"
            block = f"<!-- orchestrate:comment at={now} -->\n### Comment ({now})\n\n{text}"
            issue.comments_text = f"{issue.comments_text}\n{block}" if issue.comments_text else block
            issue.meta["comments"] = int(issue.meta.get("comments") or 0) + 1
            issue.meta["updated_at"] = now
            atomic_write_text(issue.path, issue.render())

    def describe_create(self, draft: IssueDraft) -> dict[str, JsonValue]:
        check_body_size(draft.body, fingerprint=draft.fingerprint)
        labels: list[JsonValue] = list(draft.labels)
        return {
            "backend": self.name,
            "action": "create",
            "directory": self.directory.relative_to(self.project_root).as_posix(),
            "title": draft.title,
            "labels": labels,
            "body": draft.body,
        }

    def describe_comment(self, number: int, body: str) -> dict[str, JsonValue]:
        check_body_size(body)
        return {
            "backend": self.name,
            "action": "comment",
            "path": self._path(number).relative_to(self.project_root).as_posix(),
            "issue": number,
            "body": body,
        }
