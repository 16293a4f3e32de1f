"""``orchestrate issues``: the issues the UI gate filed.

The tracker is the project's ``[issues] backend`` (``local`` by default: the Markdown files
under ``.orchestrator/issues/``), opened with :func:`orchestrator.trackers.open_tracker` through
the ``orchestrate.trackers`` entry points like every tracker, so this command never imports a
backend by name. A tracker that lists by state (:class:`~orchestrator.trackers.StateFilteringTracker`,
as the local one does) lists open, closed or all issues; any other lists the open issues
carrying our label.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from orchestrator.cli._context import cli_context
from orchestrator.cli._output import format_time, print_json, print_line, print_table, shorten
from orchestrator.errors import UsageError
from orchestrator.policy.triage import POLICY_NAME, TriagePolicy
from orchestrator.policyfiles import load_policy_model
from orchestrator.trackers import StateFilteringTracker, TrackerIssue, open_tracker

__all__ = ["issues_app"]

issues_app = typer.Typer(
    help="List the issues the UI gate filed (the local tracker by default, or the \\[issues] backend).",
    no_args_is_help=True,
)


class StateChoice(StrEnum):
    """The ``--state`` filter."""

    open = "open"
    closed = "closed"
    all = "all"


def _priority(labels: tuple[str, ...]) -> str:
    return next((label.split(":", 1)[1] for label in labels if label.startswith("priority:")), "")


@issues_app.command("list")
def list_command(
    ctx: typer.Context,
    state: Annotated[
        StateChoice, typer.Option("--state", help="open, closed or all.", case_sensitive=False)
    ] = StateChoice.open,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array of issues.")] = False,
) -> None:
    """List issues by number: state, priority, title, fingerprint, comments, last update.

    Example: orchestrate issues list --state all --json
    """
    config = cli_context(ctx).config
    backend = config.issues.backend
    policy = load_policy_model(POLICY_NAME, TriagePolicy, config.root)
    tracker = open_tracker(config.issues, project_root=config.root, label=policy.label)
    try:
        issues: list[TrackerIssue]
        if isinstance(tracker, StateFilteringTracker):
            issues = tracker.list_issues(state.value)
        elif state is StateChoice.open:
            issues = tracker.list_open_issues()
        else:
            raise UsageError(f"the {backend} tracker lists open issues only; use --state open (the default)")
    finally:
        tracker.close()
    if as_json:
        print_json([{"backend": backend, **issue.as_json()} for issue in issues])
        return
    if not issues:
        where = "in .orchestrator/issues" if backend == "local" else f"labelled {policy.label} in {backend}"
        print_line(f"No {'' if state is StateChoice.all else state.value + ' '}issues {where}.")
        return
    print_table(
        ["#", "state", "priority", "title", "fingerprint", "comments", "updated"],
        [
            [
                str(issue.number),
                issue.state,
                _priority(issue.labels),
                shorten(issue.title, 80),
                ",".join(issue.fingerprints),
                "" if issue.comments is None else str(issue.comments),
                format_time(issue.updated_at),
            ]
            for issue in issues
        ],
    )
