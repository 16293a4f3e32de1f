"""The tracker backends shipped with orchestrate, registered in the ``orchestrate.trackers`` group.

``local`` (the default: Markdown files in the project), ``github`` and ``gitlab`` (REST over
httpx), ``gh`` and ``glab`` (the vendors' CLIs). Each implements
:class:`~orchestrator.trackers.Tracker` and is built with ``from_config``; they are found
through the entry points, like any third-party tracker. The REST ones take a
:class:`RetryBudget` (how long they may wait, in all, to retry 429 and 5xx answers).
"""

from __future__ import annotations

from orchestrator.agents.issue_reconciler.backends._cli import (
    ALLOWED_BINARIES,
    MAX_OUTPUT_BYTES,
    CliResult,
    check_arguments,
    run_command,
)
from orchestrator.agents.issue_reconciler.backends._gh import GhCliTracker
from orchestrator.agents.issue_reconciler.backends._github import GitHubTracker
from orchestrator.agents.issue_reconciler.backends._gitlab import GitLabTracker
from orchestrator.agents.issue_reconciler.backends._glab import GlabCliTracker
from orchestrator.agents.issue_reconciler.backends._local import ISSUES_DIR_NAME, LocalTracker, issues_dir_of
from orchestrator.agents.issue_reconciler.backends._retry import RetryBudget

__all__ = [
    "ALLOWED_BINARIES",
    "ISSUES_DIR_NAME",
    "MAX_OUTPUT_BYTES",
    "CliResult",
    "GhCliTracker",
    "GitHubTracker",
    "GitLabTracker",
    "GlabCliTracker",
    "LocalTracker",
    "RetryBudget",
    "check_arguments",
    "issues_dir_of",
    "run_command",
]
