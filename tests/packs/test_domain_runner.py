"""The domain runner against real assistants on loopback: statuses, every expect kind, one session
with placeholders filled from answers and memory, the field mapping, the files and the events,
and the same run through the ``DomainRunner`` worker.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from orchestrator.actors import Conductor, Done, run_conductor
from orchestrator.agents.domain_runner import (
    RUN_DOMAIN_SCENARIO,
    SCHEMA_VERSION,
    STEP_FILES,
    AskSettings,
    DomainRunner,
    DomainScenarioDone,
    DomainScenarioRequest,
)
from orchestrator.config import AssistantFields, AssistantSection
from orchestrator.messages import RunOutcome, StartRun
from orchestrator.testing import capture_events
from tests.loopback import serve_app
from tests.packs.domain_support import (
    ALL_ON,
    SCENARIO_FILES,
    FakeAssistant,
    Recorded,
    json_answer,
    read_json,
    run,
    scenario,
    serve_example,
    slow_answer,
    step_file,
)

LIST = "What's in STOCK today?"


def test_accepted_when_every_kind_of_expectation_holds(tmp_path: Path) -> None:
    expect: list[dict[str, Any]] = [
        {"contains": "ITEMS IN STOCK"},
        {"not_contains": "I'M SORRY"},
        {"path": "$.entries[0].sku", "equals": "sku-1001"},
        {"path": "$.result_set_id", "exists": True},
        {"path": "$.order_id", "exists": False},
        {"path": "$.entries[*]", "count": 6},
        {"path": "$.entries[*]", "count": {"min": 1, "max": 6}},
        {"route": "inventory_list"},
        {"evidence": 6},
        {"max_ms": 60_000},
    ]
    with serve_example(tmp_path, **ALL_ON) as origin:
        result = run(scenario({"id": "list", "question": LIST, "expect": expect}), origin, tmp_path / "out")

    assert result.status == "accepted"
    (step,) = result.runs
    assert [(r.kind, r.met) for r in step.results] == [
        ("contains", True),
        ("not_contains", True),
        ("path", True),
        ("path", True),
        ("path", True),
        ("path", True),
        ("path", True),
        ("route", True),
        ("evidence", True),
        ("max_ms", True),
    ]
    assert step.results[2].detail == "$.entries[0].sku: sku-1001, wanted sku-1001"
    assert step.results[5].detail == "$.entries[*]: 6 found, wanted 6"
    assert step.results[6].detail == "$.entries[*]: 6 found, wanted 1..6"
    assert step.results[8].detail == "6 source(s) cited, wanted at least 6"
    state = step_file(tmp_path / "out", "list", "step_state.json")
    assert state["status"] == "accepted"
    assert len(state["expectations_met"]) == 10 and state["expectations_unmet"] == []
    assert (tmp_path / "out" / "final_status.md").read_text().startswith("# accepted\n")


def test_partial_names_each_unmet_expectation_and_its_category(tmp_path: Path) -> None:
    # The shipped switches: nothing is cited.
    expect: list[dict[str, Any]] = [
        {"contains": "steel BOLTS"},
        {"contains": "zebra"},
        {"not_contains": "HEX NUTS"},
        {"path": "$.entries[0].sku", "equals": "sku-9999"},
        {"path": "$.entries[99]", "equals": 1},
        {"path": "$.order_id", "exists": True},
        {"path": "$.entries", "exists": False},
        {"path": "$.entries[*]", "count": 3},
        {"path": "$.entries[*]", "count": {"min": 7}},
        {"route": "inventory_list"},
        {"evidence": 1},
        {"evidence": 2, "category": "presentation"},
    ]
    with serve_example(tmp_path) as origin:
        result = run(scenario({"id": "list", "question": LIST, "expect": expect}), origin, tmp_path / "out")

    assert result.status == "partial"
    (step,) = result.runs
    unmet = [(r.kind, r.category, r.detail) for r in step.results if not r.met]
    assert unmet == [
        ("contains", "presentation", "answer lacks 'zebra'"),
        ("not_contains", "presentation", "answer contains 'HEX NUTS'"),
        ("path", "presentation", "$.entries[0].sku: sku-1001, wanted sku-9999"),
        ("path", "presentation", "$.entries[99]: nothing there, wanted 1"),
        ("path", "presentation", "$.order_id: expected something, found 0"),
        ("path", "presentation", "$.entries: expected nothing, found 1"),
        ("path", "presentation", "$.entries[*]: 6 found, wanted 3"),
        ("path", "presentation", "$.entries[*]: 6 found, wanted 7..∞"),
        ("evidence", "evidence", "0 source(s) cited, wanted at least 1"),
        ("evidence", "presentation", "0 source(s) cited, wanted at least 2"),
    ]
    assert step.results[0].met and step.results[9].met
    state = step_file(tmp_path / "out", "list", "step_state.json")
    assert [e["detail"] for e in state["expectations_unmet"]] == [detail for _, _, detail in unmet]
    assert len(state["expectations_met"]) == 2
    assert result.outcomes[0].status == "partial" and result.outcomes[0].error is None


def test_an_answer_slower_than_max_ms_is_unmet(tmp_path: Path) -> None:
    fake = FakeAssistant(slow_answer({"answer": "late", "session_id": "s1"}, 0.05))
    with serve_app(fake.app()) as origin:
        result = run(scenario({"id": "slow", "question": "hi", "expect": [{"max_ms": 10}]}), origin, tmp_path)
    (check,) = result.runs[0].results
    assert result.status == "partial" and not check.met
    assert re.fullmatch(r"answered in \d+ ms, limit 10 ms", check.detail)


def test_a_switched_off_capability_needs_the_exact_capability(tmp_path: Path) -> None:
    low = {"id": "low", "question": "Which items are below reorder level?", "expect": [{"contains": "below"}]}
    with serve_example(tmp_path, low_stock=False) as origin:
        result = run(scenario(low), origin, tmp_path / "out")
    assert result.status == "needs_exact_capability"
    (step,) = result.runs
    assert step.reply is not None and step.reply.capability_missing and step.reply.route is None
    assert step.error is not None and step.error.startswith("the assistant says it lacks the capability")
    debug = step_file(tmp_path / "out", "low", "debug.json")
    assert debug["capability_missing"] is True and debug["raw_status"] == 200


def test_an_answer_by_another_route_needs_the_exact_capability(tmp_path: Path) -> None:
    step = {"id": "low", "question": LIST, "expect": [{"route": "low_stock"}, {"contains": "stock"}]}
    with serve_example(tmp_path, **ALL_ON) as origin:
        result = run(scenario(step), origin, tmp_path / "out")
    assert result.status == "needs_exact_capability"
    assert result.runs[0].error == "wanted route low_stock, answered by inventory_list"
    assert [r.met for r in result.runs[0].results] == [False, True]


def test_the_text_pattern_signals_a_missing_capability_when_the_field_is_never_set(
    tmp_path: Path,
) -> None:
    fake = FakeAssistant(json_answer({"answer": "Sorry, I cannot do that yet.", "session_id": "s1"}))
    step = {"id": "ask", "question": "Book a truck", "expect": [{"contains": "sorry"}]}
    pattern = AssistantSection(timeout_s=10, capability_missing_pattern="(?i)cannot do that")
    with serve_app(fake.app()) as origin:
        with_pattern = run(scenario(step), origin, tmp_path / "a", section=pattern)
        without = run(scenario(step), origin, tmp_path / "b")
    assert with_pattern.status == "needs_exact_capability"
    assert without.status == "accepted"


def test_one_session_for_every_step_with_placeholders_from_answers_and_memory(tmp_path: Path) -> None:
    steps = [
        {"id": "step_01_list", "question": LIST},
        {"id": "step_02_detail", "question": "Tell me about {{step_01_list.entries[1].item}}"},
        {"id": "step_03_reorder", "question": "Reorder {{step_02_detail.sku}} x 100"},
        {"id": "step_04_status", "question": "Status of order {{step_03_reorder.order_id}}"},
        {"id": "step_05_text", "question": "What about this: {{step_04_status.text}}"},
        {
            "id": "step_06_memory",
            "question": "Tell me about the first item of {{semantic_memory.active_result_set_id}}",
            "expect": [{"path": "$.sku", "equals": "sku-1001"}],
        },
    ]
    out = tmp_path / "out"
    with serve_example(tmp_path, **ALL_ON) as origin:
        result = run(scenario(*steps), origin, out)

    assert result.status == "accepted", [r.error for r in result.runs]
    assert result.session_id == "session-0001"
    turns = [step_file(out, step["id"], "turn.json") for step in steps]
    assert "session_id" not in turns[0]["request"]["json"]
    assert all(turn["request"]["json"]["session_id"] == "session-0001" for turn in turns[1:])
    # Read back after every step: the assistant kept each question in the one session.
    sessions = [step_file(out, step["id"], "session.json") for step in steps]
    assert [len(s["session"]["turns"]) for s in sessions] == [1, 2, 3, 4, 5, 6]
    assert [t["message"] for t in sessions[-1]["session"]["turns"]] == [t["question"] for t in turns]

    resolved = [step_file(out, step["id"], "debug.json")["resolved_placeholders"] for step in steps]
    status_text = result.runs[3].reply.text if result.runs[3].reply else None
    assert status_text == "Order PO-1001 (100 x Hex nuts M8) is placed."
    assert resolved == [
        {},
        {"step_01_list.entries[1].item": "Hex nuts M8"},
        {"step_02_detail.sku": "sku-1002"},
        {"step_03_reorder.order_id": "PO-1001"},
        {"step_04_status.text": status_text},
        {"semantic_memory.active_result_set_id": "rs-1"},
    ]
    assert turns[1]["question_template"] == steps[1]["question"]
    assert turns[1]["question"] == "Tell me about Hex nuts M8"
    assert turns[4]["question"] == f"What about this: {status_text}"
    assert turns[5]["question"] == "Tell me about the first item of rs-1"
    state = read_json(out / "scenario_state.json")
    assert state["session_id"] == "session-0001" and state["status"] == "accepted"
    assert state["carried"]["step_03_reorder"]["data"]["order_id"] == "PO-1001"
    assert state["session_memory"]["semantic_memory"]["last_order_id"] == "PO-1001"


def test_a_nested_answer_is_read_through_the_field_mapping(tmp_path: Path) -> None:
    nested = {
        "result": {
            "text": "Two pallets of tape.",
            "sid": "sid 7",
            "payload": {"pallets": [{"item": "tape"}, {"item": "tape"}]},
            "via": "pallet_count",
            "cites": ["wms:tape"],
            "missing": False,
        },
        "answer": "not this one",
    }
    fake = FakeAssistant(json_answer(nested), message_paths=("/v2/chat",))
    section = AssistantSection(
        timeout_s=10,
        message_path="POST /v2/chat",
        session_path="GET /v2/sessions/{session_id}",
        fields=AssistantFields(
            answer="$.result.text",
            session_id="$.result.sid",
            data="$.result.payload",
            route="$.result.via",
            sources="$.result.cites",
            capability_missing="$.result.missing",
        ),
    )
    expect = [
        {"contains": "pallets of TAPE"},
        {"path": "$.pallets[*]", "count": 2},
        {"route": "pallet_count"},
        {"evidence": 1},
    ]
    steps = [
        {"id": "one", "question": "How many pallets?", "expect": expect},
        {"id": "two", "question": "And the first is {{one.pallets[0].item}}?"},
    ]
    with serve_app(fake.app()) as origin:
        result = run(scenario(*steps), origin, tmp_path, section=section)

    assert result.status == "accepted" and result.session_id == "sid 7"
    assert [(r.method, r.path) for r in fake.received] == [
        ("POST", "/v2/chat"),
        ("GET", "/v2/sessions/sid 7"),
        ("POST", "/v2/chat"),
        ("GET", "/v2/sessions/sid 7"),
    ]
    assert fake.messages()[0].body == {"message": "How many pallets?"}
    assert fake.messages()[1].body == {"session_id": "sid 7", "message": "And the first is tape?"}
    assert step_file(tmp_path, "two", "session.json")["session"] == {"session_id": "sid 7", "turns": 2}


def test_the_files_of_a_scenario_and_a_rerun_into_the_same_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = scenario({"id": "old_one", "question": LIST}, {"id": "old_two", "question": "Tell me about it"})
    second = scenario({"id": "list", "question": LIST, "expect": [{"evidence": 1}]})
    with serve_example(tmp_path) as origin:
        run(first, origin, out)
        assert sorted(p.name for p in (out / "steps").iterdir()) == ["old_one", "old_two"]
        run(second, origin, out)

    assert sorted(p.name for p in out.iterdir()) == sorted([*SCENARIO_FILES, "steps"])
    assert [p.name for p in (out / "steps").iterdir()] == ["list"]
    assert sorted(p.name for p in (out / "steps" / "list").iterdir()) == sorted(STEP_FILES)
    for path in out.rglob("*.json"):
        assert read_json(path)["schema_version"] == SCHEMA_VERSION, path
    state = step_file(out, "list", "step_state.json")
    assert state["status"] == "partial"
    assert [e["kind"] for e in state["expectations_unmet"]] == ["evidence"]
    assert state["expectations_met"] == []
    manifest = read_json(out / "scenario_manifest.json")
    assert manifest["steps"] == ["list"] and manifest["status"] == "partial"
    assert "old_one" not in (out / "scenario_summary.md").read_text()


def table_rows(summary: str) -> list[list[str]]:
    """The summary table's rows split at unescaped pipes."""
    rows = [line for line in summary.splitlines() if line.startswith("|")]
    return [re.split(r"(?<!\\)\|", row)[1:-1] for row in rows]


