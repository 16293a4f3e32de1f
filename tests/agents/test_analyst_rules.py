"""The rule-based analyst: score formula, counts, backlog order, decision rules and the written files.

Everything here is a pure function of its input, except :func:`write_analysis`, which writes real
files into ``tmp_path``; the Markdown backlog is read back with the demo coder's own parser.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import ValidationError

from orchestrator.agents.analyst import (
    FORMULA,
    Analysis,
    AnalystSettings,
    ExpectationResult,
    IterationHistory,
    StepOutcome,
    analyse,
    backlog_markdown,
    outside_allowed,
    score,
    write_analysis,
)
from orchestrator.packs import ExpectCategory, StepStatus

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "assistant"


def load_coder() -> ModuleType:
    """The demo coder, imported from its file (the example folder is not a package)."""
    spec = importlib.util.spec_from_file_location("orchestrate_example_assistant_coder", EXAMPLE / "coder.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


coder = load_coder()


def met(
    kind: str = "contains", category: ExpectCategory = "presentation", detail: str = "ok"
) -> ExpectationResult:
    return ExpectationResult(kind=kind, category=category, met=True, detail=detail)


def unmet(kind: str, category: ExpectCategory, detail: str) -> ExpectationResult:
    return ExpectationResult(kind=kind, category=category, met=False, detail=detail)


def step(
    status: StepStatus,
    expectations: list[ExpectationResult] | None = None,
    *,
    scenario: str = "stock-check",
    name: str = "step_01",
    decision: bool = False,
    error: str | None = None,
    evidence: list[str] | None = None,
) -> StepOutcome:
    return StepOutcome(
        scenario=scenario,
        step=name,
        status=status,
        decision=decision,
        expectations=expectations or [],
        evidence_paths=evidence or [],
        error=error,
    )


def iteration(
    n: int, score: int, coder: int | None = 0, changed: list[str] | None = None
) -> IterationHistory:
    return IterationHistory(n=n, score=score, coder_exit_code=coder, coder_changed_paths=changed or [])


# ------------------------------------------------------------------------------------------- score


def test_all_accepted_scores_100() -> None:
    outcomes = [step("accepted", [met()], name="a"), step("accepted", name="b")]
    assert score(outcomes) == 100
    assert analyse(outcomes).score == 100


def test_no_steps_score_0() -> None:
    analysis = analyse([])
    assert analysis.score == 0
    assert analysis.backlog == []
    assert analysis.requires_user_decision is False


def test_mixed_statuses_follow_the_formula() -> None:
    outcomes = [
        step("accepted", name="a"),  # 1
        step("partial", [met(), unmet("contains", "presentation", "x")], name="b"),  # 0.5
        step("needs_exact_capability", [met(), unmet("route", "route", "low_stock")], name="c"),  # 0.125
        step("blocked", [met()], name="d", error="no item"),  # 0
    ]
    # mean = 1.625 / 4 = 0.40625 -> 40.625 -> 41
    assert score(outcomes) == 41


def test_a_partial_step_without_expectations_earns_nothing_and_halves_round_up() -> None:
    assert score([step("partial")]) == 0
    assert score([step("needs_exact_capability")]) == 0
    # 0.25 * 1/2 = 0.125 -> 12.5 -> 13 (half up, not half to even)
    assert score([step("needs_exact_capability", [met(), unmet("route", "route", "r")])]) == 13
    # mean of 1 and 0.25 * 1 = 0.625 -> 62.5 -> 63
    assert score([step("accepted"), step("needs_exact_capability", [met()])]) == 63
    # 2 of 4 met: mean of 1 and 0.5 = 0.75 -> 75
    assert score([step("accepted"), step("partial", [met(), unmet("a", "route", "b")] * 2)]) == 75


def test_blocked_steps_score_zero_and_the_formula_is_recorded() -> None:
    analysis = analyse([step("blocked", error="placeholder found nothing"), step("accepted", name="b")])
    assert analysis.score == 50
    assert analysis.formula == FORMULA
    assert "0.25" in analysis.formula and "blocked 0" in analysis.formula


def test_counts_hold_every_status() -> None:
    outcomes = [
        step("accepted", name="a"),
        step("accepted", name="b"),
        step("partial", name="c"),
        step("blocked", name="d"),
    ]
    counts = analyse(outcomes).counts
    assert counts.model_dump() == {"accepted": 2, "partial": 1, "needs_exact_capability": 0, "blocked": 1}


# ----------------------------------------------------------------------------------------- backlog


def test_backlog_items_name_the_expectation_and_suggest_a_change_by_category() -> None:
    outcome = step(
        "partial",
        [
            met(),
            unmet("route", "route", "route low_stock was not taken (took inventory_list)"),
            unmet("evidence", "evidence", "at least 1 source, found 0"),
            unmet("contains", "presentation", "a numbered list of items"),
        ],
        evidence=["steps/step_01/answer.json"],
    )
    route, evidence, presentation = analyse([outcome]).backlog
    assert (route.category, evidence.category, presentation.category) == ("route", "evidence", "presentation")
    assert route.problem == "route expectation not met: route low_stock was not taken (took inventory_list)"
    assert route.suggested_change == "add or fix the capability/route named low_stock"
    assert evidence.problem == "evidence expectation not met: at least 1 source, found 0"
    assert evidence.suggested_change == "cite the sources the answer used"
    assert presentation.suggested_change.startswith("present the answer as")
    assert "a numbered list of items" in presentation.suggested_change
    assert route.evidence == ["steps/step_01/answer.json"]
    assert (route.scenario, route.step) == ("stock-check", "step_01")


def test_blocked_steps_and_missing_capabilities_add_route_items() -> None:
    blocked = step("blocked", scenario="b-scn", name="s1", error="{{step_00.x}} found nothing")
    lacking = step(
        "needs_exact_capability",
        [unmet("contains", "presentation", "the order status")],
        scenario="c-scn",
        name="s1",
        error="needs the order_status capability",
    )
    lacking_with_route = step(
        "needs_exact_capability", [unmet("route", "route", "reorder")], scenario="d-scn", name="s1"
    )
    items = analyse([blocked, lacking, lacking_with_route]).backlog
    routes = [item for item in items if item.category == "route"]
    assert [(item.scenario, item.problem) for item in routes] == [
        ("b-scn", "{{step_00.x}} found nothing"),
        ("c-scn", "needs a capability the assistant lacks: needs the order_status capability"),
        ("d-scn", "route expectation not met: reorder"),
    ]
    assert routes[1].suggested_change == "add or fix the capability/route named order_status"
    assert [item.category for item in items] == ["route", "route", "route", "presentation"]


def test_backlog_order_is_category_then_scenario_then_step() -> None:
    outcomes = [
        step(
            "partial",
            [unmet("contains", "presentation", "p"), unmet("route", "route", "r_z")],
            scenario="z",
            name="s2",
        ),
        step("partial", [unmet("evidence", "evidence", "e")], scenario="a", name="s9"),
        step("partial", [unmet("route", "route", "r_a2")], scenario="a", name="s2"),
        step("partial", [unmet("route", "route", "r_a1")], scenario="a", name="s1"),
        step("partial", [unmet("contains", "presentation", "q")], scenario="a", name="s1"),
    ]
    order = [(item.category, item.scenario, item.step) for item in analyse(outcomes).backlog]
    assert order == [
        ("route", "a", "s1"),
        ("route", "a", "s2"),
        ("route", "z", "s2"),
        ("evidence", "a", "s9"),
        ("presentation", "a", "s1"),
        ("presentation", "z", "s2"),
    ]


def test_the_analysis_is_deterministic_and_round_trips() -> None:
    outcomes = [
        step("partial", [unmet("route", "route", "low_stock"), met()], scenario="s", name="b"),
        step("blocked", scenario="s", name="a", error="boom"),
    ]
    history = [iteration(1, 10)]
    first = analyse(outcomes, history=history)
    assert analyse(list(outcomes), history=list(history)) == first
    assert backlog_markdown(first) == backlog_markdown(analyse(outcomes, history=history))
    assert Analysis.model_validate_json(first.model_dump_json()) == first


def test_models_refuse_unknown_fields_and_bad_values() -> None:
    with pytest.raises(ValidationError):
        StepOutcome.model_validate(
            {"scenario": "s", "step": "a", "status": "done", "decision": False, "expectations": []}
        )
    with pytest.raises(ValidationError):
        AnalystSettings.model_validate({"stall_limit": 2, "allowed": ["src/**"]})
    with pytest.raises(ValidationError):
        IterationHistory(n=1, score=101, coder_exit_code=0)


# --------------------------------------------------------------------------------------- decisions


def test_a_decision_step_not_accepted_needs_the_user_first() -> None:
    outcomes = [
        step("accepted", name="a", decision=True),
        step("partial", [unmet("contains", "presentation", "says ordered")], name="b", decision=True),
    ]
    # Every later rule applies too (stall, fall, paths): the decision step still comes first.
    history = [iteration(1, 90), iteration(2, 90, changed=["secrets.txt"])]
    analysis = analyse(outcomes, history=history, settings=AnalystSettings(allowed_paths=["src/**"]))
    assert analysis.requires_user_decision is True
    assert analysis.decision_reason == (
        "step b of scenario stock-check needs a decision: it ended partial (says ordered)"
    )


def test_an_accepted_decision_step_needs_nothing() -> None:
    analysis = analyse([step("accepted", decision=True)])
    assert (analysis.requires_user_decision, analysis.decision_reason) == (False, None)


def test_a_stall_over_the_limit_needs_the_user() -> None:
    now = [step("partial", [met(), unmet("a", "route", "x")])]  # score 50
    # Two coder runs after iterations 2 and 3; the score before them was 50 and is 50 now.
    history = [iteration(1, 30), iteration(2, 50), iteration(3, 40)]
    analysis = analyse(now, history=history)
    assert analysis.decision_reason == (
        "the last 2 coder runs (after iterations 2, 3) did not raise the score: 50 before them, 50 now"
    )
    # A score above the one before the window is progress, even with a dip in between.
    assert (
        analyse(now, history=[iteration(1, 30), iteration(2, 40), iteration(3, 45)]).requires_user_decision
        is False
    )
    # Fewer coder runs than the limit: no stall yet.
    assert (
        analyse(now, history=[iteration(1, 50)], settings=AnalystSettings(stall_limit=2)).decision_reason
        is None
    )
    # A limit of 3 looks further back, to iteration 1's 30: progress.
    assert analyse(now, history=history, settings=AnalystSettings(stall_limit=3)).decision_reason is None
    # 0 never stops for a stall.
    assert (
        analyse(
            now, history=[iteration(1, 50), iteration(2, 50)], settings=AnalystSettings(stall_limit=0)
        ).decision_reason
        is None
    )


def test_iterations_without_a_coder_run_do_not_count_towards_a_stall() -> None:
    now = [step("partial", [met(), unmet("a", "route", "x")])]  # 50
    history = [iteration(1, 50), iteration(2, 50, coder=None), iteration(3, 70, coder=None)]
    analysis = analyse(now, history=history)
    assert analysis.requires_user_decision is False
    # History order does not matter: iterations are taken by their number.
    stalled = [iteration(3, 50), iteration(1, 10, coder=None), iteration(2, 50)]
    assert "after iterations 2, 3" in (analyse(now, history=stalled).decision_reason or "")


def test_a_score_that_fell_after_the_coder_needs_the_user() -> None:
    now = [step("partial", [met(), unmet("a", "route", "x")])]  # 50
    analysis = analyse(now, history=[iteration(1, 20), iteration(2, 60)])
    assert analysis.decision_reason == "the score fell from 60 to 50 after the coder's change in iteration 2"
    # The stall rule comes before the fall: with a limit of 1 it names the stall.
    stalled = analyse(now, history=[iteration(1, 60)], settings=AnalystSettings(stall_limit=1))
    assert (stalled.decision_reason or "").startswith("the last 1 coder runs")
    # Without a coder run after the last iteration, a lower score is no one's change.
    assert analyse(now, history=[iteration(1, 20), iteration(2, 60, coder=None)]).decision_reason is None


def test_a_coder_change_outside_the_allowed_paths_needs_the_user() -> None:
    now = [step("accepted")]  # 100: no stall, no fall
    history = [
        iteration(1, 40, changed=["etc/passwd"]),
        iteration(2, 80, changed=["src/app/routes.py", "tests/test_x.py", "README.md", "capabilities.json"]),
    ]
    settings = AnalystSettings(allowed_paths=["src/**", "tests/", "*.json"])
    analysis = analyse(now, history=history, settings=settings)
    assert analysis.decision_reason == (
        "the coder's change in iteration 2 touched files outside the allowed paths "
        "(src/**, tests/, *.json): README.md"
    )
    assert analyse(now, history=history).decision_reason is None  # empty: everything allowed


def test_allowed_path_globs() -> None:
    allowed = ["src/**/*.py", "docs/*.md", "capabilities.json", "data/"]
    paths = [
        "src/a.py",
        "src/deep/er/b.py",
        "./src/c.py",
        "src/notes.txt",
        "docs/guide.md",
        "docs/deep/guide.md",
        "capabilities.json",
        "sub/capabilities.json",
        "data/x/y.csv",
        "database.txt",
    ]
    assert outside_allowed(paths, allowed) == [
        "database.txt",
        "docs/deep/guide.md",
        "src/notes.txt",
        "sub/capabilities.json",
    ]
    assert outside_allowed(paths, []) == []


# ----------------------------------------------------------------------------------------- writing


def test_the_markdown_backlog_parses_with_the_demo_coder(tmp_path: Path) -> None:
    outcomes = [
        step(
            "partial",
            [unmet("contains", "presentation", "a tidy list\nof items")],
            scenario="restock",
            name="list",
        ),
        step("partial", [unmet("evidence", "evidence", "no sources")], scenario="restock", name="detail"),
        step(
            "needs_exact_capability",
            [unmet("contains", "presentation", "low items")],
            scenario="restock",
            name="low-items",
            error="the low_stock capability is missing",
        ),
        step(
            "partial", [unmet("route", "route", "route reorder not taken")], scenario="restock", name="order"
        ),
    ]
    analysis = analyse(outcomes)
    markdown = backlog_markdown(analysis)
    assert markdown.startswith("# Backlog\n")
    assert f"Score: {analysis.score}/100" in markdown and "Decision: none needed" in markdown

    path = tmp_path / "backlog.md"
    path.write_text(markdown, encoding="utf-8")
    items = coder.read_backlog(path)
    assert [item.category for item in items] == [item.category for item in analysis.backlog]
    assert len(items) == len(analysis.backlog) == 5
    assert (
        items[0].text
        == "restock/low-items needs a capability the assistant lacks: the low_stock capability is missing"
    )
    capabilities = dict.fromkeys((*coder.ROUTES, "cite_sources", "tidy_lists"), False)
    chosen = coder.choose_fix(items, capabilities)
    assert chosen is not None and chosen[1] == "low_stock"  # the first route item
    assert coder.choose_fix(items, {**capabilities, "low_stock": True})[1] == "reorder"


def test_the_demo_coder_fixes_the_first_route_item_from_the_written_files(tmp_path: Path) -> None:
    repo = tmp_path / "assistant"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "capabilities.json").write_text(json.dumps({"item_detail": False, "tidy_lists": False}))
    analysis = analyse(
        [
            step("partial", [unmet("contains", "presentation", "tidy")], scenario="a", name="s1"),
            step("partial", [unmet("route", "route", "item_detail not taken")], scenario="b", name="s1"),
        ]
    )
    json_path, markdown_path = write_analysis(analysis, tmp_path / "iteration-1")
    assert coder.main(["--backlog", str(markdown_path), "--repo", str(repo)]) == 0
    assert json.loads((repo / "capabilities.json").read_text())["item_detail"] is True
    assert coder.read_analysis(json_path)[0].category == "route"


def test_write_analysis_writes_both_files(tmp_path: Path) -> None:
    outcomes = [step("partial", [met(), unmet("route", "route", "low_stock")], decision=True)]
    analysis = analyse(outcomes)
    json_path, markdown_path = write_analysis(analysis, tmp_path / "out")
    assert (json_path.name, markdown_path.name) == ("analysis.json", "backlog.md")
    document = json.loads(json_path.read_text(encoding="utf-8"))
    assert list(document) == [
        "schema_version",
        "score",
        "counts",
        "backlog",
        "requires_user_decision",
        "decision_reason",
        "formula",
    ]
    assert document["schema_version"] == 1 and document["score"] == 50
    assert Analysis.model_validate(document) == analysis
    markdown = markdown_path.read_text(encoding="utf-8")
    assert markdown == backlog_markdown(analysis)
    assert "Decision: the user must decide: step step_01 of scenario stock-check needs a decision" in markdown
    assert "  Suggested change: add or fix the capability/route named low_stock" in markdown
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_an_empty_backlog_says_so() -> None:
    markdown = backlog_markdown(analyse([step("accepted")]))
    assert "Nothing to fix" in markdown
    assert "Score: 100/100" in markdown
