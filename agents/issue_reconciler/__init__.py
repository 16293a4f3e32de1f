"""The issue reconciler: files a run's UX findings in an issue tracker, once each.

Per finding: its fingerprint already in an open issue means nothing to do; an open issue whose
title (minus our prefix) is within two edits of the finding's means a comment on it; otherwise a
new issue, labelled ``from:test-runner`` and ``priority:<severity>``, whose body ends with the
fingerprint sentinel ``<!-- orchestrate:fingerprint=<16 hex> -->``. Critical and high findings are
filed without asking; medium and low are triaged as one batch. A finding that should have been
filed and was not is reported as failed, with the tracker's error and its fix.

Trackers are plugins: their contract (the ``Tracker`` protocol, ``open_tracker``, issue records,
the sentinel, ``TrackerError``) is :mod:`orchestrator.trackers`, and the shipped backends are in
:mod:`.backends`, registered in the ``orchestrate.trackers`` entry-point group like any other.
What a backend takes from this package is the body-size limit and the errors it may raise.

Two ways in: the :class:`IssueReconciler` worker (capability ``reconcile``) for pipelines, and the
plain functions (:func:`load_findings`, :func:`reconcile`) for everything else.
"""

from __future__ import annotations

from orchestrator.agents.issue_reconciler._actor import ISSUES_FILE, IssueReconciler
from orchestrator.agents.issue_reconciler._body import (
    MAX_BODY_BYTES,
    check_body_size,
    compose_comment,
    compose_issue,
    sanitize_inline,
    sanitize_text,
    sanitize_title,
)
from orchestrator.agents.issue_reconciler._errors import IssueBodyTooLargeError, UnsafeCommandError
from orchestrator.agents.issue_reconciler._instrumented import InstrumentedTracker
from orchestrator.agents.issue_reconciler._prompt import BatchItem, Prompter, RichPrompter, triage_batch
from orchestrator.agents.issue_reconciler._reconcile import (
    ReconcileOutcome,
    format_request,
    load_findings,
    reconcile,
    unfiled,
)

__all__ = [
    "ISSUES_FILE",
    "MAX_BODY_BYTES",
    "BatchItem",
    "InstrumentedTracker",
    "IssueBodyTooLargeError",
    "IssueReconciler",
    "Prompter",
    "ReconcileOutcome",
    "RichPrompter",
    "UnsafeCommandError",
    "check_body_size",
    "compose_comment",
    "compose_issue",
    "format_request",
    "load_findings",
    "reconcile",
    "sanitize_inline",
    "sanitize_text",
    "sanitize_title",
    "triage_batch",
    "unfiled",
]
