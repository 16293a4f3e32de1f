"""The judge actor through a conductor: the typed join, and the same judgment as the plain function."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from orchestrator.actors import Conductor, Done, run_conductor
from orchestrator.agents.judge import JudgeClients, TrajectoryJudge, judge_trajectory
from orchestrator.llm import LlmSection
from orchestrator.messages import RunOutcome, StartRun
from orchestrator.scenarios import JUDGE_TRAJECTORY, JudgeDone, JudgeRequest, Judgment
from orchestrator.testing import CapturedEvents, capture_events
from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins
from tests.scenarios.judge_support import scenario, trajectory

TOLD = "The assistant told the user which issue it filed"
ENV = {"OPENAI_API_KEY": "sk-twin-valid"}
VERDICT = {
    "criteria": [{"index": 1, "met": True, "reason": "it said it filed OPS-1"}],
    "anti_patterns": [],
    "confidence": 0.8,
    "reasoning": "Filed and told.",
}


class JudgeConductor(Conductor):
    """Judges the requests it is given, one delegation each, with one judge worker."""

    requests: ClassVar[list[JudgeRequest]] = []
    settings: ClassVar[LlmSection] = LlmSection()
    answers: ClassVar[list[Done[JudgeDone]]] = []

    def conduct(self, start: StartRun) -> RunOutcome:
        worker = self.start_worker(TrajectoryJudge, llm_settings=self.settings, env=ENV, max_restarts=0)
        for request in self.requests:
            self.answers.append(self.delegate(worker, JUDGE_TRAJECTORY, "judge", params=request, timeout=30))
        return RunOutcome(run_id=start.run_id, status="completed", summary="judged")


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["openai"], seed=1) as running:
        yield running


@pytest.fixture
def admin(twins: RunningTwins) -> Iterator[TwinAdmin]:
    with TwinAdmin(twins.endpoints["openai"].origin) as client:
        client.reset({"rules": [{"match": "Criteria to decide", "reply": json.dumps(VERDICT)}]}, seed=1)
        yield client


def conduct(tmp_path: Path, settings: LlmSection, *requests: JudgeRequest) -> CapturedEvents:
    JudgeConductor.requests = list(requests)
    JudgeConductor.settings = settings
    JudgeConductor.answers = []
    with capture_events() as captured:
        run_conductor(
            JudgeConductor,
            events=captured,
            run_id="r1",
            events_path=tmp_path / "events.jsonl",
            objective="judge",
        )
    return captured


def without_time(judgment: Judgment) -> dict[str, Any]:
    return judgment.model_dump(exclude={"judged_at"})


def test_the_actor_judges_as_the_function_does_and_records_the_model_call(
    tmp_path: Path, twins: RunningTwins, admin: TwinAdmin
) -> None:
    settings = LlmSection(model="gpt-4o-mini", base_url=twins["openai"])
    the_scenario = scenario(satisfaction_criteria=[TOLD])
    request = JudgeRequest(scenario=the_scenario, trajectory=trajectory())
    captured = conduct(tmp_path, settings, request)

    (done,) = JudgeConductor.answers
    judgment = done.result.judgment
    assert judgment.verdict == "satisfactory" and judgment.judge == "llm"
    assert done.summary == "file-a-bug-001: satisfactory (llm, gpt-4o-mini)"
    with JudgeClients(settings, env=ENV) as clients:
        direct = judge_trajectory(the_scenario, trajectory(), llm=clients.for_scenario(the_scenario))
    assert without_time(judgment) == without_time(direct)

    started = captured.of_type("worker.task.started")[0]
    (completed,) = captured.of_type("llm.call.completed")
    assert completed.actor == started.actor and completed.actor.startswith("trajectory-judge-")
    assert (completed.run_id, completed.task_id, completed.call_id) == (
        "r1",
        started.task_id,
        started.call_id,
    )
    assert completed.payload["usage"] == judgment.usage
    assert captured.types("conductor.capability") == ["conductor.capability.completed"]
    assert captured.types("conductor.task")[-1] == "conductor.task.completed"


def test_without_a_model_the_actor_answers_unjudged_and_asks_nothing(
    tmp_path: Path, admin: TwinAdmin
) -> None:
    requests = [
        JudgeRequest(scenario=scenario(satisfaction_criteria=[TOLD]), trajectory=trajectory()),
        JudgeRequest(
            scenario=scenario(),
            trajectory=trajectory(status="errored", error="the SUT did not start", steps=[]),
        ),
    ]
    captured = conduct(tmp_path, LlmSection(), *requests)
    verdicts = [done.result.judgment.verdict for done in JudgeConductor.answers]
    assert verdicts == ["unjudged", "unsatisfactory"]
    assert all(done.success for done in JudgeConductor.answers)  # a verdict is data, not a failure
    assert captured.types("llm.") == []
    assert admin.state("completions") == []
