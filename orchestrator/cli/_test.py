"""``orchestrate test``: the UI gate on one target with one profile."""

from __future__ import annotations

import os
from typing import Annotated, Literal

import typer
from rich.text import Text

from orchestrator.cli._context import cli_context
from orchestrator.cli._output import err_console, print_line
from orchestrator.pipelines.test import GateOptions, is_interactive, run_gate, summary_json

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

    Target and profile resolve in this order: --target/--profile; the project's
    .orchestrator/policy/test-profiles.yaml (default_target); playwright.config.{ts,js} means web;
    Package.swift means mac. The run dir is .orchestrator/runs/<target>-<epoch ms>/.

    Exit code: 0 when no critical or high finding was filed, 1 when one was, 2 for a framework or
    configuration error (each error is printed on stderr), 128 + the signal's number when stopped
    by a signal (130 for Ctrl-C, 143 for SIGTERM).

    Example: orchestrate test --target web --profile smoke
    """
    if triage not in (None, "create", "skip"):
        raise typer.BadParameter("use create or skip", param_hint="--triage")
    triage_choice: Literal["create", "skip"] | None = triage  # type: ignore[assignment]
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
    result = run_gate(config, options, say=(lambda line: None) if as_json else print_line)
    if as_json:
        print_line(summary_json(result))
    if result.summary is not None:
        # What failed, on stderr: the report has it too, but an exit code alone explains nothing.
        for error in result.summary.errors:
            err_console.print(Text.assemble(("error: ", "bold red"), error), highlight=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)
