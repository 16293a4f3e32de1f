"""The reconciler's real work, as plain functions: findings in, tracker actions out.

:func:`reconcile` works in two steps.

1. **Plan**, against the tracker as listed once (every page): per finding,
   :func:`orchestrator.policy.triage.decide` says whether its fingerprint is already filed (left
   alone), whether an open issue's title is within two edits (a comment on it, unless that
   issue's comments already carry the fingerprint) or neither (a new issue). Critical and high
   findings are acted on without asking; medium and low are handled as one batch: prompted, all
   created, or all skipped. Nothing is written yet, so a prompt never holds a lock.
2. **Apply**, under the tracker's write lock (:func:`orchestrator.trackers.write_lock`; the local
   tracker's is a file lock, across processes): right before each create, the tracker is asked
   whether an open issue now carries the fingerprint
   (:func:`orchestrator.trackers.find_open_issue`), so two reconciles running at once file each
   finding once. With ``dry_run`` the requests are described instead and nothing is sent.

A finding that should have been filed and was not is never silent: it is listed under
``failed`` with the tracker's error (its code, the status the tracker answered and the fix). A
body that is too large, or a write the tracker refuses, fails that finding only; a tracker that
cannot be listed (or opened, see :func:`unfiled`) fails every finding that needed it, and the
outcome's ``error`` says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import JsonValue, ValidationError
from rapidfuzz.distance import Levenshtein

from orchestrator.agents.issue_reconciler._body import compose_comment, compose_issue, sanitize_title
from orchestrator.agents.issue_reconciler._prompt import BatchChoice, BatchItem, Prompter, triage_batch
from orchestrator.artifacts import read_jsonl
from orchestrator.errors import ArtifactError, UsageError
from orchestrator.gate import Finding
from orchestrator.policy.triage import (
    KnownIssue,
    TriageMode,
    TriagePolicy,
    decide,
    route,
)
from orchestrator.trackers import Tracker, TrackerError, find_open_issue, fingerprints_in, write_lock
from orchestrator.validation import explain_validation_error

__all__ = ["ActionName", "ReconcileOutcome", "format_request", "load_findings", "reconcile", "unfiled"]

ActionName = Literal["created", "commented", "noop", "skipped", "failed", "would_create", "would_comment"]


@dataclass
class ReconcileOutcome:
    """What one reconciliation did (or, in a dry run, would do).

    ``failed`` holds one record per finding that should have been filed and was not: its
    ``fingerprint``, ``severity``, ``title``, the ``error_code`` and ``error``, the ``reason``
    without the fix, the ``tracker``, the ``status`` it answered (or null) and the ``fix``.
    ``error`` is set when the tracker as a whole failed (it could not be opened or listed).
    """

    backend: str
    dry_run: bool
    triage: str
    triage_reason: str = ""
    created: list[int] = field(default_factory=list)
    commented: list[int] = field(default_factory=list)
    noop: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    requests: list[dict[str, JsonValue]] = field(default_factory=list)
    failed: list[dict[str, JsonValue]] = field(default_factory=list)
    actions: list[dict[str, JsonValue]] = field(default_factory=list)
    error: TrackerError | None = None

    def record(self, finding: Finding, action: ActionName, issue: int | None = None) -> None:
        """Put ``finding`` in its bucket and in the per-finding action list."""
        if action == "created" and issue is not None:
            self.created.append(issue)
        elif action == "commented" and issue is not None and issue not in self.commented:
            self.commented.append(issue)
        elif action == "noop" and issue is not None and issue not in self.noop:
            self.noop.append(issue)
        elif action == "skipped":
            self.skipped.append(finding.fingerprint)
        self.actions.append(
            {
                "fingerprint": finding.fingerprint,
                "severity": finding.severity,
                "check": finding.check,
                "action": action,
                "issue": issue,
            }
        )

    def record_failure(self, finding: Finding, error: TrackerError, issue: int | None = None) -> None:
        """``finding`` should have been filed (or commented on) and was not, because of ``error``."""
        self.failed.append(
            {
                "fingerprint": finding.fingerprint,
                "severity": finding.severity,
                "title": sanitize_title(finding.title),
                **error.as_data(),
                "reason": error.reason,
                "tracker": error.tracker or self.backend,
            }
        )
        self.record(finding, "failed", issue)

    def summary(self) -> str:
        """One line for people: what was filed, commented, left alone, skipped and failed."""
        if self.dry_run:
            would_create = sum(1 for a in self.actions if a["action"] == "would_create")
            would_comment = sum(1 for a in self.actions if a["action"] == "would_comment")
            head = f"dry run on {self.backend}: would create {would_create}, would comment {would_comment}"
        else:
            head = f"{self.backend}: created {len(self.created)}, commented {len(self.commented)}"
        text = f"{head}, unchanged {len(self.noop)}, skipped {len(self.skipped)}"
        return text + (f", failed {len(self.failed)}" if self.failed else "")

    def request_lines(self) -> list[str]:
        """The dry-run requests, one line each (see :func:`format_request`)."""
        return [format_request(request) for request in self.requests]

    @property
    def succeeded(self) -> bool:
        """Nothing failed: every finding that should be in the tracker is (or, dry, would be)."""
        return not self.failed and self.error is None

    def failure_message(self) -> str | None:
        """One line saying what was not filed and why (the first error, with its fix), or ``None``."""
        if self.succeeded:
            return None
        first = self.error
        count = len(self.failed)
        if first is None:
            reason, fix = str(self.failed[0]["reason"]), self.failed[0]["fix"]
        else:
            reason, fix = first.reason, first.fix
        what = f"{count} finding{'s' if count != 1 else ''} not filed" if count else "nothing filed"
        text = f"{what} in the {self.backend} tracker: {reason}"
        others = len({str(f["reason"]) for f in self.failed} - {reason})
        if others:
            text += f" (and {others} other error{'s' if others != 1 else ''})"
        return text + (f"; fix: {fix}" if fix else "")

    def error_code(self) -> str | None:
        """The code of the tracker's error, or of the first finding's failure; ``None`` on success."""
        if self.error is not None:
            return self.error.error_code
        return str(self.failed[0]["error_code"]) if self.failed else None

    def as_data(self) -> dict[str, JsonValue]:
        """The worker's result data, and the content of ``issues.json``."""
        return {
            "backend": self.backend,
            "dry_run": self.dry_run,
            "triage": self.triage,
            "triage_reason": self.triage_reason,
            "created": list(self.created),
            "commented": list(self.commented),
            "noop": list(self.noop),
            "skipped": list(self.skipped),
            "requests": list(self.requests),
            "failed": list(self.failed),
            "actions": list(self.actions),
            "error": self.failure_message(),
            "error_code": self.error_code(),
        }


