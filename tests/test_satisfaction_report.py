"""The satisfaction report: its numbers, its files, the previous run, its Markdown, JUnit and rich forms."""

from __future__ import annotations

import io
import json
import random
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from structlog.testing import capture_logs

from orchestrator.errors import ArtifactError
from orchestrator.policy.satisfaction import SatisfactionPolicy
from orchestrator.satisfaction import (
    SUITE_NAME,
    ScenarioInfo,
    TrajectoryOutcome,
    build_report,
    compare,
    escape_markdown,
    find_previous_report,
    junit_xml,
    pass_hat_k_curve,
    report_markdown,
    rich_table,
    wilson_interval,
    write_report_files,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
POLICY = SatisfactionPolicy.model_validate(
    # refund's own file says 0.5, which beats the policy's 0.99 for it.
    {"global": 0.8, "domains": {"support": 0.6}, "scenarios": {"invoice": 0.95, "refund": 0.99}}
)
SCENARIOS = [
    ScenarioInfo("refund", "billing", version=2, threshold=0.5),
    ScenarioInfo("escalate", "support", version=3),
    ScenarioInfo("invoice", "billing", version=1),
]


def outcome(
    trajectory_id: str,
    scenario_id: str,
    verdict: str,
    *,
    chaos: bool = False,
    status: str = "completed",
    unmet: tuple[str, ...] = (),
    anti: tuple[str, ...] = (),
) -> TrajectoryOutcome:
    domain = "support" if scenario_id == "escalate" else "billing"
    return TrajectoryOutcome(trajectory_id, scenario_id, domain, status, verdict, chaos, unmet, anti)


def current_outcomes() -> list[TrajectoryOutcome]:
    refund = [outcome(f"refund-{i}", "refund", "satisfactory", chaos=i < 2) for i in range(7)]
    refund += [
        outcome(
            "refund-7",
            "refund",
            "unsatisfactory",
            chaos=True,
            unmet=("refund issued", "customer told|when"),
            anti=("asks for a password",),
        ),
        outcome(
            "refund-8", "refund", "unsatisfactory", chaos=True, status="errored", unmet=("refund issued",)
        ),
        outcome("refund-9", "refund", "unjudged"),
    ]
    invoice = [outcome(f"invoice-{i}", "invoice", "satisfactory") for i in range(4)]
    escalate = [
        outcome("escalate-0", "escalate", "satisfactory"),
        outcome("escalate-1", "escalate", "unsatisfactory", chaos=True, unmet=("c", "b", "a", "f", "e", "d")),
        outcome("escalate-2", "escalate", "unsatisfactory", unmet=("b", "c")),
        outcome("escalate-3", "escalate", "unsatisfactory", unmet=("c", "c")),  # a repeat counts once
        outcome("escalate-4", "escalate", "unsatisfactory", status="timed_out", unmet=("g",)),
    ]
    return refund + invoice + escalate


def previous_report() -> dict[str, Any]:
    outcomes = [outcome(f"refund-{i}", "refund", "satisfactory") for i in range(10)]
    outcomes += [outcome(f"escalate-{i}", "escalate", "satisfactory") for i in range(5)]
    outcomes += [
        TrajectoryOutcome(f"legacy-{i}", "legacy", "billing", "completed", verdict, False, (), ())
        for i, verdict in enumerate(["satisfactory"] * 3 + ["unsatisfactory"] * 2)
    ]
    infos = [ScenarioInfo("refund", "billing", 2, 0.5), ScenarioInfo("escalate", "support", 3)]
    return build_report("2026-11-28-001", outcomes, infos, POLICY, None, generated_at=NOW)


@pytest.fixture
def report() -> dict[str, Any]:
    return build_report(
        "2026-11-29-001",
        current_outcomes(),
        SCENARIOS,
        POLICY,
        previous_report(),
        judge_summary={"judge": "rule", "model": None},
        usage={"input_tokens": 0},
        generated_at=NOW,
    )


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {scenario["id"]: scenario for scenario in report["scenarios"]}


# ----------------------------------------------------------------------------------------- the numbers


def test_the_document_has_every_key(report: dict[str, Any]) -> None:
    assert {"schema_version", "run_id", "generated_at", "overall", "domains", "scenarios"} <= set(report)
    assert report["schema_version"] == 1
    assert report["run_id"] == "2026-11-29-001"
    assert report["generated_at"] == NOW.isoformat()
    assert {
        "trajectories",
        "satisfied",
        "satisfaction",
        "ci95",
        "threshold",
        "passed",
        "comparison",
    } <= set(report["overall"])
    for domain in report["domains"].values():
        assert {"satisfaction", "threshold", "passed", "scenarios"} <= set(domain)
    for scenario in report["scenarios"]:
        assert {
            "id",
            "domain",
            "version",
            "trajectories",
            "satisfied",
            "unjudged",
            "errored",
            "satisfaction",
            "ci95",
            "pass_hat_k",
            "with_chaos",
            "without_chaos",
            "threshold",
            "passed",
            "top_unmet",
            "anti_patterns",
            "comparison",
        } <= set(scenario)
    assert report["judge"] == {"judge": "rule", "model": None}
    assert report["usage"] == {"input_tokens": 0}


def test_scenarios_are_sorted_by_domain_then_id(report: dict[str, Any]) -> None:
    assert [(s["domain"], s["id"]) for s in report["scenarios"]] == [
        ("billing", "invoice"),
        ("billing", "refund"),
        ("support", "escalate"),
    ]


def test_a_scenarios_counts_interval_and_pass_hat_k(report: dict[str, Any]) -> None:
    refund = by_id(report)["refund"]
    assert refund["version"] == 2
    assert (refund["trajectories"], refund["satisfied"], refund["unjudged"], refund["errored"]) == (
        10,
        7,
        1,
        1,
    )
    assert refund["satisfaction"] == pytest.approx(0.7)
    assert refund["ci95"] == list(wilson_interval(7, 10))
    assert refund["pass_hat_k"] == pass_hat_k_curve(7, 10)
    assert list(refund["pass_hat_k"]) == ["1", "2", "3", "4", "5", "6", "7", "8"]
    escalate = by_id(report)["escalate"]
    assert list(escalate["pass_hat_k"]) == ["1", "2", "3", "4", "5"]
    assert (escalate["errored"], escalate["unjudged"]) == (1, 0)  # timed out counts as errored


def test_the_chaos_split(report: dict[str, Any]) -> None:
    refund = by_id(report)["refund"]
    assert refund["with_chaos"] == {"trajectories": 4, "satisfied": 2, "satisfaction": 0.5}
    assert refund["without_chaos"]["trajectories"] == 6
    assert refund["without_chaos"]["satisfaction"] == pytest.approx(5 / 6)
    invoice = by_id(report)["invoice"]
    assert invoice["with_chaos"] == {"trajectories": 0, "satisfied": 0, "satisfaction": None}


def test_thresholds_follow_their_precedence_and_decide_passed(report: dict[str, Any]) -> None:
    scenarios = by_id(report)
    assert (scenarios["refund"]["threshold"], scenarios["refund"]["passed"]) == (0.5, True)  # its own file
    assert (scenarios["invoice"]["threshold"], scenarios["invoice"]["passed"]) == (
        0.95,
        True,
    )  # policy scenario
    assert (scenarios["escalate"]["threshold"], scenarios["escalate"]["passed"]) == (0.6, False)  # domain
    assert scenarios["escalate"]["satisfaction"] == pytest.approx(0.2)


def test_most_common_reasons_first_ties_by_name_at_most_five(report: dict[str, Any]) -> None:
    escalate = by_id(report)["escalate"]
    assert escalate["top_unmet"] == [
        {"criterion": "c", "count": 3},
        {"criterion": "b", "count": 2},
        {"criterion": "a", "count": 1},
        {"criterion": "d", "count": 1},
        {"criterion": "e", "count": 1},
    ]
    refund = by_id(report)["refund"]
    assert refund["top_unmet"] == [
        {"criterion": "refund issued", "count": 2},
        {"criterion": "customer told|when", "count": 1},
    ]
    assert refund["anti_patterns"] == [{"criterion": "asks for a password", "count": 1}]
    assert by_id(report)["invoice"]["top_unmet"] == []


def test_domains_average_their_scenarios(report: dict[str, Any]) -> None:
    billing, support = report["domains"]["billing"], report["domains"]["support"]
    assert list(report["domains"]) == ["billing", "support"]
    assert billing["satisfaction"] == pytest.approx(
        (0.7 + 1.0) / 2
    )  # not 11/14: each scenario weighs the same
    assert (billing["threshold"], billing["passed"], billing["scenarios"]) == (0.8, True, 2)
    assert (support["satisfaction"], support["threshold"], support["passed"]) == (
        pytest.approx(0.2),
        0.6,
        False,
    )


def test_overall_is_weighted_by_trajectories(report: dict[str, Any]) -> None:
    overall = report["overall"]
    assert (overall["trajectories"], overall["satisfied"]) == (19, 12)
    assert overall["satisfaction"] == pytest.approx(12 / 19)
    assert overall["ci95"] == list(wilson_interval(12, 19))
    assert (overall["threshold"], overall["passed"]) == (0.8, False)
    assert (overall["unjudged"], overall["errored"]) == (1, 2)
    assert overall["scenarios_failed"] == ["escalate"]


def test_comparisons_with_the_previous_report(report: dict[str, Any]) -> None:
    scenarios = by_id(report)
    expected = compare(10, 10, 7, 10)
    assert expected is not None
    assert scenarios["refund"]["comparison"] == {
        "previous_run": "2026-11-28-001",
        "previous_trajectories": 10,
        "previous_satisfied": 10,
        "delta": expected.delta,
        "p_value": expected.p_value,
        "test": expected.test,
        "verdict": "unchanged",
    }
    escalate = scenarios["escalate"]["comparison"]
    assert (escalate["verdict"], escalate["test"]) == ("regressed", "boschloo")
    assert escalate["p_value"] < 0.05
    assert scenarios["invoice"]["comparison"] is None  # absent before
    overall = report["overall"]["comparison"]
    expected_overall = compare(18, 20, 12, 19)
    assert expected_overall is not None
    assert (overall["delta"], overall["p_value"], overall["verdict"]) == (
        expected_overall.delta,
        expected_overall.p_value,
        expected_overall.verdict,
    )


def test_without_a_previous_report_nothing_is_compared() -> None:
    report = build_report("r-1", current_outcomes(), SCENARIOS, POLICY, None, generated_at=NOW)
    assert report["overall"]["comparison"] is None
    assert all(s["comparison"] is None for s in report["scenarios"])
    assert report["judge"] is None and report["usage"] is None


def test_a_malformed_previous_report_is_left_out_of_the_comparison() -> None:
    previous = {
        "run_id": 7,
        "overall": {"trajectories": "20", "satisfied": 18},
        "scenarios": [{"id": "refund", "trajectories": 10, "satisfied": 11}, "junk", {"id": "escalate"}],
    }
    report = build_report("r-2", current_outcomes(), SCENARIOS, POLICY, previous, generated_at=NOW)
    assert report["overall"]["comparison"] is None
    assert all(s["comparison"] is None for s in report["scenarios"])
    broken = build_report("r-3", current_outcomes(), SCENARIOS, POLICY, {"scenarios": {}}, generated_at=NOW)
    assert broken["overall"]["comparison"] is None


def test_the_same_input_gives_the_same_document(report: dict[str, Any]) -> None:
    shuffled = current_outcomes()
    random.Random(7).shuffle(shuffled)
    again = build_report(
        "2026-11-29-001",
        shuffled,
        list(reversed(SCENARIOS)),
        POLICY,
        previous_report(),
        judge_summary={"judge": "rule", "model": None},
        usage={"input_tokens": 0},
        generated_at=NOW,
    )
    assert json.dumps(again) == json.dumps(report)


def test_the_document_is_strict_json(report: dict[str, Any]) -> None:
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text) == report


