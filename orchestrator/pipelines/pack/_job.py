"""The improvement loop's entry points: :func:`run_domain_job` (``case``, ``scenario``, ``pack``)
and :func:`run_pack_loop` (``pack-loop``).

Both go through the one job runner (:func:`~orchestrator.jobs.open_job`): a run dir under
``[runs] pack_dir`` with the events of every step, the conductor, the real final status. The
assistant is started (when it has a start command) before the conductor and always stopped
after. Artifacts go under ``[runs] domain_dir`` (``artifacts/domain_runs``): a case or a single
scenario into ``<scenario_id>/``, a pack into ``<pack_id>/``, a loop's iterations into
``<pack_id>/iterations/<NN>/``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from filelock import FileLock, Timeout

from orchestrator.actors import Worker
from orchestrator.agents.analyst import AnalystSettings
from orchestrator.agents.coder import PLACEHOLDERS, fill_placeholders
from orchestrator.agents.domain_runner import DomainRunner
from orchestrator.config import ProjectConfig, header_variables
from orchestrator.errors import ConfigError, OrchestrateError, RunInterruptedError, UsageError
from orchestrator.events import Subscriber
from orchestrator.jobs import open_job
from orchestrator.packs import DomainScenario, Pack, StepStatus, exit_code
from orchestrator.pipelines.pack._assistant import AssistantService, ask_settings
from orchestrator.pipelines.pack._conductor import PackConductor, PackPlan, Progress
from orchestrator.pipelines.pack._loop import LoopConductor, LoopPlan, iteration_dir
from orchestrator.pipelines.pack._loop_state import (
    LOOP_STATE_FILE,
    LOOP_SUMMARY_FILE,
    LoopState,
    read_loop_state,
    write_loop_state,
)
from orchestrator.pipelines.pack._pack_files import PackResult
from orchestrator.runs import find_run
from orchestrator.subprocess_tools import with_our_python

__all__ = ["LOOP_EXIT_CODES", "PackJobResult", "pack_digest", "pack_lock", "run_domain_job", "run_pack_loop"]

LOOP_EXIT_CODES = {"gate_met": 0, "requires_user_decision": 1, "max_iterations": 1, "blocked": 2}
"""The exit code of ``pack-loop`` by why it stopped."""


@dataclass
class PackJobResult:
    """How a case, scenario, pack or loop job ended: its run, artifacts folder and exit code."""

    run_id: str
    run_dir: Path
    directory: Path
    result: PackResult | None = None
    loop: LoopState | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> StepStatus | None:
        return self.result.status if self.result is not None else None

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 2
        if self.loop is not None:
            return LOOP_EXIT_CODES.get(self.loop.stop_reason or "blocked", 2)
        return exit_code(self.result.status) if self.result is not None else 2


Backend = Literal["local", "ray"]


def _domain_runner(
    config: ProjectConfig, backend: Backend, ray_address: str | None, *, runners: int
) -> tuple[type[Worker], dict[str, Any]]:
    """The domain runner of the pool and its keyword arguments beyond ``settings``.

    On the Ray backend this connects to Ray first and checks the cluster can hold ``runners``
    actors, so a missing extra, an unreachable or too small cluster is a :class:`UsageError`
    before a run dir or an artifacts folder exists.
    """
    if backend != "ray":
        return DomainRunner, {}
    from orchestrator.ray_backend import RayDomainRunner, check_capacity, ensure_ray

    section = config.ray
    if ray_address is not None:
        section = section.model_copy(update={"address": ray_address})
    ensure_ray(section.address)
    check_capacity(runners, section)
    return RayDomainRunner, {"ray": section}


def _plan(
    config: ProjectConfig,
    pack_id: str,
    scenarios: Sequence[DomainScenario],
    directory: Path,
    *,
    parallel: int,
    single: bool,
    source: Path | None,
    env: Mapping[str, str],
    log_dir: Path,
    runner: tuple[type[Worker], dict[str, Any]] = (DomainRunner, {}),
) -> PackPlan:
    if parallel < 1:
        raise UsageError(f"--parallel must be at least 1, not {parallel}")
    ask = ask_settings(config, env)
    return PackPlan(
        pack_id=pack_id,
        scenarios=list(scenarios),
        directory=directory,
        parallel=parallel,
        ask=ask,
        service=AssistantService(config, log_dir=log_dir, secrets=ask.secrets),
        config=config,
        single=single,
        source=str(source) if source is not None else None,
        briefs={scenario.id: scenario.brief for scenario in scenarios},
        runner=runner[0],
        runner_kwargs=runner[1],
    )


def run_domain_job(
    config: ProjectConfig,
    scenarios: Sequence[DomainScenario],
    *,
    pack_id: str | None = None,
    source: Path | None = None,
    parallel: int = 1,
    on_progress: Progress | None = None,
    on_event: Subscriber | None = None,
    on_start: Callable[[str, Path], None] | None = None,
    env: Mapping[str, str] | None = None,
    backend: Backend = "local",
    ray_address: str | None = None,
) -> PackJobResult:
    """Ask ``scenarios`` once: a pack when ``pack_id`` is given, else the one scenario (or case).

    ``on_start(run_id, artifacts folder)`` is called once the run exists. A framework failure
    (the assistant would not start, a run that was stopped) is raised after the run was marked.
    With ``backend="ray"`` the scenarios are asked from Ray actors (``ray_address``, else
    ``[ray] address``, else a local Ray instance); see :mod:`orchestrator.ray_backend`.
    """
    single = pack_id is None
    if single and len(scenarios) != 1:
        raise UsageError("a job without a pack asks exactly one scenario")
    name = pack_id if pack_id is not None else scenarios[0].id
    directory = config.domain_runs_dir / name
    environment = os.environ if env is None else env
    runner = _domain_runner(config, backend, ray_address, runners=max(1, min(parallel, len(scenarios))))
    metadata = {"job": "pack" if not single else "scenario", "backend": backend}
    with pack_lock(directory), open_job(config, "pack", target=name, metadata=metadata) as job:
        if on_event is not None:
            job.bus.subscribe(on_event)
        plan = _plan(
            config,
            name,
            scenarios,
            directory,
            parallel=parallel,
            single=single,
            source=source,
            env=environment,
            log_dir=job.path,
            runner=runner,
        )
        if on_start is not None:
            on_start(job.run_id, directory)
        try:
            plan.service.start()
            job.run(
                PackConductor,
                objective=f"ask {len(scenarios)} scenario(s) of {name}",
                plan=plan,
                on_progress=on_progress,
            )
        finally:
            plan.service.stop()
    return PackJobResult(run_id=job.run_id, run_dir=job.path, directory=directory, result=plan.last_result)


def _coder_ignore(config: ProjectConfig, repo: Path) -> list[str]:
    """Our own folders inside the coder's repository, never counted as the coder's changes."""
    ignored = []
    for path in (config.domain_runs_dir, config.state_dir, config.pack_runs_dir, config.events_db.parent):
        try:
            relative = path.resolve().relative_to(repo.resolve())
        except ValueError:
            continue
        if relative.parts:
            ignored.append(relative.as_posix())
    return sorted(set(ignored))


def _check_coder_command(config: ProjectConfig, command: list[str], repo: Path) -> None:
    """Refuse a coder command that cannot run before the loop spends iterations finding out."""
    try:
        argv = with_our_python(fill_placeholders(command, dict.fromkeys(PLACEHOLDERS, "x")))
    except UsageError as exc:
        raise ConfigError(
            config.config_file, "coder.command", str(exc), "use only the placeholders named"
        ) from None
    program = argv[0]
    found = shutil.which(program) if os.sep not in program else str(repo / program)
    if found is None or not Path(found).exists():
        raise ConfigError(
            config.config_file,
            "coder.command",
            f"{program!r} is not a program on PATH or in {repo}",
            "name a coding agent that is installed, e.g. "
            'command = ["python", "coder.py", "--backlog", "{backlog}"]',
        )


def _withheld(config: ProjectConfig) -> list[str]:
    """Variables the coder never sees, whatever their names: header tokens, the model's key."""
    names = {name for value in config.assistant.headers.values() for name in header_variables(value)}
    if config.llm.api_key_env:
        names.add(config.llm.api_key_env)
    return sorted(names)


