"""``orchestrate run | satisfy | validate | catalog``: the scenario job from the command line.

``run`` executes the catalog's scenarios N times each against the system under test with its
twins; ``satisfy`` judges a run's trajectories and writes the satisfaction report; ``validate``
does both and exits 1 when a scenario is under its threshold (a release gate); ``catalog``
lists and checks the scenario files. Progress goes to stderr; stdout gets the closing summary
(or ``--json``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from orchestrator.cli._context import cli_context
from orchestrator.cli._output import (
    err_console,
    out_console,
    print_error,
    print_json,
    print_line,
    print_note,
    print_table,
    print_warning,
)
from orchestrator.cli._scenario_progress import ScenarioProgress
from orchestrator.scenarios import criterion_label

if TYPE_CHECKING:
    from orchestrator.pipelines.scenarios import RunOptions, ScenarioRunResult

__all__ = ["catalog_command", "run_command", "satisfy_command", "validate_command"]

_Scenarios = Annotated[
    list[str] | None, typer.Argument(help="Scenario ids to run (default: every scenario of the catalog).")
]
_Domain = Annotated[
    list[str] | None, typer.Option("--domain", "-d", help="Only scenarios of this domain (repeatable).")
]
_Count = Annotated[
    int | None,
    typer.Option(
        "--count",
        "-n",
        min=1,
        max=100_000,
        help="Trajectories per scenario (default: \\[scenarios] count, 10).",
    ),
]
_Chaos = Annotated[
    str | None,
    typer.Option(
        "--chaos-profile",
        help="none, gentle, moderate, hostile or a project profile, where a scenario says nothing.",
    ),
]
_Parallel = Annotated[
    int | None,
    typer.Option(
        "--parallel", "-j", min=1, help="Slots at once, each with its own twins and SUT (default 1)."
    ),
]
_Seed = Annotated[int | None, typer.Option("--seed", help="Run seed: the same seed replays the same chaos.")]
_Resume = Annotated[
    str | None,
    typer.Option("--resume", help="Finish an interrupted run: keep its complete trajectories, run the rest."),
]
_Json = Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout.")]


class BackendChoice(StrEnum):
    local = "local"
    ray = "ray"


_Backend = Annotated[
    BackendChoice,
    typer.Option(
        "--backend",
        case_sensitive=False,
        help="Where slots run: this process, or Ray actors on a cluster (needs orchestrate\\[ray]).",
    ),
]
_RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Ray cluster to join with --backend ray (default: \\[ray] address, else a local Ray instance).",
    ),
]


def _options(
    scenarios: list[str] | None,
    domain: list[str] | None,
    count: int | None,
    chaos_profile: str | None,
    parallel: int | None,
    seed: int | None,
    resume: str | None,
    backend: BackendChoice = BackendChoice.local,
    ray_address: str | None = None,
) -> RunOptions:
    if resume is not None and (scenarios or domain or count or chaos_profile or seed is not None):
        raise typer.BadParameter(
            "--resume goes on with the run as it was planned; drop scenario ids, --domain, --count, "
            "--chaos-profile and --seed",
            param_hint="--resume",
        )
    from orchestrator.pipelines.scenarios import RunOptions

    return RunOptions(
        scenario_ids=tuple(scenarios or ()),
        domains=tuple(domain or ()),
        count=count,
        chaos_profile=chaos_profile,
        parallel=parallel,
        seed=seed,
        resume=resume,
        backend="ray" if backend is BackendChoice.ray else "local",
        ray_address=ray_address,
    )


def _execute(
    ctx: typer.Context,
    options: RunOptions | None,
    *,
    judge: bool,
    run: str | None = None,
    rejudge: bool = False,
    as_json: bool = False,
) -> ScenarioRunResult:
    # Imported here: the runner's slots load the browser and the twins, which other commands skip.
    from orchestrator.pipelines.scenarios import CatalogError, run_scenarios, satisfy_run

    config = cli_context(ctx).config
    progress = ScenarioProgress(err_console, live=err_console.is_terminal and not as_json)
    try:
        if options is not None:
            return run_scenarios(
                config, options, judge=judge, on_plan=progress.on_plan, on_progress=progress.on_progress
            )
        return satisfy_run(
            config, run, rejudge=rejudge, on_progress=progress.on_progress, on_start=progress.on_judging
        )
    except CatalogError as exc:
        progress.stop()
        for problem in exc.catalog.problems:
            print_error(str(problem))
        raise typer.Exit(2) from None
    finally:
        progress.stop()


def _summary(result: ScenarioRunResult, *, as_json: bool, next_command: str | None, exit_code: int) -> None:
    from orchestrator.satisfaction import rich_table

    tally = result.tally
    if as_json:
        document: dict[str, Any] = {
            "run_id": result.run_id,
            "run_dir": str(result.run_dir),
            "status": result.status,
            "scenarios": len(tally.planned),
            "trajectories": tally.total(tally.finished),
            "errored": tally.total(tally.errored),
            "duration_s": round(result.duration_s, 3),
            "exit_code": exit_code,
            "errors": result.errors,
            "warnings": result.warnings,
        }
        if result.report is not None:
            overall = result.report.document.get("overall") or {}
            # Judged counts come from the report (satisfy runs no trajectory itself).
            document["trajectories"] = overall.get("trajectories", document["trajectories"])
            document["errored"] = overall.get("errored", document["errored"])
            document["report"] = str(result.report.latest_path)
            document["overall"] = overall
            document["passed"] = result.report.passed
        print_json(document)
    else:
        if result.report is not None:
            _print_report_table(rich_table(result.report.document))
            print_line(f"Report: {result.report.markdown_path}")
        print_line(_closing_line(result))
        if next_command:
            print_note(f"Next: {next_command}")
    for warning in result.warnings:
        print_warning(warning)
    for error in result.errors:
        print_error(error)


def _print_report_table(table: Any) -> None:
    """The satisfaction table on stdout: as wide as the terminal, or wide enough not to cut cells."""
    console = out_console if out_console.is_terminal else Console(width=200, highlight=False)
    console.print(table)


def _closing_line(result: ScenarioRunResult) -> str:
    tally = result.tally
    parts = [f"run_id={result.run_id}", f"status={result.status}", f"scenarios={len(tally.planned)}"]
    if result.report is not None:
        overall = result.report.document.get("overall", {})
        satisfaction = overall.get("satisfaction")
        parts += [
            f"trajectories={overall.get('trajectories', 0)}",
            f"satisfied={overall.get('satisfied', 0)}",
            f"unjudged={overall.get('unjudged', 0)}",
            f"errored={overall.get('errored', 0)}",
            f"satisfaction={satisfaction:.3f}"
            if isinstance(satisfaction, float | int)
            else "satisfaction=n/a",
            f"passed={'yes' if result.report.passed else 'no'}",
        ]
    else:
        parts += [f"trajectories={tally.total(tally.finished)}", f"errored={tally.total(tally.errored)}"]
    parts.append(f"duration={result.duration_s:.1f}s")
    return "Scenario run complete: " + " ".join(parts)


def run_command(
    ctx: typer.Context,
    scenarios: _Scenarios = None,
    domain: _Domain = None,
    count: _Count = None,
    chaos_profile: _Chaos = None,
    parallel: _Parallel = None,
    seed: _Seed = None,
    resume: _Resume = None,
    backend: _Backend = BackendChoice.local,
    ray_address: _RayAddress = None,
    as_json: _Json = False,
) -> None:
    """Run scenarios N times each against the system under test, with twins and chaos.

    Scenarios come from `.scenarios/catalog/<domain>/<id>.scenario.yaml`; the system under test
    from \\[sut] in orchestrate.toml. Each slot (--parallel) has its own twins and, with a start
    command, its own SUT process; twins are reset and reseeded before every trajectory. The run
    dir is `.scenarios/runs/<YYYY-MM-DD>-<seq>/` with run-manifest.json, trajectories/ and
    events.jsonl. A trajectory that errors is recorded and the run goes on.

    Exit code: 0 when the run completed (judge it with `orchestrate satisfy`), 2 for a bad
    catalog or configuration, or a run that could not complete.

    Example: orchestrate run --count 20 --chaos-profile gentle --parallel 4 --seed 7
    """
    options = _options(scenarios, domain, count, chaos_profile, parallel, seed, resume, backend, ray_address)
    result = _execute(ctx, options, judge=False, as_json=as_json)
    code = 2 if result.exit_code == 2 else 0
    _summary(result, as_json=as_json, next_command=f"orchestrate satisfy {result.run_id}", exit_code=code)
    raise typer.Exit(code)


def satisfy_command(
    ctx: typer.Context,
    run: Annotated[
        str | None, typer.Argument(help="The run to judge (default: the latest scenario run).")
    ] = None,
    rejudge: Annotated[bool, typer.Option("--rejudge", help="Judge every trajectory again.")] = False,
    as_json: _Json = False,
) -> None:
    """Judge a run's trajectories and report satisfaction per scenario, domain and overall.

    Structured criteria are checked by rules; text criteria by the model of \\[llm] (without one
    they stay unjudged and the report says how to configure it). Writes judgments/ in the run
    dir, report.md, .scenarios/reports/latest.json and `history/<run>.json`, with 95% intervals,
    pass^k, a chaos split and a comparison with the previous run. Judging is idempotent: only
    unjudged trajectories are judged unless --rejudge.

    Exit code: 0 when judged (whatever the satisfaction; `orchestrate validate` gates), 2 on errors.

    Example: orchestrate satisfy 2026-11-29-001
    """
    result = _execute(ctx, None, judge=True, run=run, rejudge=rejudge, as_json=as_json)
    code = 2 if result.exit_code == 2 else 0
    _summary(result, as_json=as_json, next_command=None, exit_code=code)
    raise typer.Exit(code)


def validate_command(
    ctx: typer.Context,
    scenarios: _Scenarios = None,
    domain: _Domain = None,
    count: _Count = None,
    chaos_profile: _Chaos = None,
    parallel: _Parallel = None,
    seed: _Seed = None,
    resume: _Resume = None,
    backend: _Backend = BackendChoice.local,
    ray_address: _RayAddress = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write a JUnit XML file: one test case per scenario.")
    ] = None,
    as_json: _Json = False,
) -> None:
    """Run and judge the catalog; fail when a scenario's satisfaction is under its threshold.

    Thresholds: the scenario's own `threshold`, else the satisfaction policy's value for the
    scenario, its domain, or the global one (0.80). See `orchestrate run` for the options.

    Exit code: 0 when every scenario meets its threshold, 1 when one does not, 2 for a
    framework or configuration error.

    Example: orchestrate validate --chaos-profile gentle --junit satisfaction.xml
    """
    from orchestrator.artifacts import atomic_write_text
    from orchestrator.satisfaction import junit_xml

    options = _options(scenarios, domain, count, chaos_profile, parallel, seed, resume, backend, ray_address)
    result = _execute(ctx, options, judge=True, as_json=as_json)
    if junit is not None and result.report is not None:
        atomic_write_text(junit, junit_xml(result.report.document))
        if not as_json:
            print_line(f"JUnit: {junit}")
    _summary(result, as_json=as_json, next_command=None, exit_code=result.exit_code)
    raise typer.Exit(result.exit_code)


def catalog_command(ctx: typer.Context, as_json: _Json = False) -> None:
    """List the scenarios per domain and check every scenario file.

    Each problem names the file, line, field and fix. Exit code: 0 when every file is valid, 2
    when one is not.

    Example: orchestrate catalog --json
    """
    from orchestrator.pipelines.scenarios import open_catalog

    config = cli_context(ctx).config
    catalog = open_catalog(config)
    if as_json:
        print_json(
            {
                "catalog": str(catalog.root),
                "domains": {
                    domain: [
                        {
                            "id": scenario.id,
                            "version": scenario.version,
                            "file": str(catalog.entries[scenario.id].path),
                            "steps": len(scenario.steps),
                            "criteria": [criterion_label(c) for c in scenario.satisfaction_criteria],
                            "anti_patterns": [criterion_label(c) for c in scenario.anti_patterns],
                            "services": list(scenario.context.services),
                        }
                        for scenario in sorted(scenarios, key=lambda s: s.id)
                    ]
                    for domain, scenarios in catalog.domains().items()
                },
                "problems": [problem.to_json() for problem in catalog.problems],
                "valid": not catalog.problems,
            }
        )
    else:
        rows = [
            [
                domain,
                scenario.id,
                str(scenario.version),
                str(len(scenario.steps)),
                str(len(scenario.satisfaction_criteria)),
                str(len(scenario.anti_patterns)),
                ", ".join(scenario.context.services),
            ]
            for domain, scenarios in catalog.domains().items()
            for scenario in sorted(scenarios, key=lambda s: s.id)
        ]
        if rows:
            print_table(
                ["domain", "scenario", "version", "steps", "criteria", "anti-patterns", "twins"],
                rows,
                title=f"Scenario catalog {catalog.root}",
            )
        elif not catalog.problems:
            print_note(f"No scenarios in {catalog.root}; `orchestrate init` writes a commented example.")
        for problem in catalog.problems:
            print_error(str(problem))
    raise typer.Exit(2 if catalog.problems else 0)