def format_request(request: Mapping[str, Any]) -> str:
    """One line for a dry-run description: the command, or the method and URL, or the local file.

    Bodies are summarised by their size; the full request stays in ``issues.json``.
    """
    if request.get("command"):
        return str(request["command"])
    sent = request.get("json")
    payload: Mapping[str, Any] = sent if isinstance(sent, Mapping) else request
    title = payload.get("title")
    body = payload.get("body") or payload.get("description") or ""
    labels = payload.get("labels")
    label_text = ",".join(map(str, labels)) if isinstance(labels, list) else str(labels or "")
    details = (f" title={title!r}" if title else "") + (f" labels={label_text}" if label_text else "")
    details += f" body={len(str(body).encode('utf-8'))} bytes"
    if request.get("method"):
        return f"{request['method']} {request.get('url')}{details}"
    where = request.get("path") or request.get("directory") or ""
    return f"{request.get('backend')} {request.get('action')} {where}{details}"


def load_findings(path: Path) -> list[Finding]:
    """The findings of a ``findings.jsonl`` (its ``_meta`` line skipped), in file order."""
    read = read_jsonl(Path(path))
    findings: list[Finding] = []
    for index, record in enumerate(read.records, 1):
        if "_meta" in record:
            continue
        try:
            findings.append(Finding.model_validate(record))
        except ValidationError as exc:
            problem = explain_validation_error(exc, model=Finding, syntax="json")
            raise ArtifactError(f"{path}: record {index} is not a finding: {problem}") from None
    return findings


def _distance(limit: int) -> Callable[[str, str], int]:
    def distance(a: str, b: str) -> int:
        return int(Levenshtein.distance(a, b, score_cutoff=limit))

    return distance


@dataclass(frozen=True)
class _Step:
    """One planned write: create an issue for ``finding``, or comment on issue ``issue``."""

    finding: Finding
    action: Literal["create", "comment"]
    issue: int | None = None


class _Run:
    """One reconciliation in progress: the tracker, the policy and what has been done so far."""

    def __init__(self, tracker: Tracker, policy: TriagePolicy, outcome: ReconcileOutcome) -> None:
        self.tracker = tracker
        self.policy = policy
        self.outcome = outcome
        self._comment_fingerprints: dict[int, set[str]] = {}

    def apply(self, steps: Sequence[_Step]) -> None:
        """Do (or, dry, describe) every step; writes under the tracker's write lock."""
        if self.outcome.dry_run:
            for step in steps:
                self._step(step)
            return
        if not steps:
            return
        done = 0
        try:
            with write_lock(self.tracker):
                for step in steps:
                    self._step(step)
                    done += 1
        except TrackerError as exc:  # the lock could not be had: nothing past it was written
            for step in steps[done:]:
                self.outcome.record_failure(step.finding, exc, step.issue)

    def _step(self, step: _Step) -> None:
        if step.action == "comment" and step.issue is not None:
            self.comment(step.finding, step.issue)
        else:
            self.create(step.finding)

    def create(self, finding: Finding) -> None:
        try:
            draft = compose_issue(finding, self.policy)
            if self.outcome.dry_run:
                self.outcome.requests.append(self.tracker.describe_create(draft))
                self.outcome.record(finding, "would_create")
                return
            # Filed by another run since the listing? Then it is there, not ours to file again.
            existing = find_open_issue(self.tracker, finding.fingerprint)
            if existing is not None:
                self.outcome.record(finding, "noop", existing.number)
                return
            number = self.tracker.create_issue(draft)
        except TrackerError as exc:
            self.outcome.record_failure(finding, exc)
            return
        self.outcome.record(finding, "created", number)

    def comment(self, finding: Finding, number: int) -> None:
        try:
            if number not in self._comment_fingerprints:
                bodies = self.tracker.list_comments(number)
                self._comment_fingerprints[number] = {fp for body in bodies for fp in fingerprints_in(body)}
            if finding.fingerprint in self._comment_fingerprints[number]:
                self.outcome.record(finding, "noop", number)
                return
            body = compose_comment(finding, self.policy)
            if self.outcome.dry_run:
                self.outcome.requests.append(self.tracker.describe_comment(number, body))
                self.outcome.record(finding, "would_comment", number)
                return
            self.tracker.add_comment(number, body)
        except TrackerError as exc:
            self.outcome.record_failure(finding, exc, number)
            return
        self._comment_fingerprints[number].add(finding.fingerprint)
        self.outcome.record(finding, "commented", number)


