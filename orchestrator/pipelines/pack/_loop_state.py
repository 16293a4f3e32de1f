"""The improvement loop's state: ``loop_state.json``, saved atomically after every phase.

It says which iteration the loop is in and which phase comes next (``run``, ``analyse``,
``code``, ``restart``; ``done`` once it stopped), each iteration's score, counts and coder run,
and why the loop stopped (``gate_met``, ``requires_user_decision``, ``blocked``,
``max_iterations``; ``null`` while it runs). A loop killed at any point, SIGKILL included, is
started again with ``--resume`` at the next phase not done; a coder run that finished is never
repeated, since its record is saved before the phase moves on. ``loop_summary.md`` is the same
for people.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.artifacts import atomic_write_json, atomic_write_text
from orchestrator.errors import UsageError

__all__ = [
    "LOOP_STATE_FILE",
    "LOOP_SUMMARY_FILE",
    "CoderRecord",
    "IterationRecord",
    "LoopPhase",
    "LoopState",
    "StopReason",
    "loop_summary",
    "read_loop_state",
    "write_loop_state",
]

LOOP_STATE_FILE = "loop_state.json"
LOOP_SUMMARY_FILE = "loop_summary.md"

LoopPhase = Literal["run", "analyse", "code", "restart", "done"]
StopReason = Literal["gate_met", "requires_user_decision", "blocked", "max_iterations"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CoderRecord(_Record):
    """What one coder run did: its exit code, whether it succeeded and the files it changed."""

    exit_code: int | None
    ok: bool
    outcome: str
    changed_paths: list[str] = []
    diff_stat: str | None = None
    error: str | None = None


class IterationRecord(_Record):
    """One iteration: the pack run's score and counts, the analyst's verdict, the coder run after."""

    n: int = Field(ge=1)
    status: str | None = None
    """The pack run's status (the worst of its steps)."""
    score: int | None = None
    counts: dict[str, int] | None = None
    analyst: str | None = None
    requires_user_decision: bool = False
    decision_reason: str | None = None
    backlog_items: int | None = None
    coder: CoderRecord | None = None
    restarted: bool | None = None


class LoopState(_Record):
    """The ``loop_state.json`` document (see the module docstring)."""

    schema_version: Literal[1] = 1
    pack_id: str
    pack_digest: str | None = None
    """A fingerprint of the pack's scenarios: ``--resume`` refuses a pack that changed since."""
    gate: int = Field(ge=0, le=100)
    max_iterations: int = Field(ge=1)
    run_id: str
    iteration: int = Field(default=1, ge=1)
    phase: LoopPhase = "run"
    iterations: list[IterationRecord] = []
    stop_reason: StopReason | None = None
    stop_detail: str | None = None
    coder_failures_in_row: int = 0
    started_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())
    updated_at: str | None = None

    def current(self) -> IterationRecord:
        """The record of the iteration in progress (made when first asked for)."""
        for record in self.iterations:
            if record.n == self.iteration:
                return record
        record = IterationRecord(n=self.iteration)
        self.iterations.append(record)
        return record


def write_loop_state(directory: Path, state: LoopState) -> None:
    """Save ``loop_state.json`` and ``loop_summary.md`` atomically."""
    state.updated_at = datetime.now(UTC).isoformat()
    atomic_write_json(directory / LOOP_STATE_FILE, state.model_dump(mode="json"))
    atomic_write_text(directory / LOOP_SUMMARY_FILE, loop_summary(state))


def read_loop_state(directory: Path) -> LoopState | None:
    """The saved state, ``None`` when there is none; a damaged file is a UsageError naming it."""
    path = directory / LOOP_STATE_FILE
    if not path.is_file():
        return None
    try:
        return LoopState.model_validate_json(path.read_bytes())
    except (ValidationError, OSError) as exc:
        raise UsageError(
            f"{path} cannot be read as the loop's state ({str(exc).splitlines()[0]}); "
            "start the loop afresh without --resume (the old iterations stay in iterations/)"
        ) from exc


_WHY = {
    "gate_met": "the score reached the gate",
    "requires_user_decision": "a decision is needed from you",
    "blocked": "the loop is blocked",
    "max_iterations": "the loop ran its maximum number of iterations",
}


def loop_summary(state: LoopState) -> str:
    """``loop_summary.md``: the score per iteration, what changed, why it stopped."""
    lines = [f"# Improvement loop: {state.pack_id}", ""]
    lines.append(f"Gate {state.gate}, at most {state.max_iterations} iteration(s).")
    lines += ["", "| iteration | status | score | coder | changed |", "| --- | --- | --- | --- | --- |"]
    for record in state.iterations:
        coder = record.coder
        ran = (
            "-"
            if coder is None
            else (f"exit {coder.exit_code}" if coder.exit_code is not None else coder.outcome)
        )
        changed = (
            ", ".join(f"`{path}`" for path in coder.changed_paths) if coder and coder.changed_paths else "-"
        )
        shown = "-" if record.score is None else str(record.score)
        lines.append(f"| {record.n} | {record.status or '-'} | {shown} | {ran} | {changed} |")
    lines.append("")
    if state.stop_reason is None:
        lines.append(f"Running: iteration {state.iteration}, next phase `{state.phase}`.")
    else:
        detail = f": {state.stop_detail}" if state.stop_detail else ""
        lines.append(f"Stopped ({state.stop_reason}): {_WHY[state.stop_reason]}{detail}.")
    return "\n".join(lines) + "\n"
