"""The root typer app: global options and the mounting point of every command group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator import __version__
from orchestrator.cli._context import CliContext
from orchestrator.cli._events import events_app
from orchestrator.cli._init import init_command
from orchestrator.cli._issues import issues_app
from orchestrator.cli._pack import case_command, pack_command, pack_loop_command, scenario_command
from orchestrator.cli._runs import runs_app
from orchestrator.cli._scenarios import catalog_command, run_command, satisfy_command, validate_command
from orchestrator.cli._serve import export_command, serve_command
from orchestrator.cli._test import gate_command
from orchestrator.cli._twin import twin_app
from orchestrator.logs import configure_logging

app = typer.Typer(
    name="orchestrate",
    help=(
        "Test agentic software the way it really fails: UI gates, digital twins with seeded chaos, "
        "satisfaction over many trajectories, and one trace of correlated events."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"orchestrate {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    project: Annotated[
        Path | None,
        typer.Option(
            "-C",
            "--project",
            help="Project directory. Default: found by walking up from the working directory to the "
            "first orchestrate.toml or pyproject.toml with \\[tool.orchestrate].",
            file_okay=False,
            resolve_path=True,
        ),
    ] = None,
    log_json: Annotated[
        bool,
        typer.Option(
            "--log-json", help="Write log lines (and test progress) to stderr as JSON, one object a line."
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "-v",
            "--verbose",
            help="Log orchestrate's own debug lines too; other libraries (httpx, playwright, asyncio, "
            "pykka) still log only warnings.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Global options shared by every command."""
    configure_logging(json_lines=log_json, verbose=verbose)
    ctx.obj = CliContext(project_option=project)


app.command("init")(init_command)
app.command("test")(gate_command)
app.command("run")(run_command)
app.command("satisfy")(satisfy_command)
app.command("validate")(validate_command)
app.command("catalog")(catalog_command)
app.command("case")(case_command)
app.command("scenario")(scenario_command)
app.command("pack")(pack_command)
app.command("pack-loop")(pack_loop_command)
app.command("serve")(serve_command)
app.command("export")(export_command)
app.add_typer(runs_app, name="runs")
app.add_typer(events_app, name="events")
app.add_typer(twin_app, name="twin")
app.add_typer(issues_app, name="issues")
