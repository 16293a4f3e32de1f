"""The loop under hostile use: a second loop on the same folder, secrets the coder must never see,
a coder that hangs or is killed with its loop, changes nobody allowed, two jobs at once, a pack
edited between a kill and ``--resume``, cookies between sessions, and a model that over-scores.
"""

from __future__ import annotations

import json
import signal
import textwrap
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orchestrator.agents.analyst import (
    AnalysisRequest,
    AnalystAnswer,
    ExpectationResult,
    StepOutcome,
    settle_answer,
)
from orchestrator.errors import ConfigError, UsageError
from orchestrator.packs import DomainScenario
from orchestrator.pipelines.pack import pack_lock, read_loop_state, run_domain_job, run_pack_loop
from tests.drivers.test_command_children import wait_until_gone
from tests.loopback import serve_app
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


def test_a_new_loop_sets_the_last_one_aside_and_runs_its_own_coder(tmp_path: Path) -> None:
    root = example_copy(tmp_path, coder={"command": counting_coder(tmp_path)})
    original = (root / "capabilities.json").read_bytes()
    config, pack = config_and_pack(root)
    first = run_pack_loop(config, pack)
    (root / "capabilities.json").write_bytes(original)
    second = run_pack_loop(config, pack)
    assert second.loop is not None and [r.score for r in second.loop.iterations] == SCORES
    assert coder_runs(tmp_path) == 2 * (len(SCORES) - 1)
    kept = loop_dir(root) / "previous" / first.run_id
    assert (kept / "loop_state.json").is_file() and (kept / "iterations" / "04").is_dir()


def test_the_coder_never_sees_the_assistants_header_token_nor_the_model_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, key = "hdr-5f1e9c0d7b3a2e4f", "model-key-9a8b7c6d5e4f"
    monkeypatch.setenv("INV_HEADER", token)
    monkeypatch.setenv("MODEL_KEY_VAR", key)
    spy = tmp_path / "spy.py"
    spy.write_text(
        "import os, sys\n"
        "print(os.environ.get('INV_HEADER'), os.environ.get('MODEL_KEY_VAR'))\n"
        "print(os.environ.get('INV_HEADER'), file=sys.stderr)\n"
        "sys.exit(1)\n"
    )
    root = example_copy(
        tmp_path,
        assistant={"headers": {"Authorization": "Bearer {env.INV_HEADER}"}},
        coder={"command": ["python", str(spy)]},
        llm={"api_key_env": "MODEL_KEY_VAR"},
        analyst={"mode": "rules"},
    )
    config, pack = config_and_pack(root)
    result = run_pack_loop(config, pack, max_iterations=2)
    assert result.loop is not None
    stdout = (loop_dir(root) / "iterations/01/coder/coder_stdout.txt").read_text()
    assert stdout.strip() == "None None"
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert token.encode() not in text and key.encode() not in text, path


HANGING_CODER = textwrap.dedent(
    """
    import os, pathlib, sys, time
    pathlib.Path(sys.argv[1]).write_text(str(os.getpid()))
    pathlib.Path("app_notes.txt").write_text("half a change")
    while True:
        time.sleep(1)
    """
)


def test_a_coder_is_stopped_when_its_loop_is_killed(tmp_path: Path) -> None:
    script, pid_file = tmp_path / "hang.py", tmp_path / "coder.pid"
    script.write_text(HANGING_CODER)
    root = example_copy(tmp_path, coder={"command": ["python", str(script), str(pid_file)]})
    run_killed_at(root, "phase", 1, "code", kill_when=pid_file)
    pid = int(pid_file.read_text())
    assert wait_until_gone(pid, 20), "the coder outlived its killed loop"


def test_a_coder_that_times_out_still_reports_what_it_changed(tmp_path: Path) -> None:
    script, pid_file = tmp_path / "hang.py", tmp_path / "coder.pid"
    script.write_text(HANGING_CODER)
    root = example_copy(tmp_path, coder={"command": ["python", str(script), str(pid_file)], "timeout_s": 1.0})
    config, pack = config_and_pack(root)
    result = run_pack_loop(config, pack)
    state = result.loop
    assert state is not None and state.stop_reason == "requires_user_decision"
    coder = state.iterations[0].coder
    assert coder is not None and coder.outcome == "timed_out" and coder.changed_paths == ["app_notes.txt"]
    assert state.iterations[0].restarted is None  # stopped before the unallowed change was measured


