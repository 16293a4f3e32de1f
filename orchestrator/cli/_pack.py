"""``orchestrate case | scenario | pack | pack-loop``: the improvement loop from the command line.

``case`` asks one question, ``scenario`` one domain scenario file and ``pack`` every scenario of
a pack, of the assistant in ``[assistant]``; each exits 0 when every step was accepted, 1 when
some step was partial or needs an exact capability, 2 when one was blocked (or on a framework
error). ``pack-loop`` runs the pack, the analyst and the coder until the gate. Progress goes to
stderr; stdout gets the closing lines (or ``--json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli._context import cli_context
from orchestrator.cli._output import err_console, print_error, print_json, print_line
from orchestrator.cli._scenarios import BackendChoice, _RayAddress

if TYPE_CHECKING:
    from orchestrator.packs import DomainScenario
    from orchestrator.pipelines.pack import LoopState, PackJobResult

__all__ = ["case_command", "pack_command", "pack_loop_command", "scenario_command"]

_Parallel = Annotated[
    int, typer.Option("--parallel", "-j", min=1, max=64, help="Scenarios at once, each in its own session.")
]
_Json = Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout.")]
_Backend = Annotated[
    BackendChoice,
    typer.Option(
        "--backend",
        case_sensitive=False,
        help="Where scenarios are asked from: this process, or Ray actors on a cluster "
        "(needs orchestrate\\[ray]).",
    ),
]


class _Progress:
    """One line on stderr per scenario asked and per loop phase (not with --json's quiet stdout)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, what: str, details: dict[str, Any]) -> None:
        if self.quiet:
            return
        if what == "scenario":
            line = f"  {details['scenario']}: {details['status']} ({details['steps']} steps)"
        elif what == "phase":
            line = f"iteration {details['iteration']}: {details['phase']}"
        elif what == "scored":
            counts = ", ".join(f"{n} {name}" for name, n in (details.get("counts") or {}).items() if n)
            line = f"iteration {details['iteration']}: score {details['score']} ({counts})"
        elif what == "coded":
            changed = ", ".join(details.get("changed") or []) or "nothing"
            state = "changed " + changed if details.get("ok") else f"failed: {details.get('error')}"
            line = f"iteration {details['iteration']}: coder {state}"
        else:
            return
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)


def _pack_result_lines(result: PackJobResult) -> None:
    pack = result.result
    if pack is None:
        return
    counts = pack.counts()
    shown = " ".join(f"{name}={count}" for name, count in counts.items())
    print_line(
        f"{pack.pack_id}: {pack.status} ({len(pack.scenarios)} scenario(s), {pack.steps} step(s): {shown}; "
        f"rule score {pack.rule_score()})"
    )
    for done in pack.scenarios:
        for outcome in done.outcomes:
            if outcome.status != "accepted":
                unmet = "; ".join(r.detail for r in outcome.expectations if not r.met)
                why = outcome.error or unmet or ""
                print_line(f"  {outcome.scenario}/{outcome.step}: {outcome.status}: {why}")


def _document(result: PackJobResult) -> dict[str, Any]:
    document: dict[str, Any] = {
        "run_id": result.run_id,
        "run_dir": str(result.run_dir),
        "artifacts": str(result.directory),
        "exit_code": result.exit_code,
    }
    if result.result is not None:
        pack = result.result
        document.update(
            status=pack.status,
            counts=pack.counts(),
            rule_score=pack.rule_score(),
            scenarios={done.scenario_id: done.status for done in pack.scenarios},
        )
    if result.loop is not None:
        document["loop"] = result.loop.model_dump(mode="json")
    return document


def _ask(
    ctx: typer.Context,
    scenarios: list[DomainScenario],
    pack_id: str | None,
    source: Path | None,
    parallel: int,
    as_json: bool,
    backend: BackendChoice = BackendChoice.local,
    ray_address: str | None = None,
) -> None:
    from orchestrator.pipelines.pack import run_domain_job

    config = cli_context(ctx).config
    progress = _Progress(quiet=as_json)
    result = run_domain_job(
        config,
        scenarios,
        pack_id=pack_id,
        source=source,
        parallel=parallel,
        on_progress=progress,
        backend="ray" if backend is BackendChoice.ray else "local",
        ray_address=ray_address,
    )
    if as_json:
        print_json(_document(result))
    else:
        _pack_result_lines(result)
        print_line(f"Artifacts: {result.directory}")
    raise typer.Exit(result.exit_code)


def case_command(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question to ask the assistant.")],
    expect: Annotated[
        list[str] | None,
        typer.Option(
            "--expect",
            "-e",
            help="What the answer must show (repeatable): `contains:TEXT`, `not_contains:TEXT`, "
            "`route:NAME`, `evidence:N`, `max_ms:N`, `path:JSONPATH=VALUE` (equals), `path:JSONPATH?` "
            "(exists), `path:JSONPATH#N` or `#MIN..MAX` (count).",
        ),
    ] = None,
    case_id: Annotated[
        str | None,
        typer.Option(
            "--id", help="The case's id and artifacts folder (default: `case-<hash of the question>`)."
        ),
    ] = None,
    as_json: _Json = False,
) -> None:
    """Ask the assistant one question and check its answer.

    The assistant is \\[assistant] in orchestrate.toml (started first when it has a
    start_command). Artifacts go to `artifacts/domain_runs/<id>/`.

    Exit code: 0 accepted, 1 partial or needs_exact_capability, 2 blocked or an error.

    Example: orchestrate case "what is low on stock?" --expect route:low_stock --expect evidence:1
    """
    from orchestrator.packs import case_scenario

    scenario = case_scenario(question, expect or [], case_id)
    _ask(ctx, [scenario], None, None, 1, as_json)


