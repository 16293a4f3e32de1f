"""``orchestrate init``: scaffold a project, keeping whatever is already there."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli._context import cli_context
from orchestrator.cli._output import print_json, print_line
from orchestrator.scaffold import init_project

__all__ = ["init_command"]


def init_command(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Directory to scaffold (created if missing). Default: the -C directory, else the "
            "working directory.",
            file_okay=False,
            resolve_path=True,
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON document: root, created and kept paths, next steps."),
    ] = False,
) -> None:
    """Lay out a project: orchestrate.toml, the policy override folder and the scenario folders.

    orchestrate.toml shows every setting at its default, with a commented \\[targets.web] stanza to
    fill in (base_url, start_command, health_path); .orchestrator/policy/test-profiles.yaml names
    the default target and profile and shows the profile format in comments.

    Safe to run again: existing files are kept byte for byte and only what is missing is created.
    The project's config is not read, so init also works where orchestrate.toml has a mistake.

    Example: orchestrate init my-project
    """
    root = directory or cli_context(ctx).project_option or Path.cwd()
    result = init_project(root)
    if as_json:
        print_json(
            {
                "root": str(result.root),
                "created": [str(path) for path in result.created],
                "kept": [str(path) for path in result.kept],
                "next": result.next_steps(),
            }
        )
        return
    if result.created:
        print_line(f"Initialised the project at {result.root}")
    else:
        print_line(f"The project at {result.root} is already initialised; nothing was changed.")
    for line in result.lines():
        print_line(f"  {line}")
    if result.created:
        print_line("Next:")
        for number, step in enumerate(result.next_steps(), 1):
            print_line(f"  {number}. {step}")