def _loop_plan(config: ProjectConfig, root: Path, state: LoopState) -> LoopPlan:
    coder = config.coder
    if not coder.command:
        raise ConfigError(
            config.config_file,
            "coder.command",
            "is empty, so the loop has nothing to change the assistant with",
            'set [coder] command = ["python", "coder.py", "--backlog", "{backlog}", "--repo", "{repo}"] '
            "(or your coding agent's command line); `orchestrate pack` runs the pack without a coder",
        )
    repo = config.resolve(coder.repo or config.assistant.cwd or ".")
    if not repo.is_dir():
        raise ConfigError(
            config.config_file, "coder.repo", f"{repo} is not a folder", "name the assistant's repository"
        )
    _check_coder_command(config, list(coder.command), repo)
    return LoopPlan(
        root=root,
        state=state,
        analyst=AnalystSettings(stall_limit=config.analyst.stall_limit, allowed_paths=coder.allowed_paths),
        coder_command=list(coder.command),
        repo=repo,
        coder_timeout_s=coder.timeout_s,
        env_passthrough=list(coder.env_passthrough),
        coder_ignore=_coder_ignore(config, repo),
        withheld_env=_withheld(config),
    )


def pack_digest(pack: Pack) -> str:
    """A fingerprint of what a pack asks (its scenarios, steps, questions and expectations)."""
    document = [scenario.model_dump(mode="json") for scenario in pack.scenarios]
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


