"""The loop with a model configured: the LLM analyst scores each iteration (against the shipped
openai twin, answering scripted analyses), and a model that answers garbage falls back to the
rules without stopping the loop.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.pipelines.pack import run_pack_loop
from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins
from tests.packs.loop_support import SCORES, config_and_pack, example_copy, loop_dir

pytestmark = pytest.mark.slow

TWIN_KEY = "sk-twin-valid"
PROMPT = r"## Steps \("  # what every analyst prompt holds


@pytest.fixture
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["openai"], seed=1) as running:
        yield running


def analysis(score: int) -> str:
    backlog = [
        {
            "scenario": "restock",
            "step": "step_01_low",
            "category": "route",
            "problem": "the low_stock route is missing",
            "evidence": [],
            "suggested_change": "add the low_stock capability",
        }
    ]
    return json.dumps(
        {"score": score, "backlog": backlog, "requires_user_decision": False, "decision_reason": None}
    )


def project(tmp_path: Path, twins: RunningTwins, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ANALYST_MODEL_KEY", TWIN_KEY)
    llm = {"model": "gpt-4o-mini", "base_url": twins["openai"], "api_key_env": "ANALYST_MODEL_KEY"}
    return example_copy(tmp_path, llm=llm)


def test_the_model_scores_the_iteration_and_its_backlog_goes_to_the_coder(
    tmp_path: Path, twins: RunningTwins, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path, twins, monkeypatch)
    with TwinAdmin(twins.endpoints["openai"].origin) as admin:
        admin.reset({"rules": [{"match": PROMPT, "reply": analysis(85)}]})
    config, pack = config_and_pack(root)
    result = run_pack_loop(config, pack)
    state = result.loop
    assert state is not None and state.stop_reason == "gate_met"
    assert [record.score for record in state.iterations] == [85]
    assert state.iterations[0].analyst == "llm (gpt-4o-mini)"
    document = json.loads((loop_dir(root) / "iterations/01/analysis.json").read_text())
    assert document["score"] == 85 and "gpt-4o-mini" in document["formula"]
    assert document["counts"] == state.iterations[0].counts  # counts stay facts
    events = (result.run_dir / "events.jsonl").read_text()
    assert '"llm.call.completed"' in events and TWIN_KEY not in events


def test_garbage_from_the_model_falls_back_to_the_rules(
    tmp_path: Path, twins: RunningTwins, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path, twins, monkeypatch)
    with TwinAdmin(twins.endpoints["openai"].origin) as admin:
        admin.reset({"rules": [{"match": "(?s).*", "reply": "I think it is fine."}]})
    config, pack = config_and_pack(root)
    result = run_pack_loop(config, pack, max_iterations=2)
    state = result.loop
    assert state is not None and state.stop_reason == "max_iterations"
    assert [record.score for record in state.iterations] == SCORES[:2]
    assert all((record.analyst or "").startswith("rule (fallback") for record in state.iterations)