def test_a_scenario_without_trajectories_does_not_pass() -> None:
    report = build_report("r-4", [], [ScenarioInfo("idle", "ops")], POLICY, None, generated_at=NOW)
    idle = report["scenarios"][0]
    assert (idle["trajectories"], idle["satisfaction"], idle["passed"]) == (0, None, False)
    assert (idle["ci95"], idle["pass_hat_k"]) == ([0.0, 1.0], {})
    assert report["domains"]["ops"]["satisfaction"] is None and not report["domains"]["ops"]["passed"]
    assert report["overall"]["satisfaction"] is None and not report["overall"]["passed"]
    json.dumps(report, allow_nan=False)


def test_outcomes_of_an_undeclared_scenario_are_still_counted() -> None:
    outcomes = [TrajectoryOutcome("x-0", "ghost", "ops", "completed", "satisfactory", False, (), ())]
    report = build_report("r-5", outcomes, [], POLICY, None, generated_at=NOW)
    ghost = report["scenarios"][0]
    assert (ghost["id"], ghost["domain"], ghost["version"], ghost["threshold"]) == ("ghost", "ops", None, 0.8)
    assert report["overall"]["satisfied"] == 1


def test_an_unknown_verdict_is_refused() -> None:
    with pytest.raises(ValueError, match="verdict must be one of"):
        TrajectoryOutcome("t", "s", "d", "completed", "great", False, (), ())


