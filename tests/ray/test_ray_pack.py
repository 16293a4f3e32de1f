"""``pack --backend ray`` and ``pack-loop --backend ray``: a pack's scenarios asked from Ray actors.

The bundled inventory example gives the same step statuses, step files and ``trajectory.*``
events as the local backend, the loop reaches the same scores, a domain actor killed
mid-scenario loses nothing (the scenario is asked again; lost twice, its steps are blocked with
the cause), and without Ray, or with a cluster too small for ``--parallel``, the option is
exit 2 with nothing written.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from orchestrator.config import load_config  # noqa: E402
from orchestrator.packs import case_scenario  # noqa: E402
from orchestrator.pipelines.pack import run_domain_job  # noqa: E402
from tests.cli_support import run_main  # noqa: E402
from tests.packs.loop_support import PACK, SCORES, example_copy, loop_dir  # noqa: E402
from tests.ray.ray_support import HoldServer  # noqa: E402

pytestmark = pytest.mark.slow

_MASKED = {"session_id", "started_at", "finished_at", "duration_ms", "elapsed_ms", "at_ms"}


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """A local Ray instance of the module's own (4 CPUs: three domain actors of one CPU fit)."""
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def masked(value: Any) -> Any:
    """``value`` with timestamps, durations and session ids (given in order of arrival) masked."""
    if isinstance(value, dict):
        return {key: "*" if key in _MASKED else masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def step_states(folder: Path) -> dict[str, Any]:
    return {
        path.relative_to(folder).as_posix(): masked(read(path)) for path in folder.rglob("step_state.json")
    }


def trajectory_events(run_dir: Path) -> Counter[tuple[str, ...]]:
    """Each ``trajectory.*`` event as (type, scenario, step, what it says), counted."""
    events = map(json.loads, (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines())
    return Counter(
        (
            event["event_type"],
            event["payload"]["scenario_id"],
            event["payload"]["step_id"],
            event["payload"].get("description") or event["payload"].get("error") or "",
        )
        for event in events
        if event["event_type"].startswith("trajectory.")
    )


def progress_events(run_dir: Path) -> list[dict[str, Any]]:
    events = map(json.loads, (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines())
    return [event["payload"] for event in events if event["event_type"] == "worker.task.progress"]


@pytest.mark.timeout(180)
def test_a_pack_on_ray_gives_the_same_statuses_files_and_events_as_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = {}
    for backend in ("local", "ray"):
        root = example_copy(tmp_path / backend)
        outcome = run_main(
            monkeypatch, "-C", str(root), "pack", str(root / PACK), "-j", "3", "--backend", backend, "--json"
        )
        assert outcome.code == 2, outcome.stderr  # a placeholder that finds nothing blocks a step
        runs[backend] = (json.loads(outcome.stdout), loop_dir(root))
    (local, local_dir), (on_ray, ray_dir) = runs["local"], runs["ray"]
    assert on_ray["rule_score"] == local["rule_score"] == SCORES[0]
    assert on_ray["scenarios"] == local["scenarios"]
    assert masked(read(ray_dir / "pack_state.json")) == masked(read(local_dir / "pack_state.json"))
    expected = step_states(local_dir)
    assert len(expected) == 8
    assert step_states(ray_dir) == expected
    events = trajectory_events(Path(local["run_dir"]))
    assert sum(events.values()) > 8
    assert trajectory_events(Path(on_ray["run_dir"])) == events
    # Each scenario was asked on a Ray node, once, and the run says it ran on Ray.
    asked = [event for event in progress_events(Path(on_ray["run_dir"])) if "node" in event]
    assert sorted(event["scenario_id"] for event in asked) == sorted(local["scenarios"])
    assert all(event["node"].startswith("ray-") for event in asked)
    assert read(Path(on_ray["run_dir"]) / "run.json")["backend"] == "ray"


@pytest.mark.timeout(300)
def test_pack_loop_on_ray_reaches_the_same_scores_and_stops_at_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = example_copy(tmp_path)
    outcome = run_main(
        monkeypatch, "-C", str(root), "pack-loop", str(root / PACK), "--backend", "ray", "--json"
    )
    assert outcome.code == 0, outcome.stderr
    loop = json.loads(outcome.stdout)["loop"]
    assert [record["score"] for record in loop["iterations"]] == SCORES
    assert loop["stop_reason"] == "gate_met"
    step_state = read(loop_dir(root) / "scenarios/restock/steps/step_02_reorder/step_state.json")
    assert step_state["status"] == "accepted"


@pytest.mark.timeout(60)
def test_without_ray_pack_backend_ray_is_exit_2_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = example_copy(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    for command in ("pack", "pack-loop"):
        outcome = run_main(monkeypatch, "-C", str(root), command, str(root / PACK), "--backend", "ray")
        assert outcome.code == 2
        assert "pip install 'orchestrate[ray]'" in " ".join(outcome.stderr.split())
    assert not (root / "artifacts").exists() and not (root / ".orchestrator").exists()


@pytest.mark.timeout(60)
def test_a_cluster_too_small_for_the_parallel_runners_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = example_copy(tmp_path, ray={"num_cpus_per_slot": 2})
    outcome = run_main(monkeypatch, "-C", str(root), "pack", str(root / PACK), "-j", "3", "--backend", "ray")
    assert outcome.code == 2
    assert "--parallel 3 needs 6 CPUs on the Ray cluster" in " ".join(outcome.stderr.split())
    assert not (root / "artifacts").exists() and not (root / ".orchestrator").exists()


# --- a domain actor lost mid-scenario -----------------------------------------------------------


class HeldAssistant(HoldServer):
    """A real assistant API on loopback whose answers wait until :meth:`release`.

    Each question is recorded on arrival, so the test can kill the actor asking it; once
    released, every question is answered ``hi there`` in session ``s-1``.
    """

    def __init__(self) -> None:
        super().__init__(
            path="",
            answer=lambda body: {"session_id": "s-1", "answer": "hi there", "route": "greet", "data": {}},
            session={"session_id": "s-1", "turns": []},
        )

    @property
    def asked(self) -> list[str]:
        return [str(call["message"]) for call in self.calls]


@pytest.fixture
def assistant() -> Iterator[HeldAssistant]:
    held = HeldAssistant()
    try:
        yield held
    finally:
        held.close()


def the_domain_actor() -> Any:
    """The one live domain actor (a runner's actors are named ``domain-runner-<id>-<n>``)."""
    names = [name for name in ray.util.list_named_actors() if name.startswith("domain-runner-")]
    live = []
    for name in names:
        try:
            live.append(ray.get_actor(name))
        except ValueError:
            continue  # killed meanwhile
    assert len(live) == 1, names
    return live[0]


def ask_held_case(root: Path, assistant: HeldAssistant, kills: int) -> Any:
    """Ask one case on Ray, killing the actor that asks it ``kills`` times, then answering."""
    root.mkdir()
    (root / "orchestrate.toml").write_text(f'[assistant]\nbase_url = "{assistant.url}"\n', encoding="utf-8")
    scenario = case_scenario("hello", ["contains:hi"], "hello")
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(run_domain_job, load_config(root, env={}), [scenario], backend="ray", env={})
        for attempt in range(1, kills + 1):
            assistant.wait_for(attempt)
            ray.kill(the_domain_actor())
        assistant.release()
        return running.result(timeout=120)


@pytest.mark.timeout(180)
def test_a_domain_actor_killed_mid_scenario_loses_nothing(tmp_path: Path, assistant: HeldAssistant) -> None:
    result = ask_held_case(tmp_path / "desk", assistant, kills=1)
    assert result.status == "accepted" and result.exit_code == 0
    assert assistant.asked == ["hello", "hello"]  # asked again on a new actor
    step = read(result.directory / "steps/step_01/step_state.json")
    assert step["status"] == "accepted" and step["values_extracted"]["text"] == "hi there"
    reruns = [event for event in progress_events(result.run_dir) if event.get("rerun")]
    assert [event["scenario_id"] for event in reruns] == ["hello"]
    assert "was lost (ActorDiedError" in reruns[0]["message"]
    # Only the answered attempt's events reach the bus: one question, one answer.
    kinds = Counter(kind for kind, *_ in trajectory_events(result.run_dir).elements())
    assert kinds == {"trajectory.user_action": 1, "trajectory.agent_action": 1}


@pytest.mark.timeout(180)
def test_a_scenario_whose_actor_is_lost_twice_is_blocked_with_the_cause(
    tmp_path: Path, assistant: HeldAssistant
) -> None:
    result = ask_held_case(tmp_path / "desk", assistant, kills=2)
    assert result.status == "blocked" and result.exit_code == 2
    (outcome,) = result.result.scenarios[0].outcomes
    assert outcome.status == "blocked"
    assert outcome.error.startswith("the domain actor was lost twice: first ActorDiedError")
    assert "then, on a new actor, ActorDiedError" in outcome.error
    assert assistant.asked == ["hello", "hello"]
