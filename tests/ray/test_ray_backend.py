"""``--backend ray``: scenario slots as Ray actors on a two-node cluster started on this machine.

Same results as local (same seed, same trajectory files but for times and slot names), a slot
actor killed or stranded on a removed node mid-trajectory loses nothing, and without Ray the
option is exit 2 with the install hint.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from orchestrator.cli import main  # noqa: E402
from orchestrator.config import load_config  # noqa: E402
from orchestrator.pipelines.scenarios import RunOptions, ScenarioRunResult, run_scenarios  # noqa: E402
from tests.ray.ray_support import (  # noqa: E402
    HoldServer,
    actor_running_in,
    make_held_project,
    start_cluster,
    stop_cluster,
)
from tests.scenarios.pipeline_support import make_project, scenario_yaml, trajectory_documents  # noqa: E402

pytestmark = pytest.mark.slow

CHAOS = "chaos: [{type: error, target: jira, probability: 0.4, code: 503}]\ncount: 6\n"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head (2 CPUs) and a second node (1 CPU); the module's runs join it."""
    started, worker = start_cluster()
    try:
        yield started, worker
    finally:
        stop_cluster(started)


def read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["orchestrate", *args])
    try:
        main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return 0


def progress_events(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [
        event["payload"] for event in map(json.loads, lines) if event["event_type"] == "worker.task.progress"
    ]


@pytest.mark.timeout(240)
def test_the_ray_backend_writes_the_same_trajectories_as_the_local_one(
    cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(
        tmp_path / "desk", {"file-ticket": scenario_yaml("file-ticket", "file Printer on fire", extra=CHAOS)}
    )
    local = run_scenarios(load_config(root, env={}), RunOptions(seed=7, parallel=2))
    assert local.status == "completed"
    capsys.readouterr()
    code = run_cli(
        monkeypatch, capsys, "-C", str(root), "run", "--backend", "ray", "--seed", "7", "-j", "2", "--json"
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary
    on_ray = Path(summary["run_dir"])

    expected = trajectory_documents(local.run_dir)
    assert len(expected) == 6
    assert trajectory_documents(on_ray) == expected
    # Chaos was injected (so the seed mattered), and every trajectory names the Ray node that ran it.
    assert any(read(path)["chaos"] for path in (on_ray / "trajectories").glob("*.json"))
    node_ids = {node["NodeID"][:8] for node in ray.nodes() if node["Alive"]}
    manifest = read(on_ray / "run-manifest.json")
    assert manifest["config"]["backend"] == "ray"
    assert read(local.run_dir / "run-manifest.json")["config"]["backend"] == "local"
    nodes = manifest["summary"]["nodes"]
    assert sorted(i for ids in nodes.values() for i in ids) == [f"file-ticket-{n:03d}" for n in range(1, 7)]
    for node, ids in nodes.items():
        assert node.startswith("ray-") and node.rsplit("-", 1)[1] in node_ids
        for trajectory_id in ids:
            assert read(on_ray / "trajectories" / f"{trajectory_id}.json")["slot"].endswith(f"@{node}")


def _run_in_background(root: Path, pool: ThreadPoolExecutor) -> Any:
    return pool.submit(
        run_scenarios, load_config(root, env={}), RunOptions(seed=3, parallel=2, backend="ray")
    )


def _check_nothing_lost(result: ScenarioRunResult, held: HoldServer, lost: str, count: int) -> None:
    assert result.status == "completed" and result.exit_code == 0, result.errors
    ids = [f"file-ticket-{n:03d}" for n in range(1, count + 1)]
    for trajectory_id in ids:
        trajectory = read(result.run_dir / "trajectories" / f"{trajectory_id}.json")
        assert trajectory["status"] == "completed", trajectory["error"]
    # The lost trajectory ran twice (the same spec again on a new actor), the others once.
    runs = [call["trajectory"] for call in held.calls]
    assert runs.count(lost) == 2 and all(runs.count(other) == 1 for other in ids if other != lost)
    reruns = [event for event in progress_events(result.run_dir) if event.get("rerun")]
    assert [event["trajectory_id"] for event in reruns] == [lost]
    assert "was lost (ActorDiedError" in reruns[0]["message"]
    nodes = read(result.run_dir / "run-manifest.json")["summary"]["nodes"]
    assert sorted(i for found in nodes.values() for i in found) == ids


@pytest.mark.timeout(240)
def test_a_slot_actor_killed_mid_trajectory_loses_nothing(cluster: Any, tmp_path: Path) -> None:
    held = HoldServer()
    try:
        root = make_held_project(tmp_path / "desk", held.url, count=4)
        with ThreadPoolExecutor(1) as pool:
            running = _run_in_background(root, pool)
            first = held.wait_for(1)[0]
            actor, _where = actor_running_in(first["pid"])
            ray.kill(actor)
            held.release()
            result = running.result(timeout=180)
        _check_nothing_lost(result, held, first["trajectory"], 4)
    finally:
        held.close()


@pytest.mark.timeout(240)
def test_a_trajectory_whose_actor_is_lost_twice_is_recorded_errored_with_the_cause(
    cluster: Any, tmp_path: Path
) -> None:
    held = HoldServer()
    try:
        root = make_held_project(tmp_path / "desk", held.url, count=2)
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(
                run_scenarios, load_config(root, env={}), RunOptions(seed=3, parallel=1, backend="ray")
            )
            for attempt in (1, 2):  # the trajectory, then its rerun on a new actor
                call = held.wait_for(attempt)[-1]
                assert call["trajectory"] == "file-ticket-001"
                ray.kill(actor_running_in(call["pid"])[0])
            held.release()
            result = running.result(timeout=180)
    finally:
        held.close()
    # One lost trajectory is a result, not the end of the run: the next one ran on a third actor.
    assert result.status == "completed" and result.exit_code == 0, result.errors
    lost = read(result.run_dir / "trajectories" / "file-ticket-001.json")
    assert lost["status"] == "errored" and lost["outcome"]["slot_failure"] is True
    assert lost["error"].startswith("the slot actor was lost twice: first ActorDiedError")
    assert read(result.run_dir / "trajectories" / "file-ticket-002.json")["status"] == "completed"
    assert [call["trajectory"] for call in held.calls] == ["file-ticket-001"] * 2 + ["file-ticket-002"]


@pytest.mark.timeout(240)
def test_a_node_removed_mid_trajectory_loses_nothing(cluster: Any, tmp_path: Path) -> None:
    started, worker = cluster
    held = HoldServer()
    try:
        root = make_held_project(tmp_path / "desk", held.url, count=3)
        with ThreadPoolExecutor(1) as pool:
            running = _run_in_background(root, pool)
            # Both slots hold a trajectory; slots spread over the nodes, so one is on the worker node.
            places = {
                call["trajectory"]: actor_running_in(call["pid"])[1]["node_id"] for call in held.wait_for(2)
            }
            stranded = [trajectory for trajectory, node in places.items() if node == worker.node_id]
            assert len(stranded) == 1, places
            started.remove_node(worker)
            held.release()
            result = running.result(timeout=180)
        _check_nothing_lost(result, held, stranded[0], 3)
    finally:
        held.close()


@pytest.mark.timeout(60)
def test_without_ray_the_backend_is_exit_2_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(tmp_path / "desk")
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    for command in ("run", "validate"):
        code = run_cli(monkeypatch, capsys, "-C", str(root), command, "--backend", "ray", "--seed", "1")
        err = capsys.readouterr().err
        assert code == 2
        assert "pip install 'orchestrate[ray]'" in " ".join(err.split())
    # Refused before a run dir exists.
    runs = root / ".scenarios" / "runs"
    assert not runs.exists() or not any(runs.iterdir())
