"""``browser:`` steps on the slot's Chromium: the SUT's page, its requests attributed, fresh contexts."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from orchestrator.agents.runner import run_trajectory
from tests.scenarios.runner_support import running_slot, scenario, slot_settings, spec

STEPS = [
    {
        "id": "form",
        "browser": [
            {"goto": "/page"},
            {"fill": {"selector": "#summary", "value": "From the page"}},
            {"click": "#create"},
            {"expect_visible": "text=Created OPS-1"},
            {"mark": "issue created"},
        ],
    },
    {
        "id": "stored",
        "twin": {"service": "jira", "assert": {"path": "$.issues[0].summary", "equals": "From the page"}},
    },
    {"id": "missing", "browser": [{"click": "#no-such-button"}], "expect": {"contains": "New issue"}},
]


@pytest.mark.browser
@pytest.mark.slow
def test_browser_steps_drive_the_sut_page_and_leave_no_browser_behind(tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    with running_slot(slot_settings(tmp_path, browser_action_timeout_s=2)) as slot:
        first = run_trajectory(slot, spec(scenario(STEPS), index=1))
        second = run_trajectory(slot, spec(scenario(STEPS[:2]), index=2))

    assert first.status == "completed", first.error
    form, stored, missing = first.steps
    assert (form.status, stored.status) == ("passed", "passed"), form.failures
    assert form.text is not None and "Created OPS-1" in form.text
    assert form.request == {
        "actions": [
            "goto /page",
            "fill #summary",
            "click #create",
            "expect_visible text=Created OPS-1",
            "mark issue created",
        ]
    }
    # The page's own request to the SUT carried the trajectory header, so the twin's journal names it.
    calls = [event for event in first.events if event.type == "api_call"]
    assert [(call.step_id, call.detail["method"], call.detail["response_code"]) for call in calls] == [
        ("form", "POST", 201)
    ]
    # A failed action fails its step (the page is still read); the trajectory goes on.
    assert missing.status == "failed" and "click #no-such-button failed" in missing.failures[0]
    assert missing.text is not None and "New issue" in missing.text
    # The next trajectory gets a fresh context and twins: its issue is OPS-1 again.
    assert second.status == "completed" and second.steps[0].text is not None
    assert "Created OPS-1" in second.steps[0].text

    leftover = set(threading.enumerate()) - threads_before
    for thread in leftover:
        thread.join(10)
    assert [thread.name for thread in leftover if thread.is_alive()] == []
