"""``orchestrate test``: the UI gate on one target with one profile."""

from __future__ import annotations

import os
from typing import Annotated, Literal

import typer

from orchestrator.cli._context import cli_context
from orchestrator.cli._output import err_console, print_error, print_line, print_note
from orchestrator.cli._progress import GateProgress
from orchestrator.logs import json_lines_enabled

__all__ = ["gate_command"]


def gate_command(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Option("--target", "-t", help="Target name (\\[targets.NAME] in orchestrate.toml), e.g. web."),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", "-p", help="Profile: smoke, full, a11y, onboarding, mac-gate or a project one."
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only if files changed since this git ref; drivers get the changed files."
        ),
    ] = None,
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel", min=1, help="Browser contexts captured at once. Default: the number of cores."
        ),
    ] = os.cpu_count() or 1,
    triage: Annotated[
        str | None,
        typer.Option(
            "--triage",
            help="Medium and low findings off a terminal: create or skip. Default: the triage policy.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the tracker requests or commands; send nothing.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary instead of the two lines.")
    ] = False,
) -> None:
    """Capture the target with its driver, evaluate rubric v1, file findings as issues, write a report.

    The target, first match wins: --target; the project's .orchestrator/policy/test-profiles.yaml
    (default_target, or its only entry under targets); playwright.config.{ts,js} means web;
    Package.swift means mac. The profile: --profile always wins; without it, the target's own
    (profile under \\[targets.NAME] in orchestrate.toml, else its entry under targets in
    test-profiles), else smoke for web and mac-gate for mac. An unknown target or profile is
    exit 2, listing the known ones.

    The run dir is `.orchestrator/runs/<target>-<epoch ms>/`, with report.md and report.html (open it
    in a browser: findings, screenshots per route, traces). Progress goes to stderr: a live
    display on a terminal, plain lines per phase, route and message otherwise.

    Exit code: 0 when no critical or high finding was filed, 1 when one was, 2 for a framework or
    configuration error (each error is printed on stderr), 128 + the signal's number when stopped
    by a signal (130 for Ctrl-C, 143 for SIGTERM, 129 for a closed terminal).

    Example: orchestrate test --target web --profile smoke
    """
    if triage not in (None, "create", "skip"):
        raise typer.BadParameter("use create or skip", param_hint="--triage")
    triage_choice: Literal["create", "skip"] | None = triage  # type: ignore[assignment]
    # Imported here, not at the top: the gate loads the browser driver, which no other command needs.
    from orchestrator.pipelines.test import (
        GateOptions,
        is_interactive,
        read_run_files,
        run_gate,
        summary_json,
    )

    config = cli_context(ctx).config
    options = GateOptions(
        target=target,
        profile=profile,
        since=since,
        parallel=parallel,
        triage=triage_choice,
        dry_run=dry_run,
        interactive=is_interactive() and not as_json,
    )
    progress = GateProgress(err_console, json_lines=json_lines_enabled(), interactive=options.interactive)

    def say(line: str) -> None:
        # The live display ends before the last line, so nothing is drawn over it.
        progress.stop()
        if not as_json:
            print_line(line)

    try:
        result = run_gate(config, options, say=say, on_event=progress)
    finally:
        progress.stop()
    if as_json:
        print_line(summary_json(result))
    if dry_run and result.run_dir is not None:
        requests = read_run_files(result.run_dir).requests
        print_note(f"Dry run: {len(requests)} tracker request(s) would have been sent; nothing was sent.")
        for request in requests:
            print_note(f"  {request}")
    if result.summary is not None:
        # What failed, on stderr: the report has it too, but an exit code alone explains nothing.
        for error in result.summary.errors:
            print_error(error)
    raise typer.Exit(result.exit_code)