def test_pipes_and_newlines_in_answers_keep_the_summary_table_whole(tmp_path: Path) -> None:
    text = "col | umn\nnext || line\n\n| last"
    fake = FakeAssistant(json_answer({"answer": text, "capability_missing": True, "session_id": "s"}))
    steps = [
        {"id": "odd", "question": "a | b\nc", "expect": [{"contains": "x|y"}]},
        {"id": "then", "question": "again"},
    ]
    with serve_app(fake.app()) as origin:
        result = run(scenario(*steps), origin, tmp_path)
    assert result.status == "needs_exact_capability"
    rows = table_rows((tmp_path / "scenario_summary.md").read_text())
    assert len(rows) == 4 and all(len(row) == 3 for row in rows)
    assert rows[2][0].strip() == "`odd`" and rows[3][0].strip() == "`then`"
    assert "col \\| umn next \\|\\| line \\| last" in rows[2][2]
    assert "x\\|y" in rows[2][2]


def test_each_answered_step_is_told_as_trajectory_events(tmp_path: Path) -> None:
    steps = [
        {"id": "list", "question": LIST, "expect": [{"evidence": 1}]},
        {"id": "ghost", "question": "Tell me about {{list.entries[42].item}}"},
    ]
    events = Recorded()
    with serve_example(tmp_path) as origin:
        run(scenario(*steps), origin, tmp_path / "out", events=events)
    assert events.types() == [
        "trajectory.user_action",
        "trajectory.agent_action",
        "trajectory.error",
    ]
    asked, answered, error = (e.payload for e in events.events)
    for payload, step_id in ((asked, "list"), (answered, "list"), (error, "ghost")):
        assert payload["step_id"] == step_id
        assert payload["scenario_id"] == payload["trajectory_id"] == "stock-check"
    assert asked["description"] == f"ask: {LIST}"
    assert asked["detail"] == {"method": "POST", "path": "/api/assistant/message"}
    assert answered["detail"]["status"] == "partial" and answered["detail"]["unmet"] == 1
    assert answered["detail"]["route"] == "inventory_list" and answered["detail"]["http_status"] == 200
    assert "list.entries[42].item" in error["error"]


