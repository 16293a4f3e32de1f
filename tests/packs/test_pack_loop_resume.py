"""A loop killed with SIGKILL at any point goes on with ``--resume`` at the next phase not done,
ends as an uninterrupted loop would, and never repeats a coder run that finished.

Each test runs the loop in a child process that SIGKILLs itself at one point (the start of a
phase, mid-way through a pack run, or just after the coder finished but before the state was
saved), then resumes it in this process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.pipelines.pack import read_loop_state, run_pack_loop
from tests.packs.loop_support import (
    SCORES,
    coder_runs,
    config_and_pack,
    counting_coder,
    example_copy,
    loop_dir,
    run_killed_at,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("what", "iteration", "phase", "saved_phase", "coder_runs_before"),
    [
        ("phase", 1, "analyse", "analyse", 0),
        ("phase", 1, "code", "code", 0),
        ("coded", 1, "-", "code", 1),
        ("phase", 1, "restart", "restart", 1),
        ("scenario", 2, "-", "run", 1),
        ("phase", 3, "analyse", "analyse", 2),
    ],
    ids=["in-analyse", "in-code", "after-coder-before-save", "in-restart", "mid-run", "later-iteration"],
)
def test_a_killed_loop_resumes_at_the_next_phase_not_done(
    tmp_path: Path, what: str, iteration: int, phase: str, saved_phase: str, coder_runs_before: int
) -> None:
    root = example_copy(tmp_path, coder={"command": counting_coder(tmp_path)})
    run_killed_at(root, what, iteration, phase)
    killed = read_loop_state(loop_dir(root))
    assert killed is not None and killed.stop_reason is None
    assert (killed.iteration, killed.phase) == (iteration, saved_phase)
    assert coder_runs(tmp_path) == coder_runs_before

    config, pack = config_and_pack(root)
    result = run_pack_loop(config, pack, resume=True)
    state = result.loop
    assert state is not None and state.stop_reason == "gate_met" and result.exit_code == 0
    assert [record.score for record in state.iterations] == SCORES
    # Three coder runs in all, as without the kill: a finished one is never run again.
    assert coder_runs(tmp_path) == len(SCORES) - 1
    assert [record.n for record in state.iterations] == [1, 2, 3, 4]


def test_resume_goes_on_in_the_same_run(tmp_path: Path) -> None:
    root = example_copy(tmp_path, coder={"command": counting_coder(tmp_path)})
    run_killed_at(root, "phase", 2, "code")
    killed = read_loop_state(loop_dir(root))
    assert killed is not None
    config, pack = config_and_pack(root)
    result = run_pack_loop(config, pack, resume=True)
    assert result.run_id == killed.run_id
    events = (result.run_dir / "events.jsonl").read_text()
    assert events.count('"conductor.task.started"') == 2  # the killed start, and the resumed one
