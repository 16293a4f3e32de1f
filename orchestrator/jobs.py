"""One way to run a job: an event bus, a run dir, a conductor, a final status, everything closed.

Every job (``orchestrate test``, scenario runs, the improvement loop, a pipeline of your own)
goes through :func:`open_job`, which guarantees, in this order:

1. The project's event bus is opened once, before anything is written, so a database that
   cannot be opened fails the job before a run dir exists.
2. Runs of this project whose process died (their ``run.json`` still says ``running``) are
   marked ``interrupted``, and one log line names them.
3. The run dir is created (:func:`orchestrator.runs.create_run`); it records this process as the
   run's owner, and a daemon thread refreshes the run's heartbeat until the run ends, so another
   process can tell a live run from one whose owner died.
4. The body runs the conductor with :meth:`Job.run` and may do more (render a report) before
   :meth:`Job.finish` records the final status.
5. On the way out the run is always marked finished with its real status, also when the body
   raised: ``interrupted`` for Ctrl-C, SIGTERM or :class:`~orchestrator.errors.RunInterruptedError`,
   ``failed`` for any other error; then the heartbeat thread is joined and the bus stopped (its
   index thread joined, its SQLite connection closed).

:func:`run_job` is the short form when there is nothing to do between the conductor and the end.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from orchestrator.actors import Conductor, run_conductor
from orchestrator.config import ProjectConfig, load_config
from orchestrator.errors import OrchestrateError, RunInterruptedError, UsageError
from orchestrator.events import EventBus
from orchestrator.messages import RunOutcome
from orchestrator.runs import (
    INTERRUPTED,
    RunDir,
    RunKind,
    StrPath,
    create_run,
    mark_interrupted_runs,
    mark_run_finished,
    reopen_run,
    touch_heartbeat,
)
from orchestrator.telemetry import OtlpExportProcess, resolve_endpoint

__all__ = ["DEFAULT_HEARTBEAT_S", "Job", "JobResult", "open_job", "run_job"]

log = structlog.get_logger(__name__)

DEFAULT_HEARTBEAT_S = 5.0
"""Seconds between two heartbeats of a running job."""

_MAX_NAMED_RUNS = 10

_Params = Mapping[str, Any] | Callable[[RunDir], Mapping[str, Any]]


class _Heartbeat:
    """A daemon thread that refreshes the run's ``heartbeat_at`` until stopped."""

    def __init__(self, run: RunDir, interval_s: float) -> None:
        self._run = run
        self._interval_s = interval_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run.run_id}", daemon=True)

    def start(self) -> None:
        # The first beat is written before the job body runs, so the run can be judged at once.
        touch_heartbeat(self._run, self._interval_s)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def _beat(self) -> None:
        while not self._stopped.wait(self._interval_s):
            try:
                if not touch_heartbeat(self._run, self._interval_s):
                    return
            except (OrchestrateError, OSError) as exc:
                # A missed beat is survivable (the next one may work); the run must go on.
                log.warning("run heartbeat not written", run_id=self._run.run_id, error=str(exc))


class Job:
    """One run in progress: its run dir and bus, the conductor's outcome, and how it ended.

    Made by :func:`open_job`; use :meth:`run` once, then optionally :meth:`finish`.
    """

    def __init__(
        self, run_dir: RunDir, bus: EventBus, heartbeat: _Heartbeat, *, reopened: bool = False
    ) -> None:
        self.run_dir = run_dir
        self.reopened = reopened
        """The job goes on with an existing run: its conductor continues the run's events file."""
        self.bus = bus
        self.outcome: RunOutcome | None = None
        self.status: str | None = None
        self._heartbeat = heartbeat
        self._ran = False

    @property
    def run_id(self) -> str:
        return self.run_dir.run_id

    @property
    def path(self) -> Path:
        """The run dir."""
        return self.run_dir.path

    def run(
        self,
        conductor_class: type[Conductor],
        *,
        objective: str,
        params: Mapping[str, Any] | None = None,
        **run_options: Any,
    ) -> RunOutcome:
        """Run ``conductor_class`` on this job's run with :func:`~orchestrator.actors.run_conductor`.

        ``run_options`` go to ``run_conductor`` (``timeout``, ``stop_timeout``, conductor keyword
        arguments). The error that ended the run is raised, after its terminal event was written.
        """
        if self._ran:
            raise UsageError(f"run {self.run_id} already ran its conductor: a job runs one conductor")
        self._ran = True
        self.outcome = run_conductor(
            conductor_class,
            events=self.bus,
            run_id=self.run_id,
            events_path=self.run_dir.events_path,
            objective=objective,
            params=dict(params or {}),
            continue_events=self.reopened,
            **run_options,
        )
        return self.outcome

    def finish(self, status: str, **fields: Any) -> None:
        """Record the run's final ``status`` and ``fields`` in ``run.json`` (once)."""
        if self.status is not None:
            raise UsageError(f"run {self.run_id} is already finished with status {self.status!r}")
        self._heartbeat.stop()
        mark_run_finished(self.run_dir, status, **fields)
        self.status = status


@dataclass(frozen=True)
class JobResult:
    """A finished job: its run dir, final status and the conductor's outcome."""

    run_dir: RunDir
    status: str
    outcome: RunOutcome