# ------------------------------------------------------------------------------------------- the files


def test_write_report_files(tmp_path: Path, report: dict[str, Any]) -> None:
    reports_dir, run_dir = tmp_path / "reports", tmp_path / "runs" / "2026-11-29-001"
    paths = write_report_files(report, reports_dir=reports_dir, run_dir=run_dir)
    assert paths.latest == reports_dir / "latest.json"
    assert paths.history == reports_dir / "history" / "2026-11-29-001.json"
    assert paths.markdown == run_dir / "report.md"
    assert json.loads(paths.latest.read_text("utf-8")) == report
    assert json.loads(paths.history.read_text("utf-8")) == report
    assert paths.markdown.read_text("utf-8") == report_markdown(report)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("run_id", ["../escape", ".hidden", "", "a/b"])
def test_a_run_id_that_is_not_a_file_name_writes_nothing(
    tmp_path: Path, report: dict[str, Any], run_id: str
) -> None:
    with pytest.raises(ValueError, match="run_id"):
        write_report_files(report | {"run_id": run_id}, reports_dir=tmp_path / "r", run_dir=tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_reports_dir_is_an_artifact_error(tmp_path: Path, report: dict[str, Any]) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the directory should be", encoding="utf-8")
    with pytest.raises(ArtifactError):
        write_report_files(report, reports_dir=blocker, run_dir=tmp_path / "run")


def history(reports_dir: Path, run_id: str, document: dict[str, Any] | str) -> None:
    path = reports_dir / "history" / f"{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")