def _unique(findings: Sequence[Finding]) -> list[Finding]:
    """``findings`` in order, each fingerprint once (the same defect twice in a file is filed once)."""
    seen: set[str] = set()
    unique: list[Finding] = []
    for finding in findings:
        if finding.fingerprint not in seen:
            seen.add(finding.fingerprint)
            unique.append(finding)
    return unique


def unfiled(
    findings: Sequence[Finding],
    error: TrackerError,
    *,
    backend: str,
    triage: TriageMode,
    dry_run: bool = False,
    policy: TriagePolicy | None = None,
    triage_reason: str = "",
) -> ReconcileOutcome:
    """The outcome when the tracker failed as a whole (it could not be opened or listed).

    Every finding that needed the tracker fails with ``error``: critical and high ones always,
    medium and low ones unless the triage skips them anyway.
    """
    policy = policy or TriagePolicy()
    outcome = ReconcileOutcome(
        backend=backend, dry_run=dry_run, triage=triage, triage_reason=triage_reason, error=error
    )
    for finding in _unique(findings):
        if route(finding.severity, policy) == "batch" and triage == "skip":
            outcome.record(finding, "skipped")
        else:
            outcome.record_failure(finding, error)
    return outcome


def reconcile(
    findings: Sequence[Finding],
    tracker: Tracker,
    *,
    triage: TriageMode,
    prompter: Prompter | None = None,
    dry_run: bool = False,
    policy: TriagePolicy | None = None,
    triage_reason: str = "",
) -> ReconcileOutcome:
    """File, comment on or leave alone each finding in ``tracker``; see the module docstring.

    ``triage`` is how the medium/low batch is handled (``prompt`` needs ``prompter``); resolve it
    with :func:`orchestrator.policy.triage.resolve_triage`. Tracker failures never raise: they
    are in the outcome's ``failed`` and ``error``.
    """
    policy = policy or TriagePolicy()
    if triage == "prompt" and prompter is None:
        raise UsageError("triage 'prompt' needs a prompter (a terminal to ask on)")
    unique = _unique(findings)
    try:
        listed = tracker.list_open_issues()
    except TrackerError as exc:
        return unfiled(
            unique, exc, backend=tracker.name, triage=triage, dry_run=dry_run, policy=policy,
            triage_reason=triage_reason,
        )  # fmt: skip
    outcome = ReconcileOutcome(
        backend=tracker.name, dry_run=dry_run, triage=triage, triage_reason=triage_reason
    )
    known = [KnownIssue(issue.number, issue.title, fingerprints_in(issue.body)) for issue in listed]
    distance = _distance(policy.title_distance)
    steps: list[_Step] = []
    batch: list[BatchItem] = []
    for finding in unique:
        decision = decide(
            finding.fingerprint, sanitize_title(finding.title), known, policy=policy, distance=distance
        )
        if decision.action == "ignore":
            outcome.record(finding, "noop", decision.issue)
        elif route(finding.severity, policy) == "batch":
            batch.append(BatchItem(finding, decision))
        elif decision.action == "comment" and decision.issue is not None:
            steps.append(_Step(finding, "comment", decision.issue))
        else:
            steps.append(_Step(finding, "create"))
    if triage == "skip":
        choices: list[BatchChoice] = ["skip"] * len(batch)
    elif triage == "create":
        choices = [item.recommended for item in batch]
    else:
        assert prompter is not None
        choices = triage_batch(batch, prompter)
    for item, choice in zip(batch, choices, strict=True):
        if choice == "skip":
            outcome.record(item.finding, "skipped")
        elif choice == "comment" and item.decision.issue is not None:
            steps.append(_Step(item.finding, "comment", item.decision.issue))
        else:
            steps.append(_Step(item.finding, "create"))
    _Run(tracker, policy, outcome).apply(steps)
    order = {finding.fingerprint: index for index, finding in enumerate(unique)}
    outcome.actions.sort(key=lambda action: order[str(action["fingerprint"])])
    return outcome