def scenario_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A `*.scenario.yaml` file with kind: domain.")],
    as_json: _Json = False,
) -> None:
    """Ask the assistant one domain scenario, step by step in one session.

    Artifacts go to `artifacts/domain_runs/<scenario_id>/`: scenario_summary.md, final_status.md
    and `steps/<step_id>/` with what was sent, the answer, the session and the step's status.

    Exit code: 0 accepted, 1 partial or needs_exact_capability, 2 blocked or an error.

    Example: orchestrate scenario scenarios/stock-check.scenario.yaml
    """
    from orchestrator.packs import load_domain_scenario

    scenario = load_domain_scenario(path)
    _ask(ctx, [scenario], None, path, 1, as_json)


def pack_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A `*.pack.yaml` file.")],
    parallel: _Parallel = 1,
    backend: _Backend = BackendChoice.local,
    ray_address: _RayAddress = None,
    as_json: _Json = False,
) -> None:
    """Ask the assistant every scenario of a pack, each in its own session.

    Artifacts go to `artifacts/domain_runs/<pack_id>/`: pack_summary.md, pack_state.json,
    final_status.md and `scenarios/<scenario_id>/`.

    Exit code: 0 accepted, 1 partial or needs_exact_capability, 2 blocked or an error.

    Example: orchestrate pack packs/inventory.pack.yaml --parallel 3
    """
    from orchestrator.packs import load_pack

    pack = load_pack(path)
    _ask(ctx, list(pack.scenarios), pack.id, path, parallel, as_json, backend, ray_address)


def _stop_line(state: LoopState, directory: Path) -> str:
    scores = ", ".join(str(record.score) for record in state.iterations if record.score is not None)
    why = {
        "gate_met": "the gate was met",
        "requires_user_decision": "a decision is needed from you",
        "blocked": "the loop is blocked",
        "max_iterations": "it reached the maximum number of iterations",
    }.get(state.stop_reason or "", "it did not finish")
    detail = f" ({state.stop_detail})" if state.stop_detail else ""
    return (
        f"Stopped after {len(state.iterations)} iteration(s) because {why}{detail}; "
        f"scores: {scores or 'none'}. See {directory / 'loop_summary.md'}"
    )


def pack_loop_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A `*.pack.yaml` file.")],
    max_iterations: Annotated[
        int | None,
        typer.Option(
            "--max-iterations", min=1, max=1000, help="Stop after this many (default: the pack's, or 5)."
        ),
    ] = None,
    gate: Annotated[
        int | None, typer.Option("--gate", min=0, max=100, help="The score that ends the loop (default: 80).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Go on with the loop saved in loop_state.json, at its next phase."),
    ] = False,
    parallel: _Parallel = 1,
    backend: _Backend = BackendChoice.local,
    ray_address: _RayAddress = None,
    as_json: _Json = False,
) -> None:
    """Improve the assistant until the pack meets the gate: run, analyse, code, restart, again.

    Each iteration runs the pack into `artifacts/domain_runs/<pack_id>/iterations/<NN>/`, scores it
    (analysis.json, backlog.md: rules, or the \\[llm] model), then runs \\[coder] command on the
    backlog and restarts the assistant. It stops when the score reaches the gate, when a
    decision is needed from you, when it is blocked, or at the iteration limit; loop_state.json
    and loop_summary.md say how it went. A stopped loop goes on with --resume.

    Exit code: 0 gate met, 1 a decision is needed or the limit was reached, 2 blocked or an error.

    Example: orchestrate pack-loop packs/inventory.pack.yaml --max-iterations 4 --gate 80
    """
    from orchestrator.errors import RunInterruptedError
    from orchestrator.packs import load_pack
    from orchestrator.pipelines.pack import run_pack_loop

    config = cli_context(ctx).config
    pack = load_pack(path)
    try:
        result = run_pack_loop(
            config,
            pack,
            gate=gate,
            max_iterations=max_iterations,
            resume=resume,
            parallel=parallel,
            on_progress=_Progress(quiet=as_json),
            backend="ray" if backend is BackendChoice.ray else "local",
            ray_address=ray_address,
        )
    except RunInterruptedError as exc:
        summary = config.domain_runs_dir / pack.id / "loop_summary.md"
        print_error(f"{exc}; go on with: orchestrate pack-loop {path} --resume (see {summary})")
        raise typer.Exit(2) from None
    state = result.loop
    assert state is not None
    if as_json:
        print_json(_document(result))
        raise typer.Exit(result.exit_code)
    for record in state.iterations:
        if record.score is not None:
            print_line(f"iteration {record.n}: score {record.score} ({record.status})")
    if state.stop_reason == "blocked":
        print_error(f"the improvement loop is blocked: {state.stop_detail}")
    print_line(_stop_line(state, result.directory))
    raise typer.Exit(result.exit_code)