def test_find_previous_report_takes_the_latest_run_before_this_one(tmp_path: Path) -> None:
    for run_id in (
        "2026-11-28-001",
        "2026-11-29-999",
        "2026-11-29-1000",
        "2026-11-29-1001",
        "2026-11-30-001",
    ):
        history(tmp_path, run_id, {"schema_version": 1, "run_id": run_id})
    found = find_previous_report(tmp_path, "2026-11-29-1001")
    # Numbers compare as numbers: 1000 comes after 999; this run and later ones are not "previous".
    assert found is not None and found["run_id"] == "2026-11-29-1000"
    first = find_previous_report(tmp_path, "2026-11-28-001")
    assert first is None


def test_find_previous_report_skips_unreadable_files_with_a_warning(tmp_path: Path) -> None:
    history(tmp_path, "2026-11-27-001", {"schema_version": 1, "run_id": "2026-11-27-001"})
    history(tmp_path, "2026-11-28-001", "{not json")
    history(tmp_path, "2026-11-28-002", '["a list"]')
    history(tmp_path, "2026-11-28-003", {"schema_version": 99})
    (tmp_path / "history" / "2026-11-28-004.json").write_bytes(b"\xff\xfe")
    with capture_logs() as logs:
        found = find_previous_report(tmp_path, "2026-11-29-001")
    assert found is not None and found["run_id"] == "2026-11-27-001"
    warned = sorted(Path(entry["path"]).stem for entry in logs if entry["log_level"] == "warning")
    assert warned == ["2026-11-28-001", "2026-11-28-002", "2026-11-28-003", "2026-11-28-004"]


