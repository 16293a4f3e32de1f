"""``orchestrate case | scenario | pack | pack-loop`` as a user runs them: exit codes, what is
printed, where the artifacts go, and clear errors for bad input.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from tests.cli_support import run_main
from tests.packs.loop_support import PACK, SCORES, example_copy, loop_dir


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", ["case", "scenario", "pack", "pack-loop"])
def test_every_command_explains_itself(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Exit code" in result.stdout and "Example" in result.stdout


def test_a_case_exits_by_the_status_of_its_one_step(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    missing = run_main(
        monkeypatch,
        "-C",
        str(root),
        "case",
        "Which items are below their reorder level?",
        "-e",
        "route:low_stock",
    )
    assert missing.code == 1, missing.stderr
    assert "needs_exact_capability" in missing.stdout
    listed = run_main(
        monkeypatch,
        "-C",
        str(root),
        "case",
        "What's in stock?",
        "-e",
        "route:inventory_list",
        "--id",
        "stock",
    )
    assert listed.code == 0, listed.stdout + listed.stderr
    step = root / "artifacts/domain_runs/stock/steps/step_01"
    assert json.loads((step / "step_state.json").read_text())["status"] == "accepted"
    assert (root / "artifacts/domain_runs/stock/final_status.md").read_text().startswith("# accepted")


def test_a_scenario_file_reports_as_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    path = root / "packs/scenarios/stock-overview.scenario.yaml"
    outcome = run_main(monkeypatch, "-C", str(root), "scenario", str(path), "--json")
    assert outcome.code == 1, outcome.stderr
    document = json.loads(outcome.stdout)
    assert document["status"] == "partial" and document["exit_code"] == 1
    assert document["scenarios"] == {"stock-overview": "partial"}
    folder = Path(document["artifacts"])
    assert folder == root / "artifacts/domain_runs/stock-overview"
    assert sorted(p.name for p in (folder / "steps").iterdir()) == [
        "step_01_inventory",
        "step_02_item",
        "step_03_memory",
    ]


def test_a_pack_runs_scenarios_in_parallel_sessions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    outcome = run_main(monkeypatch, "-C", str(root), "pack", str(root / PACK), "--parallel", "3")
    assert outcome.code == 2, outcome.stderr  # a placeholder that finds nothing blocks a step
    assert f"rule score {SCORES[0]}" in outcome.stdout
    folder = root / "artifacts/domain_runs/inventory-basics"
    state = json.loads((folder / "pack_state.json").read_text())
    sessions = {entry["session_id"] for entry in state["scenarios"].values()}
    assert len(sessions) == 3 and None not in sessions
    for name in ("pack_manifest.json", "pack_summary.md", "final_status.md"):
        assert (folder / name).is_file()
    assert (folder / "final_status.md").read_text().startswith("# blocked")


def test_pack_loop_ends_with_why_it_stopped_and_where_to_look(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = example_copy(tmp_path)
    outcome = run_main(monkeypatch, "-C", str(root), "pack-loop", str(root / PACK), "--gate", "75")
    assert outcome.code == 0, outcome.stderr
    last = outcome.stdout.strip().splitlines()[-1]
    assert last.startswith("Stopped after 3 iteration(s) because the gate was met")
    assert str(loop_dir(root) / "loop_summary.md") in last
    assert "iteration 2: coder changed capabilities.json" in outcome.stderr


def test_a_bad_pack_file_names_the_file_line_and_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = example_copy(tmp_path)
    bad = root / "bad.pack.yaml"
    bad.write_text("id: x-pack\ndomain: inventory\nscenarios:\n  - {id: one-two, brief: b, steps: []}\n")
    outcome = run_main(monkeypatch, "-C", str(root), "pack", str(bad))
    assert outcome.code == 2
    assert "bad.pack.yaml" in outcome.stderr and "steps" in outcome.stderr
    assert not (root / "artifacts").exists()


def test_no_assistant_configured_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    project = tmp_path / "empty"
    project.mkdir()
    (project / "orchestrate.toml").write_text("[project]\nname = 'empty'\n")
    outcome = run_main(monkeypatch, "-C", str(project), "case", "hello")
    assert outcome.code == 2
    assert "assistant.base_url" in outcome.stderr and "orchestrate.toml" in outcome.stderr


def test_an_unreachable_assistant_blocks_every_step(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = example_copy(
        tmp_path, assistant={"base_url": f"http://127.0.0.1:{closed_port()}", "start_command": []}
    )
    path = root / "packs/scenarios/restock.scenario.yaml"
    outcome = run_main(monkeypatch, "-C", str(root), "scenario", str(path))
    assert outcome.code == 2
    assert "could not be reached" in outcome.stdout
    assert outcome.stdout.count(": blocked:") == 3


def test_user_text_is_printed_literally(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    question = "[bold red]What's in stock?[/bold red] {{nope}} $(echo hi)"
    outcome = run_main(monkeypatch, "-C", str(root), "case", question, "--id", "odd")
    assert outcome.code == 2  # {{nope}} names no earlier step and no session field
    assert "{{nope}}" in outcome.stdout