@contextmanager
def pack_lock(root: Path) -> Iterator[None]:
    """Hold ``<root>/.lock`` for a job on this folder; another job on it is refused at once."""
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(root / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise UsageError(
            f"another orchestrate job is using {root} (its .lock is held); wait for it to finish, "
            "or stop it first"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _archive_previous_loop(root: Path) -> Path | None:
    """Move an earlier loop's state and iterations to ``previous/<its run id>/`` (never deleted)."""
    old = read_loop_state(root) if (root / LOOP_STATE_FILE).exists() else None
    leftovers = [root / name for name in ("iterations", LOOP_STATE_FILE, LOOP_SUMMARY_FILE)]
    if not any(path.exists() for path in leftovers):
        return None
    name = old.run_id if old is not None else datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = root / "previous" / name
    target.mkdir(parents=True, exist_ok=True)
    for path in leftovers:
        if path.exists():
            path.rename(target / path.name)
    return target


def _reopen_stopped(state: LoopState) -> None:
    """Let a loop that stopped go on with ``--resume`` when the reason for stopping no longer holds."""
    last = state.iterations[-1] if state.iterations else None
    score = last.score if last is not None and last.score is not None else 0
    reason = state.stop_reason
    if reason == "gate_met" and score >= state.gate:
        # Still met, perhaps at another --gate: say so with the gate asked now.
        state.stop_detail = f"score {score} reached the gate {state.gate} in iteration {state.iteration}"
        return
    if reason == "max_iterations" and state.iteration >= state.max_iterations:
        return
    if reason == "blocked" and last is not None and last.restarted is False:
        state.phase = "restart"  # the assistant is started afresh; try the next iteration
    else:
        # The user decided, or raised a limit: the coder works on the last backlog next.
        state.phase = "code"
        state.coder_failures_in_row = 0
        if last is not None and last.coder is not None and last.coder.ok:
            state.phase = "restart"  # its change was reviewed: measure it
    state.stop_reason = None
    state.stop_detail = None


def _set_aside_coder_record(root: Path, state: LoopState) -> None:
    """Before the coder runs again in an iteration, keep its earlier record beside, not in the way."""
    folder = iteration_dir(root, state.iteration) / "coder"
    if folder.exists():
        folder.rename(folder.with_name(f"coder-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"))
    state.current().coder = None


def run_pack_loop(
    config: ProjectConfig,
    pack: Pack,
    *,
    gate: int | None = None,
    max_iterations: int | None = None,
    resume: bool = False,
    parallel: int = 1,
    on_progress: Progress | None = None,
    on_event: Subscriber | None = None,
    on_start: Callable[[str, Path, LoopState], None] | None = None,
    env: Mapping[str, str] | None = None,
    backend: Backend = "local",
    ray_address: str | None = None,
) -> PackJobResult:
    """Run the improvement loop on ``pack`` (``orchestrate pack-loop``); see :mod:`._loop`.

    ``gate`` and ``max_iterations`` default to the pack's (then 80 and 5). With ``resume``, the
    saved ``loop_state.json`` is continued in its own run, at its next phase; a loop that stopped
    goes on when the reason no longer holds (a higher ``--max-iterations`` or ``--gate``, a
    decision taken, a blocked assistant or coder fixed), else it is reported as it ended.
    Without ``resume``, an earlier loop's state and iterations move to ``previous/<run id>/``.
    Only one job at a time works on a pack's folder. ``backend`` and ``ray_address`` say where
    the pack runs ask their scenarios, as for :func:`run_domain_job`.
    """
    root = config.domain_runs_dir / pack.id
    if gate is not None and not 0 <= gate <= 100:
        raise UsageError(f"--gate must be between 0 and 100, not {gate}")
    if max_iterations is not None and max_iterations < 1:
        raise UsageError(f"--max-iterations must be at least 1, not {max_iterations}")
    runner = _domain_runner(config, backend, ray_address, runners=max(1, min(parallel, len(pack.scenarios))))
    with pack_lock(root):
        return _run_pack_loop(
            config,
            pack,
            root,
            gate,
            max_iterations,
            resume,
            parallel,
            on_progress,
            on_event,
            on_start,
            env,
            runner,
        )


def _run_pack_loop(
    config: ProjectConfig,
    pack: Pack,
    root: Path,
    gate: int | None,
    max_iterations: int | None,
    resume: bool,
    parallel: int,
    on_progress: Progress | None,
    on_event: Subscriber | None,
    on_start: Callable[[str, Path, LoopState], None] | None,
    env: Mapping[str, str] | None,
    runner: tuple[type[Worker], dict[str, Any]],
) -> PackJobResult:
    saved = read_loop_state(root) if resume else None
    if resume and saved is None:
        raise UsageError(
            f"there is no loop to resume: {root / LOOP_STATE_FILE} does not exist; "
            f"start one with `orchestrate pack-loop {pack.path}`"
        )
    digest = pack_digest(pack)
    if saved is not None and (saved.pack_id != pack.id or (saved.pack_digest or digest) != digest):
        raise UsageError(
            f"{pack.path} changed since the loop in {root} started (its scenarios, steps or expectations "
            "differ), so its scores could not be compared; start a new loop without --resume"
        )
    environment = os.environ if env is None else env
    _loop_plan(config, root, LoopState(pack_id=pack.id, gate=0, max_iterations=1, run_id="check"))
    reopen = None
    if saved is not None:
        try:
            reopen = find_run([config.pack_runs_dir], saved.run_id).path
        except OrchestrateError:
            reopen = None
    else:
        _archive_previous_loop(root)
    metadata = {"job": "pack loop", "backend": "local" if runner[0] is DomainRunner else "ray"}
    with open_job(config, "pack", target=pack.id, metadata=metadata, reopen=reopen) as job:
        if on_event is not None:
            job.bus.subscribe(on_event)
        if saved is not None:
            state = saved
            state.run_id = job.run_id
            if gate is not None:
                state.gate = gate
            if max_iterations is not None:
                state.max_iterations = max_iterations
            if state.stop_reason is not None:
                _reopen_stopped(state)
                if state.stop_reason is None and state.phase == "code":
                    _set_aside_coder_record(root, state)
        else:
            state = LoopState(
                pack_id=pack.id,
                pack_digest=digest,
                gate=gate if gate is not None else pack.gate,
                max_iterations=max_iterations if max_iterations is not None else pack.max_iterations,
                run_id=job.run_id,
            )
        loop = _loop_plan(config, root, state)
        plan = _plan(
            config,
            pack.id,
            pack.scenarios,
            root,
            parallel=parallel,
            single=False,
            source=pack.path,
            env=environment,
            log_dir=job.path,
            runner=runner,
        )
        if on_start is not None:
            on_start(job.run_id, root, state)
        if state.stop_reason is not None:
            job.finish("completed", summary=f"already stopped: {state.stop_reason}")
            return PackJobResult(run_id=job.run_id, run_dir=job.path, directory=root, loop=state)
        write_loop_state(root, state)
        try:
            plan.service.start()
            job.run(
                LoopConductor,
                objective=f"improve the assistant on pack {pack.id} until score {state.gate}",
                plan=plan,
                loop=loop,
                on_progress=on_progress,
            )
        except RunInterruptedError:
            write_loop_state(root, state)
            raise
        finally:
            plan.service.stop()
    return PackJobResult(
        run_id=job.run_id, run_dir=job.path, directory=root, loop=state, result=plan.last_result
    )