def _config(project: ProjectConfig | StrPath) -> ProjectConfig:
    return project if isinstance(project, ProjectConfig) else load_config(Path(project))


def _status_of(error: BaseException) -> str:
    if isinstance(error, RunInterruptedError | KeyboardInterrupt):
        return INTERRUPTED
    return "failed"


def _announce_interrupted(config: ProjectConfig) -> None:
    try:
        marked = mark_interrupted_runs(config.run_roots)
    except OrchestrateError as exc:
        # Bookkeeping of other runs never stops this one; they are judged again next time.
        log.warning("runs whose process died could not be marked interrupted", error=str(exc))
        return
    if marked:
        ids = [run.run_id for run in marked]
        shown = ", ".join(ids[:_MAX_NAMED_RUNS]) + (", ..." if len(ids) > _MAX_NAMED_RUNS else "")
        log.warning(f"{len(ids)} run(s) whose process died were marked interrupted: {shown}", runs=len(ids))


@contextmanager
def open_job(
    project: ProjectConfig | StrPath,
    kind: RunKind,
    *,
    target: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    heartbeat_s: float = DEFAULT_HEARTBEAT_S,
    reopen: StrPath | None = None,
) -> Iterator[Job]:
    """Open a job in ``project`` (its config, or its directory) and always close it; see the module.

    ``kind``, ``target`` and ``metadata`` are :func:`~orchestrator.runs.create_run`'s; the run dir
    goes under the project's root for ``kind``. ``reopen`` names an existing run dir to go on
    with instead (:func:`~orchestrator.runs.reopen_run`; its conductor then continues the run's
    events file). ``heartbeat_s`` is the heartbeat interval.
    When the body ends without :meth:`Job.finish`, the status is the outcome's (``completed``
    when no conductor ran), or the error's, and ``summary`` / ``error`` are recorded with it.
    """
    if heartbeat_s <= 0:
        raise UsageError(f"heartbeat_s must be a positive number of seconds, not {heartbeat_s!r}")
    config = _config(project)
    bus = EventBus(
        config.events_db, batch_size=config.events.batch_size, max_pending=config.events.max_pending
    )
    exporter: OtlpExportProcess | None = None
    try:
        exporter = _otlp_exporter(config)
        _announce_interrupted(config)
        if reopen is not None:
            run_dir = reopen_run(reopen)
        else:
            run_dir = create_run(config.runs_dir_for(kind), kind, target=target, metadata=metadata)
        if exporter is not None:
            exporter.describe_run(run_dir.run_id, kind=run_dir.kind)
            bus.subscribe_lines(exporter.on_line)
        heartbeat = _Heartbeat(run_dir, heartbeat_s)
        job = Job(run_dir, bus, heartbeat, reopened=reopen is not None)
        try:
            heartbeat.start()
            yield job
        except BaseException as exc:
            heartbeat.stop()
            if job.status is None:
                _finish_after_error(job, exc)
            raise
        heartbeat.stop()
        if job.status is None:
            outcome = job.outcome
            if outcome is None:
                job.finish("completed")
            else:
                job.finish(outcome.status, summary=outcome.summary)
    finally:
        try:
            bus.stop()
        finally:
            if exporter is not None:
                exporter.close()


def _otlp_exporter(config: ProjectConfig) -> OtlpExportProcess | None:
    """The job's OpenTelemetry exporter when a collector is configured (see orchestrator.telemetry)."""
    telemetry = config.telemetry
    endpoint = resolve_endpoint(telemetry, os.environ)
    if endpoint is None:
        return None
    return OtlpExportProcess(
        endpoint,
        service_name=telemetry.service_name,
        timeout_s=telemetry.export_timeout_s,
        max_queue=telemetry.max_queue,
    )


def _finish_after_error(job: Job, error: BaseException) -> None:
    """Mark the run finished with the error's status; a failure to do so never hides ``error``."""
    code = error.error_code if isinstance(error, OrchestrateError) else type(error).__name__
    try:
        job.finish(_status_of(error), error_code=code, error=str(error) or type(error).__name__)
    except OrchestrateError as exc:
        log.error("the run could not be marked finished", run_id=job.run_id, error=str(exc))


def run_job(
    project: ProjectConfig | StrPath,
    conductor_class: type[Conductor],
    *,
    kind: RunKind,
    objective: str,
    target: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    params: _Params | None = None,
    heartbeat_s: float = DEFAULT_HEARTBEAT_S,
    **run_options: Any,
) -> JobResult:
    """Run one conductor as a whole job (see :func:`open_job`) and return how it ended.

    ``params`` is the conductor's params, or a function of the new :class:`~orchestrator.runs.RunDir`
    that returns them (for params that name the run id or dir). The error that ended the run is
    raised after the run was marked finished.
    """
    with open_job(project, kind, target=target, metadata=metadata, heartbeat_s=heartbeat_s) as job:
        chosen = params(job.run_dir) if callable(params) else params
        outcome = job.run(conductor_class, objective=objective, params=chosen, **run_options)
    return JobResult(run_dir=job.run_dir, status=job.status or outcome.status, outcome=outcome)
