"""The coder as a worker actor: capability ``code_backlog`` over :func:`run_coder`.

It declares :data:`CODE_BACKLOG`: a :class:`CoderRequest` in, a :class:`CoderDone` out. The
command's tool events (``worker.tool.call|result``) go through the worker's ``emit``, so they
carry the run's correlation; the worker's cancel event stops the command's process group when
the conductor gives up on it or the run is stopping.

How the command ended decides how the answer is reported: a command that exited (with any
status) answered, and its ``exit_code`` and ``changed_paths`` are for the loop to read; a command
that is not there is *blocked* (the configured command cannot run, whatever the backlog says);
one that timed out, was cancelled or printed too much is unsuccessful.
"""

from __future__ import annotations

from orchestrator.actors import Done, Worker
from orchestrator.agents.coder._contracts import CODE_BACKLOG, CoderDone, CoderRequest
from orchestrator.agents.coder._run import run_coder
from orchestrator.messages import WorkRequest

__all__ = ["Coder", "summarise"]


def summarise(done: CoderDone) -> str:
    """One line for the trace: how the command ended and how many paths it changed."""
    ended = f"exit {done.exit_code}" if done.exit_code is not None else done.outcome
    count = len(done.changed_paths)
    shown = ", ".join(done.changed_paths[:3]) + (", …" if count > 3 else "")
    changed = f"{count} changed path{'' if count == 1 else 's'}" + (f" ({shown})" if count else "")
    return f"coder: {ended}, {changed}"


class Coder(Worker):
    """Runs the improvement loop's coding-agent command on a backlog and reports what it changed."""

    worker_type = "coder"
    capabilities = CODE_BACKLOG.declare()

    def handle(self, request: WorkRequest, params: CoderRequest) -> Done[CoderDone]:
        done = run_coder(params, emit=self.emit, cancelled=self.cancelled)
        summary = summarise(done)
        if done.outcome == "not_found":
            return Done(done, summary=summary, success=False, blocked_reason=done.error)
        return Done(done, summary=summary, success=done.outcome == "exited")