def test_find_previous_report_without_history(tmp_path: Path) -> None:
    assert find_previous_report(tmp_path / "missing", "2026-11-29-001") is None


def test_a_written_report_is_found_as_the_next_runs_previous(tmp_path: Path, report: dict[str, Any]) -> None:
    write_report_files(report, reports_dir=tmp_path, run_dir=tmp_path / "run")
    previous = find_previous_report(tmp_path, "2026-11-29-002")
    assert previous == report
    follow_up = build_report(
        "2026-11-29-002", current_outcomes(), SCENARIOS, POLICY, previous, generated_at=NOW
    )
    assert by_id(follow_up)["refund"]["comparison"]["verdict"] == "unchanged"
    assert by_id(follow_up)["refund"]["comparison"]["p_value"] == 1.0


# ------------------------------------------------------------------------------------------ renderings


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def tables(markdown: str) -> list[list[str]]:
    """The Markdown tables of a text, each as its lines (header, rule, rows)."""
    found: list[list[str]] = []
    previous_was_row = False
    for line in markdown.splitlines():
        is_row = line.startswith("| ")
        if is_row:
            if not previous_was_row:
                found.append([])
            found[-1].append(line)
        previous_was_row = is_row
    return found


def test_markdown_headline_and_tables(report: dict[str, Any]) -> None:
    text = report_markdown(report)
    overall = report["overall"]
    low, high = overall["ci95"]
    assert f"**Overall satisfaction 0.63 (95% CI {low:.2f}-{high:.2f}), threshold 0.80: FAIL.**" in text
    comparison = overall["comparison"]
    assert f"Compared with the previous run: {comparison['verdict']} (" in text
    assert f"{comparison['test']} test, vs run 2026-11-28-001)" in text
    assert (
        "| Scenario | Domain | Trajectories | Satisfied | Unjudged | Errored | Satisfaction | 95% CI |"
        in text
    )
    domain_table, scenario_table = tables(text)
    for table in (domain_table, scenario_table):
        assert len({unescaped_pipes(row) for row in table}) == 1  # every row has the header's cells
    assert len(domain_table) == 2 + 2 and len(scenario_table) == 2 + 3
    rows = scenario_table
    refund_row = next(row for row in rows if row.startswith("| refund |"))
    assert "| 10 | 7 | 1 | 1 | 0.70 |" in refund_row
    assert "(k=8)" in refund_row and "0.50 (n=4)" in refund_row and "| PASS |" in refund_row
    escalate_row = next(row for row in rows if row.startswith("| escalate |"))
    assert "| FAIL |" in escalate_row and "regressed" in escalate_row and "boschloo test" in escalate_row


def test_markdown_lists_reasons_and_escapes_user_text(report: dict[str, Any]) -> None:
    text = report_markdown(report)
    assert "### refund" in text
    assert "- 2\u00d7 refund issued" in text
    assert "- 1\u00d7 customer told\\|when" in text  # a pipe would end a table cell
    assert "- 1\u00d7 asks for a password" in text


def test_markdown_hint_for_unjudged_trajectories(report: dict[str, Any]) -> None:
    hint = (
        "1 trajectory could not be judged: text criteria need a model; "
        "set [llm] model in orchestrate.toml (see README)"
    )
    assert f"> {hint}" in report_markdown(report)
    judged = build_report(
        "r-6", [outcome("i", "invoice", "satisfactory")], SCENARIOS[2:], POLICY, None, generated_at=NOW
    )
    assert "could not be judged" not in report_markdown(judged)
    unjudged = [outcome(f"i-{n}", "invoice", "unjudged") for n in range(3)]
    several = build_report("r-7", unjudged, SCENARIOS[2:], POLICY, None, generated_at=NOW)
    assert "> 3 trajectories could not be judged: text criteria need a model;" in report_markdown(several)


