"""The README's Python examples run as written: the five-line untyped worker and the typed one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from orchestrator.actors import run_conductor, spawn
from orchestrator.errors import ContractError
from orchestrator.messages import WorkRequest
from orchestrator.testing import capture_events

README = Path(__file__).resolve().parents[1] / "README.md"


def python_examples() -> dict[str, Any]:
    """Every ``python`` block of the README's "Using it from Python" section, run in one namespace."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Using it from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 4, "the section shows an untyped and a typed worker, a pool and a capture"
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    return namespace


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("conductor", "summary"),
    [("Hello", "hello Ada"), ("TypedHello", "hello Ada"), ("GreetMany", "100 greeted")],
)
def test_the_readme_pipelines_run(tmp_path: Path, conductor: str, summary: str) -> None:
    examples = python_examples()
    with capture_events() as captured:
        outcome = run_conductor(
            examples[conductor],
            events=captured,
            run_id="readme-1",
            events_path=tmp_path / "events.jsonl",
            objective="greet",
            timeout=20,
        )
    assert outcome.status == "completed" and outcome.summary == summary
    completed = captured.types("conductor.capability")
    assert completed == ["conductor.capability.completed"] * (100 if conductor == "GreetMany" else 1)


@pytest.mark.timeout(30)
def test_the_typed_readme_worker_refuses_a_misspelt_key() -> None:
    greeter = spawn(python_examples()["TypedGreeter"])
    try:
        with pytest.raises(ContractError, match=r"params\.nmae: .*Fix:"):
            greeter.ask(
                WorkRequest(run_id="r", capability="greet", objective="o", params={"nmae": "Ada"}), timeout=10
            )
    finally:
        greeter.stop()
