"""The runner's pure parts: placeholders, expectations, the SUT's environment, the record's rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.agents.runner import (
    Answer,
    PlaceholderScope,
    SlotSettings,
    SystemUnderTest,
    resolve_step,
    sut_environment,
)
from orchestrator.agents.runner._expect import expectation_failures, json_equal
from orchestrator.agents.runner._record import (
    JSON_CAP_BYTES,
    cap_json,
    cap_text,
    finish_document,
    state_transitions,
)
from orchestrator.errors import ConfigError
from orchestrator.scenarios import Expectation, HttpStep, UserStep
from orchestrator.twins import Journal

SCOPE = PlaceholderScope(
    answers={
        "login": Answer(200, "Welcome", {"user": {"id": 42, "roles": ["admin"]}, "ok": True}, True),
        "page": Answer(200, "<html>", None, False),
        "quiet": Answer(204, "", None, False),
    },
    state={"ticket": {"key": "OPS-3"}, "tags": ["a", "b"]},
    twins={
        "jira": ("http://127.0.0.1:4000/rest/api/2", "jira-token"),
        "open": ("http://127.0.0.1:4001", None),
    },
)


def http(**request: Any) -> HttpStep:
    return HttpStep.model_validate({"http": {"method": "POST", "path": "/x", **request}})


def test_placeholders_keep_the_type_of_a_whole_value_and_write_text_inside_text() -> None:
    step = http(
        json={
            "id": "{{login.json.user.id}}",
            "roles": "{{login.json.user.roles}}",
            "said": "{{ login.text }} #{{login.json.user.id}} {{login.json.user.roles}}",
            "first": "{{login.json.user.roles[0]}}",
            "status": "{{login.status}}",
            "ticket": "{{context.state.ticket.key}}",
            "tag": "{{context.state.tags[1]}}",
            "whole": "{{login.json}}",
        },
        headers={"Authorization": "Bearer {{twins.jira.token}}"},
        query={"base": "{{twins.jira.url}}"},
    )
    resolved, problem = resolve_step(step, SCOPE)
    assert problem is None and resolved is not None
    assert resolved.http.json_body == {
        "id": 42,
        "roles": ["admin"],
        "said": 'Welcome #42 ["admin"]',
        "first": "admin",
        "status": 200,
        "ticket": "OPS-3",
        "tag": "b",
        "whole": {"user": {"id": 42, "roles": ["admin"]}, "ok": True},
    }
    assert resolved.http.headers == {"Authorization": "Bearer jira-token"}
    assert resolved.http.query == {"base": "http://127.0.0.1:4000/rest/api/2"}


def test_a_step_without_placeholders_is_left_as_it_is() -> None:
    step = UserStep(user="plain", expect=Expectation(path="$.ok"))
    resolved, problem = resolve_step(step, SCOPE)
    assert resolved is step and problem is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{{nobody.json.x}}", "names 'nobody', which is no earlier step with an answer"),
        (
            "{{login.json.user.missing}}",
            "matches nothing: $.user.missing finds nothing in step login's JSON answer",
        ),
        ("{{page.json.title}}", "reads the JSON of step page, whose answer was not JSON"),
        ("{{login.body}}", "names body of step login: use login.json.PATH, login.text or login.status"),
        ("{{context.other}}", "names context, which only holds state"),
        ("{{twins.github.url}}", "names no twin URL or token (write twins.NAME.url; served: jira, open)"),
        ("{{twins.open.token}}", "asks for a token of twin open, which takes none"),
        ("{{login.json.user[}}", "is not JSONPath"),
    ],
)
def test_an_unresolvable_placeholder_is_named_with_why(text: str, why: str) -> None:
    resolved, problem = resolve_step(UserStep(user=f"about {text}"), SCOPE)
    assert resolved is None and problem is not None
    assert problem.startswith(f"the placeholder {text} ")
    assert why in problem


def test_a_filled_in_step_that_breaks_its_model_says_where() -> None:
    broken, problem = resolve_step(UserStep(user="{{quiet.text}}"), SCOPE)
    assert broken is None and problem is not None
    assert problem.startswith(
        "with its placeholders filled in, user is invalid: String should have at least 1"
    )


def test_expectations_say_what_was_found() -> None:
    def failures(
        expect: dict[str, Any], *, status: int | None = 200, body: Any = None, text: str | None = None
    ) -> list[str]:
        return expectation_failures(
            Expectation.model_validate(expect), status=status, body=body, has_json=body is not None, text=text
        )

    assert failures({"status": 201}) == ["status 200, expected 201"]
    assert failures({"path": "$.ok", "equals": True}, body={"ok": 1}) == ["$.ok is 1, expected true"]
    assert failures({"path": "$.ok", "equals": None}, body={"ok": None}) == []
    assert failures({"path": "$.n", "equals": 1}, body={"n": 1.0}) == []
    assert failures({"path": "$.gone"}, body={"ok": True}) == ["$.gone finds nothing"]
    assert failures({"path": "$.ok"}, text="no json") == ["$.ok finds nothing: the answer is not JSON"]
    assert failures({"contains": "CREATED"}, text="Issue created") == []
    assert failures({"contains": "key"}, body={"key": "OPS-1"}) == []  # JSON without text is searched as JSON
    assert failures({"contains": "x"}, status=None) == ['the answer has no text, expected it to contain "x"']
    assert not json_equal(True, 1) and json_equal([1, {"a": 2}], [1.0, {"a": 2}])


def test_the_sut_environment_names_the_slots_twins_and_refuses_others(tmp_path: Path) -> None:
    class Twins(dict[str, str]):
        def client(self, name: str) -> Any:
            return type("Hint", (), {"token": f"{name}-token"})()

    twins: Any = Twins(jira="http://127.0.0.1:4000/rest/api/2")
    env = {"JIRA": "{twins.jira.url}", "AUTH": "Bearer {twins.jira.token}", "PLAIN": "{port} stays"}
    assert sut_environment(env, twins) == {
        "JIRA": "http://127.0.0.1:4000/rest/api/2",
        "AUTH": "Bearer jira-token",
        "PLAIN": "{port} stays",
    }
    with pytest.raises(ConfigError) as caught:
        sut_environment({"SLACK_URL": "{twins.slack.url}"}, twins, config_file=tmp_path / "orchestrate.toml")
    assert caught.value.field == "sut.env.SLACK_URL"
    assert "names twin 'slack', which this run does not serve (served: jira)" in str(caught.value)
    assert str(tmp_path / "orchestrate.toml") in str(caught.value)


@pytest.mark.parametrize(
    ("sut", "field", "problem"),
    [
        ({"base_url": "http://127.0.0.1:{port}"}, "sut.base_url", "nothing starts the system under test"),
        ({"start_command": ["python", "app.py"]}, "sut.base_url", "is missing, but start_command is set"),
    ],
)
def test_a_sut_that_cannot_work_is_refused_naming_the_field(
    tmp_path: Path, sut: dict[str, Any], field: str, problem: str
) -> None:
    settings = SlotSettings.model_validate({"project_root": tmp_path, "log_dir": tmp_path, "sut": sut})
    with pytest.raises(ConfigError) as caught:
        SystemUnderTest(settings, slot="slot-1", twins=None)
    assert caught.value.field == field and problem in caught.value.problem


def test_an_app_that_cannot_be_loaded_is_refused_naming_sut_app(tmp_path: Path) -> None:
    (tmp_path / "runner_units_not_an_app.py").write_text("value = 3\n\ndef build(env):\n    return 'text'\n")
    for spec, problem in [
        ("runner_units_missing_module:app", "cannot be imported"),
        ("runner_units_not_an_app:nothing", "has no attribute 'nothing'"),
        ("runner_units_not_an_app:value", "is neither an ASGI app nor a factory"),
        ("runner_units_not_an_app:build", "returned a str, not an ASGI app"),
    ]:
        settings = SlotSettings.model_validate(
            {"project_root": tmp_path, "log_dir": tmp_path, "sut": {"app": spec}}
        )
        sut = SystemUnderTest(settings, slot="slot-1", twins=None)
        with pytest.raises(ConfigError) as caught:
            sut.start()
        assert caught.value.field == "sut.app" and problem in caught.value.problem


def test_state_transitions_are_sorted_with_numbers_as_numbers() -> None:
    def issue(key: str, summary: str = "s") -> dict[str, Any]:
        return {"key": key, "summary": summary}

    before = {"jira": {"issues": [issue("OPS-1"), issue("OPS-3"), issue("OPS-9")]}}
    after = {"jira": {"issues": [issue("OPS-1"), issue("OPS-10"), issue("OPS-2"), issue("OPS-9", "changed")]}}
    events = state_transitions(before, after, {"jira": {"issues": "key"}}, at_ms=5.0)
    assert [event.description for event in events] == [
        "jira issues OPS-2 created",
        "jira issues OPS-3 removed",
        "jira issues OPS-9 changed",
        "jira issues OPS-10 created",
    ]
    changed = events[2].detail
    assert changed["changed_fields"] == ["summary"] and changed["before"] == {"summary": "s"}


def test_the_finished_document_names_the_slots_addresses_and_redacts_secrets() -> None:
    document = {
        "a": "http://127.0.0.1:4000/rest/api/2/issue/1",
        "b": "http://127.0.0.1:40001/other",
        "c": ["Bearer sk-live-123 used", {"session_token": "anything", "note": "http://127.0.0.1:5000/"}],
    }
    origins = {"http://127.0.0.1:4000": "<twin:jira>", "http://127.0.0.1:5000": "<sut>"}
    assert finish_document(document, secrets=["sk-live-123", ""], origins=origins) == {
        "a": "<twin:jira>/rest/api/2/issue/1",
        "b": "http://127.0.0.1:40001/other",
        "c": ["Bearer [redacted] used", {"session_token": "[redacted]", "note": "<sut>/"}],
    }


def test_long_answers_are_capped() -> None:
    assert cap_text("x" * 5000) == "x" * 3999 + "…"
    assert cap_text("short") == "short"
    big = {"blob": "y" * JSON_CAP_BYTES}
    kept, note = cap_json(big, True)
    assert kept is None and note is not None and "over the 65,536-byte cap" in note
    assert cap_json({"small": 1}, True) == ({"small": 1}, None)
    assert cap_json(None, False) == (None, None)


def test_a_journal_numbers_requests_on_arrival_and_says_when_they_are_settled() -> None:
    journal = Journal()
    assert journal.last_seq == 0
    first, second = journal.reserve(), journal.reserve()
    assert journal.last_seq == 2
    journal.append({"seq": second})
    assert not journal.wait_settled(3, timeout=0)  # the first is still in flight
    assert journal.wait_settled(1, timeout=0)
    journal.append({"seq": first})
    assert journal.wait_settled(3, timeout=0)
    journal.clear()
    assert journal.last_seq == 2  # numbers go on rising after a reset