def test_markdown_tables_survive_hostile_user_text() -> None:
    hostile = "a|b\nc *d* [e](f) <script>&amp; `g`"
    outcomes = [TrajectoryOutcome("t", hostile, "x|y", "completed", "unsatisfactory", False, (hostile,), ())]
    report = build_report("r-8", outcomes, [], POLICY, None, generated_at=NOW)
    text = report_markdown(report)
    for table in tables(text):
        assert len({unescaped_pipes(row) for row in table}) == 1  # header, rule and rows agree
    assert "<script>" not in text and "\na|b" not in text
    assert escape_markdown(hostile) == r"a\|b c \*d\* \[e\](f) \<script\>\&amp; \`g\`"


def test_junit_parses_with_totals_and_one_case_per_scenario(report: dict[str, Any]) -> None:
    root = ET.fromstring(junit_xml(report))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == SUITE_NAME
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "0")
    cases = suite.findall("testcase")
    assert [(case.get("classname"), case.get("name")) for case in cases] == [
        ("billing", "invoice"),
        ("billing", "refund"),
        ("support", "escalate"),
    ]
    assert cases[0].find("failure") is None and cases[1].find("failure") is None
    failure = cases[2].find("failure")
    assert failure is not None
    low, high = by_id(report)["escalate"]["ci95"]
    assert failure.get("message") == (
        f"satisfaction 0.20 < threshold 0.60 (95% CI {low:.2f}-{high:.2f}); top unmet: c (3), b (2), a (1)"
    )
    assert failure.text is not None and "trajectories 5, satisfied 1" in failure.text
    assert "regressed" in failure.text


def test_junit_keeps_user_text_with_markup_characters() -> None:
    name, domain, criterion = 'q<&">', "d&<'", 'says "<b>&amp;</b>"\x01 done'
    outcomes = [TrajectoryOutcome("t", name, domain, "completed", "unsatisfactory", False, (criterion,), ())]
    report = build_report("r-9", outcomes, [], POLICY, None, generated_at=NOW)
    case = ET.fromstring(junit_xml(report)).find("testsuite/testcase")
    assert case is not None
    assert (case.get("name"), case.get("classname")) == (name, domain)
    failure = case.find("failure")
    assert failure is not None
    assert 'top unmet: says "<b>&amp;</b>" done (1)' in str(failure.get("message"))  # \x01 cannot be XML


def test_junit_of_a_scenario_that_never_ran() -> None:
    report = build_report("r-10", [], [ScenarioInfo("idle", "ops")], POLICY, None, generated_at=NOW)
    failure = ET.fromstring(junit_xml(report)).find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == "no trajectories ran; threshold 0.80"


def test_rich_table(report: dict[str, Any]) -> None:
    console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
    console.print(rich_table(report))
    text = console.export_text()
    for header in (
        "scenario",
        "n",
        "satisfied",
        "satisfaction",
        "95% CI",
        "pass^k max",
        "threshold",
        "result",
    ):
        assert header in text
    refund_line = next(line for line in text.splitlines() if "billing/refund" in line)
    assert "0.70" in refund_line and "(k=8)" in refund_line and "PASS" in refund_line
    escalate_line = next(line for line in text.splitlines() if "support/escalate" in line)
    assert "FAIL" in escalate_line and "regressed" in escalate_line
    assert "overall 0.63" in text


def test_rich_table_shows_markup_in_ids_literally() -> None:
    outcomes = [TrajectoryOutcome("t", "[bold]x[/bold]", "[red]", "completed", "satisfactory", False, (), ())]
    report = build_report("[r]", outcomes, [], POLICY, None, generated_at=NOW)
    console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
    console.print(rich_table(report))
    text = console.export_text()
    assert "[red]/[bold]x[/bold]" in text and "run [r]" in text
