"""Profile check selection, missing and corrupt inputs, and verdicts: never a crash, always a reason."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from orchestrator.agents.ux_evaluator import FINDINGS_FILE, evaluate_run
from orchestrator.errors import RunInterruptedError, UsageError
from orchestrator.gate import Capture, CaptureManifest
from orchestrator.policy.test_profiles import Profile
from tests.agents.test_ux_evaluator import (
    IMAGE_ALT,
    RunDirBuilder,
    axe_results,
    demo_run,
    evaluate,
    lines_of,
)

# --- selection, missing and corrupt inputs --------------------------------------------------------


def test_only_the_profiles_checks_run(project: Path, run_dir: Path) -> None:
    demo_run(run_dir)
    evaluation = evaluate(run_dir, project, checks=["axe_violations"])
    assert {f.check for f in evaluation.findings} == {"axe_violations"}
    assert evaluation.checks_run == ("axe_violations",)
    assert evaluation.skipped_checks == {
        "console_errors": "not selected by the profile",
        "liquid_glass": "not selected by the profile",
        "onboarding_step_count": "not selected by the profile",
    }
    assert evaluation.by_check["console_errors"] == 0


def test_empty_run_dir_skips_every_check_and_blocks(project: Path, run_dir: Path) -> None:
    run_dir.mkdir(parents=True)
    evaluation = evaluate(run_dir, project)
    reason = "no capture manifest in captures/ (no driver recorded what it captured)"
    assert evaluation.findings == ()
    assert evaluation.skipped_checks == {
        "onboarding_step_count": reason,
        "axe_violations": reason,
        "console_errors": reason,
        "liquid_glass": "no SwiftUI project (Package.swift or *.xcodeproj) in the project",
    }
    assert evaluation.verdict == "BLOCKED"
    assert evaluation.blocked_by == (reason,)
    (head,) = lines_of(run_dir)
    assert head["_meta"]["count"] == 0


def test_missing_inputs_of_one_check_skip_only_that_check(project: Path, run_dir: Path) -> None:
    b = RunDirBuilder(run_dir)
    b.capture("/", console=[b.console_line("pageerror", "Error: x", "/")])
    b.write()
    evaluation = evaluate(run_dir, project)
    assert evaluation.checks_run == ("console_errors",)
    assert evaluation.skipped_checks["axe_violations"] == "no capture has axe results"
    assert evaluation.skipped_checks["onboarding_step_count"].startswith("no onboarding journey was captured")


def test_a_driver_that_skipped_says_why(project: Path, run_dir: Path) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / "captures").mkdir()
    manifest = CaptureManifest(driver="mac", exit_code=0, platform="linux", skipped="not macOS (linux)")
    (run_dir / "captures" / "mac.json").write_text(manifest.model_dump_json())
    evaluation = evaluate(run_dir, project, checks=["axe_violations", "console_errors"])
    assert evaluation.skipped_checks["axe_violations"] == (
        "no capture has axe results; captures/mac.json: mac skipped: not macOS (linux)"
    )
    assert evaluation.verdict == "PROCEED"  # a skip is not a framework error


def test_corrupt_manifest_is_recorded_not_raised(project: Path, run_dir: Path) -> None:
    demo_run(run_dir)
    (run_dir / "captures" / "web.json").write_text('{"driver": "web", "exit_code": 0, "captures": [')
    (run_dir / "captures" / "other.json").write_text('{"driver": "other", "exit_code": 7}')
    evaluation = evaluate(run_dir, project)
    reason = evaluation.skipped_checks["axe_violations"]
    assert reason.startswith("no readable capture manifest: ")
    assert "captures/web.json: not valid JSON" in reason
    assert "captures/other.json: not a capture manifest (exit_code:" in reason
    assert evaluation.checks_run == ()
    assert evaluation.verdict == "BLOCKED"
    assert any("captures/web.json" in p for p in evaluation.problems)


def test_corrupt_evidence_files_are_problems_and_the_rest_is_evaluated(project: Path, run_dir: Path) -> None:
    b = demo_run(run_dir)
    home = next(c for c in b.captures if c.name == "/")
    broken = next(c for c in b.captures if c.name == "/broken")
    assert home.axe and broken.console and broken.network
    (run_dir / home.axe).write_text("{not json")
    console = run_dir / broken.console
    console.write_text(console.read_text() + '{"ts": 1}\nnot json at all\n')
    evaluation = evaluate(run_dir, project)
    assert {f.checkId for f in evaluation.findings} >= {"image-alt", "uncaught-exception", "http-404"}
    problems = "\n".join(evaluation.problems)
    assert (
        f"{home.axe}: not valid JSON (Expecting property name enclosed in double quotes at line 1 column 2)"
        in problems
    )
    assert f"{broken.console} line 3: not a console entry" in problems
    assert f"{broken.console} line 4: not a console entry" in problems
    assert lines_of(run_dir)[0]["_meta"]["problems"] == list(evaluation.problems)


def test_all_axe_files_unreadable_skips_axe_naming_them(project: Path, run_dir: Path) -> None:
    b = RunDirBuilder(run_dir)
    capture = b.capture("/", violations=[IMAGE_ALT])
    b.write()
    assert capture.axe
    (run_dir / capture.axe).write_text('{"passes": []}')
    evaluation = evaluate(run_dir, project, checks=["axe_violations"])
    assert evaluation.skipped_checks["axe_violations"] == (
        f"no readable axe results: {capture.axe}: not axe-core results (violations: is required but "
        'missing. Fix: add it, for example `"violations": []`)'
    )
    (run_dir / capture.axe).unlink()
    evaluation = evaluate(run_dir, project, checks=["axe_violations"])
    assert evaluation.skipped_checks["axe_violations"] == (
        f"no readable axe results: {capture.axe}: named in a manifest but missing"
    )


def test_paths_outside_the_run_dir_are_never_followed(tmp_path: Path, project: Path, run_dir: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(axe_results("http://x/", [IMAGE_ALT])))
    b = RunDirBuilder(run_dir)
    b.captures.append(Capture(kind="route", name="/", url=f"{b.base}/", axe="../../../../outside.json"))
    b.captures.append(Capture(kind="route", name="/abs", url=f"{b.base}/abs", axe=str(outside)))
    b.capture("/ok", violations=[IMAGE_ALT], screenshot=False)
    b.captures[-1] = b.captures[-1].model_copy(update={"screenshot": "../../outside.json"})
    b.write()
    evaluation = evaluate(run_dir, project, checks=["axe_violations"])
    (finding,) = evaluation.findings
    assert finding.scope == "/ok"
    assert finding.evidence_path == "drivers/web/routes/ok/axe.json"
    assert "../../../../outside.json: not a path inside the run dir; ignored" in evaluation.problems
    assert f"{outside}: not a path inside the run dir; ignored" in evaluation.problems


def test_a_missing_run_dir_is_a_usage_error(project: Path) -> None:
    with pytest.raises(UsageError, match="not a run dir"):
        evaluate(project / "nope", project)


# --- verdicts -------------------------------------------------------------------------------------


def test_verdict_proceed_on_a_clean_run(project: Path, run_dir: Path) -> None:
    b = RunDirBuilder(run_dir)
    b.capture("/", violations=[], console=[], network=[])
    b.journey("signup", ["Email", "Password", "Done"])
    b.write()
    evaluation = evaluate(run_dir, project)
    assert evaluation.findings == ()
    assert evaluation.verdict == "PROCEED"


def test_verdict_blocked_by_a_framework_error_with_nothing_captured(project: Path, run_dir: Path) -> None:
    RunDirBuilder(run_dir).write(exit_code=2, error="chromium failed to launch\nstack...")
    evaluation = evaluate(run_dir, project)
    assert evaluation.findings == ()
    assert evaluation.verdict == "BLOCKED"
    assert evaluation.blocked_by == (
        "captures/web.json: the web driver failed (exit 2) and captured nothing: "
        "chromium failed to launch stack...",
    )


def test_exit_2_after_capturing_is_judged_on_its_findings(project: Path, run_dir: Path) -> None:
    b = RunDirBuilder(run_dir)
    b.capture("/", violations=[], console=[], network=[])
    b.write(exit_code=2, error="trace could not be saved")
    assert evaluate(run_dir, project).verdict == "PROCEED"


def test_a_cancelled_evaluation_stops_without_writing(project: Path, run_dir: Path) -> None:
    demo_run(run_dir)
    stop = threading.Event()
    stop.set()
    with pytest.raises(RunInterruptedError, match="stopped before onboarding_step_count"):
        evaluate_run(run_dir, run_id="web-1", profile=Profile(), project_root=project, cancelled=stop)
    assert not (run_dir / FINDINGS_FILE).exists()
