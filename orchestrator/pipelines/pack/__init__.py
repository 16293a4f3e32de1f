"""The improvement loop's jobs: ask a case, a domain scenario or a pack of an assistant, and loop.

- :func:`run_domain_job`: ``orchestrate case | scenario | pack``: ask the scenarios once (each
  in its own session, ``parallel`` at once) and write their artifacts under
  ``artifacts/domain_runs/``; the exit code follows the worst step status.
- :func:`run_pack_loop`: ``orchestrate pack-loop``: run the pack, analyse, code, restart, until
  the gate, a user decision, a block or the iteration limit; resumable (``loop_state.json``).
"""

from __future__ import annotations

from orchestrator.pipelines.pack._assistant import AssistantService, ask_settings
from orchestrator.pipelines.pack._conductor import PackConductor, PackPlan, Progress, blocked_scenario
from orchestrator.pipelines.pack._job import (
    LOOP_EXIT_CODES,
    PackJobResult,
    pack_digest,
    pack_lock,
    run_domain_job,
    run_pack_loop,
)
from orchestrator.pipelines.pack._loop import OUTCOMES_FILE, LoopConductor, LoopPlan, iteration_dir
from orchestrator.pipelines.pack._loop_state import (
    LOOP_STATE_FILE,
    LOOP_SUMMARY_FILE,
    CoderRecord,
    IterationRecord,
    LoopPhase,
    LoopState,
    StopReason,
    loop_summary,
    read_loop_state,
    write_loop_state,
)
from orchestrator.pipelines.pack._pack_files import PACK_FILES, PackFiles, PackResult, publish_latest

__all__ = [
    "LOOP_EXIT_CODES",
    "LOOP_STATE_FILE",
    "LOOP_SUMMARY_FILE",
    "OUTCOMES_FILE",
    "PACK_FILES",
    "AssistantService",
    "CoderRecord",
    "IterationRecord",
    "LoopConductor",
    "LoopPhase",
    "LoopPlan",
    "LoopState",
    "PackConductor",
    "PackFiles",
    "PackJobResult",
    "PackPlan",
    "PackResult",
    "Progress",
    "StopReason",
    "ask_settings",
    "blocked_scenario",
    "iteration_dir",
    "loop_summary",
    "pack_digest",
    "pack_lock",
    "publish_latest",
    "read_loop_state",
    "run_domain_job",
    "run_pack_loop",
    "write_loop_state",
]
