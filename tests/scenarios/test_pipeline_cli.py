"""``orchestrate run | satisfy | validate | catalog`` as a user runs them: exit codes, errors, files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.config import load_config
from orchestrator.pipelines.scenarios import RunOptions, run_scenarios
from orchestrator.twins import serve_twins
from tests.scenarios.pipeline_support import make_project, scenario_yaml

PROMPT = "(?s)## Criteria to decide"


def orchestrate(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ORCHESTRATE_")}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.mark.timeout(120)
@pytest.mark.slow
def test_validate_exits_1_under_a_threshold_and_writes_junit(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "desk",
        {
            "file-ticket": scenario_yaml("file-ticket", "file Printer on fire"),
            "broken": scenario_yaml("broken", "break", domain="outages"),
        },
    )
    junit = tmp_path / "satisfaction.xml"
    done = orchestrate(root, "validate", "--count", "2", "--seed", "3", "--junit", str(junit))
    assert done.returncode == 1, done.stderr
    assert "Scenario run complete:" in done.stdout and "passed=no" in done.stdout
    xml = junit.read_text()
    assert 'name="broken"' in xml and "<failure" in xml and "the answer names the ticket" in xml
    latest = json.loads((root / ".scenarios" / "reports" / "latest.json").read_text())
    by_id = {scenario["id"]: scenario for scenario in latest["scenarios"]}
    assert by_id["file-ticket"]["passed"] and not by_id["broken"]["passed"]
    assert latest["domains"]["outages"]["passed"] is False

    passing = orchestrate(root, "validate", "file-ticket", "--count", "2", "--json")
    assert passing.returncode == 0, passing.stderr
    document = json.loads(passing.stdout)
    assert document["passed"] is True and document["trajectories"] == 2


@pytest.mark.timeout(60)
def test_catalog_names_file_line_field_and_fix_for_every_bad_file(tmp_path: Path) -> None:
    bad_step = scenario_yaml("bad-step", "file Lamp").replace("    user:", "    usr:")
    bad_twin = scenario_yaml("bad-twin", "file Lamp").replace("services: [jira]", "services: [jira, nosuch]")
    root = make_project(
        tmp_path / "desk", {"bad-step": bad_step, "bad-twin": bad_twin, "fine": scenario_yaml("fine", "x")}
    )
    done = orchestrate(root, "catalog")
    assert done.returncode == 2
    step_file = root / ".scenarios" / "catalog" / "tickets" / "bad-step.scenario.yaml"
    line = next(i for i, text in enumerate(step_file.read_text().splitlines(), 1) if "usr:" in text)
    assert f"{step_file}:{line}: steps[0].usr: is not a known field" in done.stderr
    assert "rename `usr` to `user`" in done.stderr
    assert "context.services[1]: names 'nosuch', which is not a twin" in done.stderr
    assert "Fix: " in done.stderr
    assert "fine" in done.stdout
    listed = json.loads(orchestrate(root, "catalog", "--json").stdout)
    assert listed["valid"] is False and len(listed["problems"]) == 2
    assert [entry["id"] for entry in listed["domains"]["tickets"]] == ["fine"]
    # A run refuses a broken catalog before anything is written.
    run = orchestrate(root, "run")
    assert run.returncode == 2 and "bad-step.scenario.yaml" in run.stderr
    assert not (root / ".scenarios" / "runs").exists()


@pytest.mark.timeout(60)
def test_mistakes_are_exit_2_with_the_fix_and_user_text_printed_literally(tmp_path: Path) -> None:
    root = make_project(tmp_path / "desk")
    chaos = orchestrate(root, "run", "--chaos-profile", "stormy")
    assert chaos.returncode == 2 and "unknown chaos profile 'stormy'" in chaos.stderr
    assert "hostile" in chaos.stderr
    unknown = orchestrate(root, "run", "[/bold]no-such")
    assert unknown.returncode == 2 and "[/bold]no-such" in unknown.stderr
    mixed = orchestrate(root, "run", "--resume", "2026-01-01-001", "--count", "3")
    assert mixed.returncode == 2 and "--resume" in mixed.stderr
    missing = orchestrate(root, "satisfy", "2020-01-01-001")
    assert missing.returncode == 2 and "2020-01-01-001" in missing.stderr
    (root / "orchestrate.toml").write_text('[project]\nname = "nosut"\n')
    no_sut = orchestrate(root, "run")
    assert no_sut.returncode == 2 and "sut: is not configured" in no_sut.stderr
    assert "[sut]" in no_sut.stderr


@pytest.mark.timeout(120)
def test_text_criteria_are_judged_by_the_configured_model(tmp_path: Path) -> None:
    polite = "  - The assistant tells the user the ticket key\n"
    root = make_project(
        tmp_path / "desk", {"file-ticket": scenario_yaml("file-ticket", "file Lamp", criteria=polite)}
    )
    verdict = json.dumps(
        {
            "criteria": [{"index": 1, "met": True, "reason": "it names OPS-1"}],
            "anti_patterns": [],
            "confidence": 0.9,
            "reasoning": "The ticket key was given.",
        }
    )
    with serve_twins(
        ["openai"], seed=1, data={"openai": {"rules": [{"match": PROMPT, "reply": verdict}]}}
    ) as twins:
        config = load_config(
            root,
            env={
                "ORCHESTRATE_LLM__MODEL": "gpt-4o-mini",
                "ORCHESTRATE_LLM__BASE_URL": twins["openai"],
                "ORCHESTRATE_LLM__API_KEY_ENV": "JUDGE_KEY_FOR_TEST",
            },
        )
        os.environ["JUDGE_KEY_FOR_TEST"] = "sk-twin-valid"
        try:
            result = run_scenarios(config, RunOptions(count=2, seed=1), judge=True)
        finally:
            del os.environ["JUDGE_KEY_FOR_TEST"]
    assert result.exit_code == 0 and result.report is not None
    judgment = json.loads((result.run_dir / "judgments" / "file-ticket-001.json").read_text())
    assert judgment["verdict"] == "satisfactory" and judgment["judge"] == "both"
    assert judgment["model"] == "gpt-4o-mini" and judgment["usage"]["total_tokens"] > 0
    manifest = json.loads((result.run_dir / "run-manifest.json").read_text())
    assert manifest["usage"]["total_tokens"] == 2 * judgment["usage"]["total_tokens"]
    assert "sk-twin-valid" not in (result.run_dir / "events.jsonl").read_text()
    events = [json.loads(line) for line in (result.run_dir / "events.jsonl").read_text().splitlines()]
    assert sum(event["event_type"] == "llm.call.completed" for event in events) == 2


@pytest.mark.timeout(120)
def test_oversubscribed_slots_are_warned_about(tmp_path: Path) -> None:
    root = make_project(tmp_path / "desk")
    cores = os.cpu_count() or 1
    done = orchestrate(root, "run", "--count", "1", "--parallel", str(2 * cores + 1))
    assert done.returncode == 0, done.stderr
    assert f"is more than twice the {cores} cores" in done.stderr
