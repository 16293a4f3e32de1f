"""The improvement loop on the bundled inventory assistant: scores rise until the gate, and every
other way to stop (the iteration limit, a decision for the user, a failing coder, files outside
the allowed paths, an assistant that does not come back) with the state and files it leaves.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError, UsageError
from orchestrator.pipelines.pack import LOOP_STATE_FILE, read_loop_state, run_pack_loop
from tests.packs.loop_support import (
    SCORES,
    coder_runs,
    config_and_pack,
    counting_coder,
    example_copy,
    loop_dir,
)

pytestmark = pytest.mark.slow

FAILING_CODER = ["python", "-c", "import sys; print('cannot fix'); sys.exit(1)"]


def test_the_loop_raises_the_score_each_iteration_and_stops_at_the_gate(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    config, pack = config_and_pack(root)
    result = run_pack_loop(config, pack)
    state = result.loop
    assert state is not None
    assert [record.score for record in state.iterations] == SCORES
    assert SCORES[0] < 50 and state.stop_reason == "gate_met" and result.exit_code == 0
    assert state.phase == "done"
    for record in state.iterations[:-1]:
        assert record.coder is not None and record.coder.ok
        assert record.coder.changed_paths == ["capabilities.json"]
        assert record.restarted is True
    assert state.iterations[-1].coder is None
    capabilities = json.loads((root / "capabilities.json").read_text())
    assert capabilities["low_stock"] and capabilities["reorder"] and capabilities["cite_sources"]
    # The keys scripts rely on, in the file as written.
    saved = json.loads((loop_dir(root) / LOOP_STATE_FILE).read_text())
    assert {"pack_id", "gate", "max_iterations", "iterations", "stop_reason", "phase"} <= saved.keys()
    first = saved["iterations"][0]
    assert {"n", "score", "counts", "coder"} <= first.keys()
    assert {"exit_code", "changed_paths"} <= first["coder"].keys()
    top, last = loop_dir(root), loop_dir(root) / "iterations" / "04"
    for name in ("pack_state.json", "pack_summary.md", "analysis.json", "backlog.md"):
        assert (top / name).read_bytes() == (last / name).read_bytes(), name
    step_state = json.loads((top / "scenarios/restock/steps/step_02_reorder/step_state.json").read_text())
    assert step_state["status"] == "accepted" and step_state["expectations_unmet"] == []
    analysis = json.loads((loop_dir(root) / "iterations/01/analysis.json").read_text())
    assert analysis["score"] == SCORES[0] and analysis["backlog"][0]["category"] == "route"
    assert "Stopped (gate_met)" in (top / "loop_summary.md").read_text()


def test_a_loop_run_is_one_run_of_correlated_events(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    config, pack = config_and_pack(root)
    result = run_pack_loop(config, pack, max_iterations=2)
    lines = (result.run_dir / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert {event["run_id"] for event in events} == {result.run_id}
    types = [event["event_type"] for event in events]
    # Iteration 1 asks 7 steps (one is blocked unasked: its placeholder finds nothing); 2 asks 7 too.
    assert types.count("trajectory.user_action") == 2 * 7
    calls = [event for event in events if event["event_type"] == "conductor.worker.call"]
    assert {"domain-runner", "analyst", "coder"} <= {event["payload"]["worker_type"] for event in calls}
    asked = [event for event in events if event["event_type"] == "trajectory.user_action"]
    assert all(event["call_id"] for event in asked)
    assert types[-1] == "conductor.task.completed"


def test_max_iterations_one_runs_no_coder(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    config, pack = config_and_pack(root)
    before = (root / "capabilities.json").read_bytes()
    result = run_pack_loop(config, pack, max_iterations=1)
    state = result.loop
    assert state is not None and state.stop_reason == "max_iterations" and result.exit_code == 1
    assert [record.score for record in state.iterations] == SCORES[:1]
    assert state.iterations[0].coder is None
    assert (root / "capabilities.json").read_bytes() == before


def test_a_decision_step_not_accepted_stops_for_the_user(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    pack_file = root / "packs" / "inventory.pack.yaml"
    text = pack_file.read_text().replace(
        "      - id: step_02_reorder_it\n", "      - id: step_02_reorder_it\n        decision: true\n"
    )
    pack_file.write_text(text)
    config, pack = config_and_pack(root)
    result = run_pack_loop(config, pack)
    state = result.loop
    assert state is not None and state.stop_reason == "requires_user_decision" and result.exit_code == 1
    assert len(state.iterations) == 1 and state.iterations[0].coder is None
    assert "step_02_reorder_it" in (state.stop_detail or "")


def test_a_coder_that_fails_twice_in_a_row_blocks_the_loop(tmp_path: Path) -> None:
    root = example_copy(tmp_path, coder={"command": FAILING_CODER})
    config, pack = config_and_pack(root)
    result = run_pack_loop(config, pack)
    state = result.loop
    assert state is not None and state.stop_reason == "blocked" and result.exit_code == 2
    assert len(state.iterations) == 2
    assert all(record.coder is not None and record.coder.exit_code == 1 for record in state.iterations)
    assert "failed 2 times in a row" in (state.stop_detail or "")
    stdout = loop_dir(root) / "iterations/02/coder/coder_stdout.txt"
    assert stdout.read_text().strip() == "cannot fix"


def test_a_coder_changing_files_outside_the_allowed_paths_stops_for_the_user(tmp_path: Path) -> None:
    writes = ["python", "-c", "import pathlib; pathlib.Path('notes.txt').write_text('x')"]
    root = example_copy(tmp_path, coder={"command": writes})
    config, pack = config_and_pack(root)
    result = run_pack_loop(config, pack)
    state = result.loop
    assert state is not None and state.stop_reason == "requires_user_decision"
    assert state.iterations[0].coder is not None and state.iterations[0].coder.changed_paths == ["notes.txt"]
    assert "notes.txt" in (state.stop_detail or "")


def test_an_assistant_that_does_not_come_back_after_a_restart_blocks_the_loop(tmp_path: Path) -> None:
    breaks = ["python", "-c", "import pathlib; pathlib.Path('app.py').write_text('raise SystemExit(4)')"]
    root = example_copy(tmp_path, coder={"command": breaks, "allowed_paths": ["app.py"]})
    config, pack = config_and_pack(root)
    result = run_pack_loop(config, pack)
    state = result.loop
    assert state is not None and state.stop_reason == "blocked" and result.exit_code == 2
    assert state.iterations[0].restarted is False
    assert "cannot be reached after a restart" in (state.stop_detail or "")


def test_the_loop_needs_a_coder_command(tmp_path: Path) -> None:
    root = example_copy(tmp_path, coder={"command": []})
    config, pack = config_and_pack(root)
    with pytest.raises(ConfigError, match=r"coder\.command"):
        run_pack_loop(config, pack)


def test_resume_without_a_saved_loop_says_how_to_start_one(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    config, pack = config_and_pack(root)
    with pytest.raises(UsageError, match="no loop to resume"):
        run_pack_loop(config, pack, resume=True)


def test_resuming_a_finished_loop_reports_it_without_running_again(tmp_path: Path) -> None:
    root = example_copy(tmp_path, coder={"command": counting_coder(tmp_path)})
    config, pack = config_and_pack(root)
    run_pack_loop(config, pack, max_iterations=2)
    assert coder_runs(tmp_path) == 1
    state = read_loop_state(loop_dir(root))
    assert state is not None and state.stop_reason == "max_iterations"
    again = run_pack_loop(config, pack, resume=True)
    assert again.loop is not None and again.loop.stop_reason == "max_iterations"
    assert [record.score for record in again.loop.iterations] == SCORES[:2]
    assert coder_runs(tmp_path) == 1
