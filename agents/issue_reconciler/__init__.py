"""The issue reconciler: files a run's UX findings in an issue tracker, once each.

Per finding: its fingerprint already in an open issue means nothing to do; an open issue whose
title (minus our prefix) is within two edits of the finding's means a comment on it; otherwise a
new issue, labelled ``from:test-runner`` and ``priority:<severity>``, whose body ends with the
fingerprint sentinel ``<!-- orchestrate:fingerprint=<16 hex> -->``. Critical and high findings are
filed without asking; medium and low are triaged as one batch. Trackers are plugins (entry-point
group ``orchestrate.trackers``); the shipped ones are in :mod:`.backends`.

Two ways in: the :class:`IssueReconciler` worker (capability ``reconcile``) for pipelines, and the
plain functions (:func:`load_findings`, :func:`reconcile`, :func:`open_tracker`) for everything else.
"""

from __future__ import annotations

from orchestrator.agents.issue_reconciler._actor import ISSUES_FILE, IssueReconciler, ReconcileParams
from orchestrator.agents.issue_reconciler._body import (
    MAX_BODY_BYTES,
    SENTINEL_TEMPLATE,
    IssueDraft,
    check_body_size,
    compose_comment,
    compose_issue,
    fingerprints_in,
    sanitize_inline,
    sanitize_text,
    sanitize_title,
    sentinel,
)
from orchestrator.agents.issue_reconciler._errors import (
    IssueBodyTooLargeError,
    TrackerError,
    UnsafeCommandError,
)
from orchestrator.agents.issue_reconciler._instrumented import InstrumentedTracker
from orchestrator.agents.issue_reconciler._prompt import BatchItem, Prompter, RichPrompter, triage_batch
from orchestrator.agents.issue_reconciler._reconcile import (
    ReconcileOutcome,
    format_request,
    load_findings,
    reconcile,
)
from orchestrator.agents.issue_reconciler._tracker import (
    TRACKER_GROUP,
    Tracker,
    TrackerClass,
    TrackerIssue,
    TrackerSettings,
    open_tracker,
)

__all__ = [
    "ISSUES_FILE",
    "MAX_BODY_BYTES",
    "SENTINEL_TEMPLATE",
    "TRACKER_GROUP",
    "BatchItem",
    "InstrumentedTracker",
    "IssueBodyTooLargeError",
    "IssueDraft",
    "IssueReconciler",
    "Prompter",
    "ReconcileOutcome",
    "ReconcileParams",
    "RichPrompter",
    "Tracker",
    "TrackerClass",
    "TrackerError",
    "TrackerIssue",
    "TrackerSettings",
    "UnsafeCommandError",
    "check_body_size",
    "compose_comment",
    "compose_issue",
    "fingerprints_in",
    "format_request",
    "load_findings",
    "open_tracker",
    "reconcile",
    "sanitize_inline",
    "sanitize_text",
    "sanitize_title",
    "sentinel",
    "triage_batch",
]