class RunnerConductor(Conductor):
    """Asks the requests it is given of one domain runner, one delegation each."""

    settings: ClassVar[AskSettings]
    requests: ClassVar[list[DomainScenarioRequest]] = []
    answers: ClassVar[list[Done[DomainScenarioDone]]] = []

    def conduct(self, start: StartRun) -> RunOutcome:
        worker = self.start_worker(DomainRunner, settings=self.settings, max_restarts=0)
        for request in self.requests:
            self.answers.append(self.delegate(worker, RUN_DOMAIN_SCENARIO, "ask", params=request, timeout=30))
        return RunOutcome(run_id=start.run_id, status="completed", summary="asked")


def test_the_worker_runs_a_scenario_as_the_function_does(tmp_path: Path) -> None:
    the_scenario = scenario(
        {"id": "list", "question": LIST, "expect": [{"route": "inventory_list"}, {"evidence": 1}]},
        {
            "id": "detail",
            "question": "Tell me about {{list.entries[2].item}}",
            "expect": [{"contains": "wire"}],
        },
    )
    with serve_example(tmp_path / "direct") as origin:
        direct = run(the_scenario, origin, tmp_path / "direct" / "out")

    out = tmp_path / "actor" / "out"
    RunnerConductor.settings = AskSettings(base_url="", assistant=AssistantSection(timeout_s=10))
    RunnerConductor.answers = []
    with serve_example(tmp_path / "actor") as origin, capture_events() as captured:
        RunnerConductor.requests = [
            DomainScenarioRequest(
                run_id="r1",
                scenario=the_scenario,
                base_url=origin,
                directory=str(out),
                evidence_root=str(out),
            )
        ]
        run_conductor(
            RunnerConductor,
            events=captured,
            run_id="r1",
            events_path=tmp_path / "events.jsonl",
            objective="ask",
        )

    (done,) = RunnerConductor.answers
    assert done.summary == "stock-check: partial (2 steps)"
    assert done.result.status == direct.status == "partial"
    assert done.result.session_id == "session-0001"
    assert [o.model_dump() for o in done.result.outcomes] == [o.model_dump() for o in direct.outcomes]
    assert done.result.outcomes[0].evidence_paths == [
        "steps/list/assistant_response.json",
        "steps/list/step_state.json",
    ]
    assert step_file(out, "detail", "step_state.json")["status"] == "accepted"
    told = captured.of_type("trajectory.")
    assert [e.event_type for e in told] == ["trajectory.user_action", "trajectory.agent_action"] * 2
    started = captured.of_type("worker.task.started")[0]
    assert all(e.actor == started.actor and e.run_id == "r1" for e in told)
    assert all(e.task_id == started.task_id for e in told)
    assert captured.types("conductor.capability") == ["conductor.capability.completed"]