def test_two_jobs_on_one_pack_never_run_at_once(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    config, pack = config_and_pack(root)
    with pack_lock(loop_dir(root)), pytest.raises(UsageError, match="another orchestrate job"):
        run_pack_loop(config, pack)
    with pack_lock(loop_dir(root)), pytest.raises(UsageError, match="another orchestrate job"):
        run_domain_job(config, list(pack.scenarios), pack_id=pack.id)


def test_resume_refuses_a_pack_that_changed_since(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    run_killed_at(root, "phase", 1, "code")
    pack_file = root / "packs" / "inventory.pack.yaml"
    pack_file.write_text(pack_file.read_text().replace("  - scenarios/restock.scenario.yaml\n", ""))
    config, pack = config_and_pack(root)
    with pytest.raises(UsageError, match="changed since the loop"):
        run_pack_loop(config, pack, resume=True)


def test_a_stopped_loop_goes_on_with_a_higher_limit(tmp_path: Path) -> None:
    root = example_copy(tmp_path, coder={"command": counting_coder(tmp_path)})
    config, pack = config_and_pack(root)
    run_pack_loop(config, pack, max_iterations=2)
    result = run_pack_loop(config, pack, resume=True, max_iterations=5)
    state = result.loop
    assert state is not None and state.stop_reason == "gate_met"
    assert [record.score for record in state.iterations] == SCORES
    assert coder_runs(tmp_path) == len(SCORES) - 1


def test_a_coder_command_that_cannot_run_is_refused_before_any_iteration(tmp_path: Path) -> None:
    root = example_copy(tmp_path, coder={"command": ["python", "coder.py", "--backlog", "{backlogg}"]})
    config, pack = config_and_pack(root)
    with pytest.raises(ConfigError, match=r"coder\.command.*backlogg"):
        run_pack_loop(config, pack)
    root = example_copy(tmp_path / "b", coder={"command": ["no-such-coding-agent", "{backlog}"]})
    config, pack = config_and_pack(root)
    with pytest.raises(ConfigError, match="no-such-coding-agent"):
        run_pack_loop(config, pack)
    assert not read_loop_state(loop_dir(root))


def _cookie_app() -> Starlette:
    async def message(request: Request) -> JSONResponse:
        body = await request.json()
        seen = request.cookies.get("sid")
        response = JSONResponse(
            {"session_id": "s", "answer": f"cookie seen: {seen}", "data": {}, "route": "r", "sources": []}
        )
        response.set_cookie("sid", body["message"].replace(" ", "_"))
        return response

    async def session(request: Request) -> JSONResponse:
        return JSONResponse({"session_id": "s"})

    return Starlette(
        routes=[
            Route("/api/assistant/message", message, methods=["POST"]),
            Route("/api/assistant/session/{sid}", session),
        ]
    )


def test_no_cookie_crosses_from_one_scenario_to_the_next(tmp_path: Path) -> None:
    scenarios = [
        DomainScenario.model_validate(
            {"id": name, "brief": "b", "steps": [{"id": "step_01", "question": f"{name} question"}]}
        )
        for name in ("first-one", "second-one")
    ]
    with serve_app(_cookie_app()) as origin:
        root = example_copy(tmp_path, assistant={"base_url": origin, "start_command": []})
        config, _ = config_and_pack(root)
        result = run_domain_job(config, scenarios, pack_id="cookies")
    assert result.result is not None
    answers = [
        json.loads((result.directory / f"scenarios/{name}/steps/step_01/step_state.json").read_text())
        for name in ("first-one", "second-one")
    ]
    assert [answer["values_extracted"]["text"] for answer in answers] == ["cookie seen: None"] * 2


def test_a_model_cannot_score_steps_that_got_no_answer() -> None:
    outcomes = [
        StepOutcome(scenario="s", step="a", status="accepted", decision=False, expectations=[]),
        StepOutcome(
            scenario="s",
            step="b",
            status="blocked",
            decision=False,
            expectations=[ExpectationResult(kind="route", category="route", met=False, detail="x")],
            error="unreachable",
        ),
    ]
    request = AnalysisRequest(pack_id="p", iteration=1, outcomes=outcomes)
    claimed = AnalystAnswer(score=100, backlog=[], requires_user_decision=False, decision_reason=None)
    analysis = settle_answer(request, claimed, model="m")
    assert analysis.score == 50 and "at most 50" in analysis.formula


def test_sigterm_during_the_coder_leaves_it_to_run_again_on_resume(tmp_path: Path) -> None:
    script, pid_file = tmp_path / "hang.py", tmp_path / "coder.pid"
    script.write_text(HANGING_CODER)
    root = example_copy(tmp_path, coder={"command": ["python", str(script), str(pid_file)]})
    run_killed_at(root, "phase", 1, "code", signum=signal.SIGTERM, kill_when=pid_file)
    state = read_loop_state(loop_dir(root))
    assert state is not None and (state.iteration, state.phase) == (1, "code")
    assert not (loop_dir(root) / "iterations/01/coder/coder.json").exists()  # cancelled: no record
    (root / "app_notes.txt").unlink()
    toml = root / "orchestrate.toml"
    command = json.dumps(counting_coder(tmp_path))
    toml.write_text(
        toml.read_text().replace(f'command = ["python", "{script}", "{pid_file}"]', f"command = {command}")
    )
    config, pack = config_and_pack(root)
    result = run_pack_loop(config, pack, resume=True)
    assert result.loop is not None and [r.score for r in result.loop.iterations] == SCORES
    assert coder_runs(tmp_path) == len(SCORES) - 1


def test_resuming_a_loop_that_met_its_gate_reports_it_against_the_gate_asked_now(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    config, pack = config_and_pack(root)
    run_pack_loop(config, pack)
    again = run_pack_loop(config, pack, resume=True, gate=90)
    assert again.loop is not None and again.loop.stop_reason == "gate_met"
    assert again.loop.stop_detail == f"score {SCORES[-1]} reached the gate 90 in iteration {len(SCORES)}"
