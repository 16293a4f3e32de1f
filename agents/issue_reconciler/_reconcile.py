"""The reconciler's real work, as plain functions: findings in, tracker actions out.

:func:`reconcile` lists the tracker's open issues once (every page), then decides per finding
with :func:`orchestrator.policy.triage.decide`: a fingerprint already filed is left alone; a
title within two edits of an open issue's title gets a comment on it (unless that issue's
comments already carry the fingerprint); anything else gets a new issue. Critical and high
findings are acted on without asking; medium and low are handled as one batch: prompted, all
created, or all skipped. With ``dry_run`` the create and comment requests are described and
nothing is sent. Decisions are all taken against the tracker as it was listed at the start, so a
dry run shows exactly what a real run would do.

A body that is too large, or a write the tracker refuses, fails that finding only (it is listed
under ``failed``); a listing that fails raises, since nothing can be decided without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import JsonValue, ValidationError
from rapidfuzz.distance import Levenshtein

from orchestrator.agents.issue_reconciler._body import (
    compose_comment,
    compose_issue,
    fingerprints_in,
    sanitize_title,
)
from orchestrator.agents.issue_reconciler._errors import TrackerError
from orchestrator.agents.issue_reconciler._prompt import BatchChoice, BatchItem, Prompter, triage_batch
from orchestrator.agents.issue_reconciler._tracker import Tracker
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
from orchestrator.validation import explain_validation_error

__all__ = ["ActionName", "ReconcileOutcome", "format_request", "load_findings", "reconcile"]

ActionName = Literal["created", "commented", "noop", "skipped", "failed", "would_create", "would_comment"]


@dataclass
class ReconcileOutcome:
    """What one reconciliation did (or, in a dry run, would do)."""

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

    def record(
        self, finding: Finding, action: ActionName, issue: int | None = None, **extra: JsonValue
    ) -> None:
        """Put ``finding`` in its bucket and in the per-finding action list."""
        if action == "created" and issue is not None:
            self.created.append(issue)
        elif action == "commented" and issue is not None and issue not in self.commented:
            self.commented.append(issue)
        elif action == "noop" and issue is not None and issue not in self.noop:
            self.noop.append(issue)
        elif action == "skipped":
            self.skipped.append(finding.fingerprint)
        elif action == "failed":
            self.failed.append({"fingerprint": finding.fingerprint, **extra})
        self.actions.append(
            {
                "fingerprint": finding.fingerprint,
                "severity": finding.severity,
                "check": finding.check,
                "action": action,
                "issue": issue,
            }
        )

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


class _Run:
    """One reconciliation in progress: the tracker, the policy and what has been done so far."""

    def __init__(self, tracker: Tracker, policy: TriagePolicy, outcome: ReconcileOutcome) -> None:
        self.tracker = tracker
        self.policy = policy
        self.outcome = outcome
        self._comment_fingerprints: dict[int, set[str]] = {}

    def create(self, finding: Finding) -> None:
        try:
            draft = compose_issue(finding, self.policy)
            if self.outcome.dry_run:
                self.outcome.requests.append(self.tracker.describe_create(draft))
                self.outcome.record(finding, "would_create")
                return
            number = self.tracker.create_issue(draft)
        except TrackerError as exc:
            self.outcome.record(finding, "failed", error_code=exc.error_code, error=str(exc))
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
            self.outcome.record(finding, "failed", number, error_code=exc.error_code, error=str(exc))
            return
        self._comment_fingerprints[number].add(finding.fingerprint)
        self.outcome.record(finding, "commented", number)

    def apply(self, item: BatchItem, choice: BatchChoice) -> None:
        if choice == "skip":
            self.outcome.record(item.finding, "skipped")
        elif choice == "comment" and item.decision.issue is not None:
            self.comment(item.finding, item.decision.issue)
        else:
            self.create(item.finding)


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
    with :func:`orchestrator.policy.triage.resolve_triage`. Raises :class:`TrackerError` when the
    open issues cannot be listed.
    """
    policy = policy or TriagePolicy()
    if triage == "prompt" and prompter is None:
        raise UsageError("triage 'prompt' needs a prompter (a terminal to ask on)")
    outcome = ReconcileOutcome(
        backend=tracker.name, dry_run=dry_run, triage=triage, triage_reason=triage_reason
    )
    known = [
        KnownIssue(issue.number, issue.title, fingerprints_in(issue.body))
        for issue in tracker.list_open_issues()
    ]
    run = _Run(tracker, policy, outcome)
    distance = _distance(policy.title_distance)
    seen: set[str] = set()
    batch: list[BatchItem] = []
    for finding in findings:
        if finding.fingerprint in seen:
            continue  # the same defect twice in one file is filed once
        seen.add(finding.fingerprint)
        decision = decide(
            finding.fingerprint, sanitize_title(finding.title), known, policy=policy, distance=distance
        )
        if decision.action == "ignore":
            outcome.record(finding, "noop", decision.issue)
        elif route(finding.severity, policy) == "batch":
            batch.append(BatchItem(finding, decision))
        elif decision.action == "comment" and decision.issue is not None:
            run.comment(finding, decision.issue)
        else:
            run.create(finding)
    if triage == "skip":
        choices: list[BatchChoice] = ["skip"] * len(batch)
    elif triage == "create":
        choices = [item.recommended for item in batch]
    else:
        assert prompter is not None
        choices = triage_batch(batch, prompter)
    for item, choice in zip(batch, choices, strict=True):
        run.apply(item, choice)
    return outcome
