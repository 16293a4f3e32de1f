"""The same spec gives the same trajectory document, on one slot and on another, but for times."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from orchestrator.agents.runner import run_trajectory
from orchestrator.policy.chaos import ChaosConfig
from orchestrator.scenarios import Trajectory
from tests.scenarios.runner_support import running_slot, scenario, slot_settings, spec

# What may differ: when things happened, how long they took, which slot ran it.
_TIMING = {"started_at", "finished_at", "duration_ms", "at_ms", "slot"}
# Timestamps the twins write into their records.
_STAMP = re.compile(r"^(created|updated|timestamp)$|_at$")

STEPS: list[dict[str, Any]] = [
    {"id": "hello", "user": "hi"},
    {"id": "make", "user": "create First"},
    {"id": "more", "user": "create Second"},
    {"id": "direct", "http": {"method": "POST", "path": "/api/issues", "json": {"summary": "{{more.text}}"}}},
    {"id": "notify", "user": "tell slack {{make.text}}"},
    {"id": "state", "twin": {"service": "jira", "assert": {"path": "$.issues[*]", "count": {"min": 0}}}},
]
# Faults on some requests and not others: the rolls must come out the same every time.
CHAOS = ChaosConfig.model_validate({"error_503": {"probability": 0.5}})


def masked(value: Any, key: str = "") -> Any:
    if key in _TIMING or _STAMP.search(key):
        return "<masked>"
    if isinstance(value, dict):
        return {name: masked(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def document(trajectory: Trajectory) -> Any:
    return masked(trajectory.document())


def test_the_same_spec_gives_the_same_document_on_one_slot_and_on_another(tmp_path: Path) -> None:
    the_spec = spec(scenario(STEPS), seed=20240501, chaos=CHAOS)
    settings = slot_settings(tmp_path)
    with running_slot(settings, "slot-1") as first_slot:
        first = run_trajectory(first_slot, the_spec)
        again = run_trajectory(first_slot, the_spec)
    with running_slot(settings, "slot-2") as second_slot:
        elsewhere = run_trajectory(second_slot, the_spec)

    assert first.status == "completed", first.error
    # The chaos really fired on some requests and not on others, and the record has every call.
    assert first.chaos and any(e.type == "api_call" and e.detail["chaos"] is None for e in first.events)
    assert document(again) == document(first)
    assert document(elsewhere) == document(first)
    assert elsewhere.slot == "slot-2"


def test_another_seed_gives_other_chaos(tmp_path: Path) -> None:
    with running_slot(slot_settings(tmp_path)) as slot:
        rolls = {
            tuple(
                (record.twin, record.route, record.mode)
                for record in run_trajectory(slot, spec(scenario(STEPS), seed=seed, chaos=CHAOS)).chaos
            )
            for seed in (1, 2, 3, 4)
        }
    assert len(rolls) > 1
