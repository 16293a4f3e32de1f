"""The analyst's rules: a score, a backlog and whether the loop must stop for the user.

Pure functions of the step outcomes, the earlier iterations and the settings: the same input always
gives the same analysis, so two runs of the loop can be compared line by line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

from orchestrator.agents.analyst._model import (
    Analysis,
    AnalystSettings,
    BacklogItem,
    ExpectationResult,
    IterationHistory,
    StatusCounts,
    StepOutcome,
)
from orchestrator.packs import ExpectCategory

__all__ = [
    "FORMULA",
    "analyse",
    "build_backlog",
    "count_statuses",
    "decision_reason",
    "outside_allowed",
    "score",
    "step_credit",
]

FORMULA = (
    "score = round-half-up(100 * mean over steps of credit); credit: accepted 1, partial met/total, "
    "needs_exact_capability 0.25 * met/total, blocked 0 (met/total is 0 without expectations); no steps: 0"
)
"""The score formula, as written into every analysis."""

_CATEGORY_ORDER: dict[ExpectCategory, int] = {"route": 0, "evidence": 1, "presentation": 2}
# A route is usually named as a snake_case word (low_stock); "quoted" text is the next best guess.
_SNAKE_WORD = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b")
_QUOTED = re.compile(r"[\"'`]([^\"'`]+)[\"'`]")


def _fraction_met(expectations: Sequence[ExpectationResult]) -> float:
    if not expectations:
        return 0.0
    return sum(1 for result in expectations if result.met) / len(expectations)


def step_credit(outcome: StepOutcome) -> float:
    """What one step adds to the score, between 0 and 1 (see :data:`FORMULA`)."""
    if outcome.status == "accepted":
        return 1.0
    if outcome.status == "partial":
        return _fraction_met(outcome.expectations)
    if outcome.status == "needs_exact_capability":
        return 0.25 * _fraction_met(outcome.expectations)
    return 0.0


def score(outcomes: Sequence[StepOutcome]) -> int:
    """The 0-100 score of a run: the mean step credit, in percent, rounded half up; 0 without steps."""
    if not outcomes:
        return 0
    mean = math.fsum(step_credit(outcome) for outcome in outcomes) / len(outcomes)
    # Half up, not Python's half-to-even: 62.5 is 63 every time, as people expect.
    return min(100, max(0, math.floor(100 * mean + 0.5)))


def count_statuses(outcomes: Iterable[StepOutcome]) -> StatusCounts:
    """How many steps ended with each status."""
    totals = {"accepted": 0, "partial": 0, "needs_exact_capability": 0, "blocked": 0}
    for outcome in outcomes:
        totals[outcome.status] += 1
    return StatusCounts(**totals)


def _capability_name(text: str) -> str:
    """The capability or route ``text`` names: its first snake_case word, else quoted text, else all of it."""
    if match := _SNAKE_WORD.search(text):
        return match.group(0)
    if match := _QUOTED.search(text):
        return match.group(1)
    return text


def _expectation_item(outcome: StepOutcome, result: ExpectationResult) -> BacklogItem:
    if result.category == "route":
        change = f"add or fix the capability/route named {_capability_name(result.detail)}"
    elif result.category == "evidence":
        change = "cite the sources the answer used"
    else:
        change = f"present the answer as the {result.kind} expectation asks: {result.detail}"
    return BacklogItem(
        scenario=outcome.scenario,
        step=outcome.step,
        category=result.category,
        problem=f"{result.kind} expectation not met: {result.detail}",
        evidence=list(outcome.evidence_paths),
        suggested_change=change,
    )


def _step_item(outcome: StepOutcome) -> BacklogItem | None:
    """The route item a blocked step, or a step needing a missing capability, adds on its own."""
    unmet = [result for result in outcome.expectations if not result.met]
    if outcome.status == "blocked":
        problem = outcome.error or "the step was blocked before it could be answered"
        change = f"make the step answerable: {problem}"
    elif outcome.status == "needs_exact_capability" and not any(r.category == "route" for r in unmet):
        named = outcome.error or "; ".join(result.detail for result in unmet) or outcome.step
        problem = f"needs a capability the assistant lacks: {named}"
        change = f"add or fix the capability/route named {_capability_name(named)}"
    else:
        return None
    return BacklogItem(
        scenario=outcome.scenario,
        step=outcome.step,
        category="route",
        problem=problem,
        evidence=list(outcome.evidence_paths),
        suggested_change=change,
    )


def build_backlog(outcomes: Sequence[StepOutcome]) -> list[BacklogItem]:
    """Every item to fix: route items, then evidence, then presentation; each by scenario, then step.

    Within one step the step's own item (blocked, missing capability) comes first, then its unmet
    expectations in the order the scenario lists them.
    """
    items: list[BacklogItem] = []
    for outcome in outcomes:
        if (own := _step_item(outcome)) is not None:
            items.append(own)
        items.extend(_expectation_item(outcome, r) for r in outcome.expectations if not r.met)
    # A stable sort: items of one step keep the order they were added in.
    return sorted(items, key=lambda item: (_CATEGORY_ORDER[item.category], item.scenario, item.step))


def _glob_parts_match(path: Sequence[str], pattern: Sequence[str]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_glob_parts_match(path[skip:], rest) for skip in range(len(path) + 1))
    return bool(path) and fnmatchcase(path[0], head) and _glob_parts_match(path[1:], rest)


def _parts(path: str) -> list[str]:
    return [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]


def outside_allowed(paths: Iterable[str], allowed: Sequence[str]) -> list[str]:
    """The ``paths`` no pattern of ``allowed`` matches, sorted; none when ``allowed`` is empty.

    ``**`` matches any number of folders, ``*`` and ``?`` stay within one name, and a pattern
    ending in ``/`` matches everything below that folder.
    """
    if not allowed:
        return []
    patterns = [_parts(p + "**" if p.endswith("/") else p) for p in allowed]
    return sorted({path for path in paths if not any(_glob_parts_match(_parts(path), p) for p in patterns)})


def _decision_step_reason(outcomes: Sequence[StepOutcome]) -> str | None:
    for outcome in outcomes:
        if outcome.decision and outcome.status != "accepted":
            unmet = "; ".join(result.detail for result in outcome.expectations if not result.met)
            why = outcome.error or unmet or "no expectation says why"
            return (
                f"step {outcome.step} of scenario {outcome.scenario} needs a decision: "
                f"it ended {outcome.status} ({why})"
            )
    return None


def _stall_reason(current: int, history: Sequence[IterationHistory], limit: int) -> str | None:
    coder_runs = [iteration for iteration in history if iteration.coder_exit_code is not None]
    if limit < 1 or len(coder_runs) < limit:
        return None
    window = coder_runs[-limit:]
    # Each coder run follows its iteration's scoring, so the first run's iteration holds the score before.
    before = window[0].score
    if current > before:
        return None
    after = ", ".join(str(iteration.n) for iteration in window)
    return (
        f"the last {limit} coder runs (after iterations {after}) did not raise the score: "
        f"{before} before them, {current} now"
    )


def _fall_reason(current: int, history: Sequence[IterationHistory]) -> str | None:
    if not history:
        return None
    last = history[-1]
    if last.coder_exit_code is None or current >= last.score:
        return None
    return f"the score fell from {last.score} to {current} after the coder's change in iteration {last.n}"


def _paths_reason(history: Sequence[IterationHistory], allowed: Sequence[str]) -> str | None:
    coder_runs = [iteration for iteration in history if iteration.coder_exit_code is not None]
    if not coder_runs:
        return None
    outside = outside_allowed(coder_runs[-1].coder_changed_paths, allowed)
    if not outside:
        return None
    return (
        f"the coder's change in iteration {coder_runs[-1].n} touched files outside the allowed paths "
        f"({', '.join(allowed)}): {', '.join(outside)}"
    )


def decision_reason(
    outcomes: Sequence[StepOutcome],
    current: int,
    history: Sequence[IterationHistory],
    settings: AnalystSettings,
) -> str | None:
    """Why the loop must stop for the user, or None; the first rule that applies wins.

    In order: a decision step that is not accepted; the last ``stall_limit`` coder runs left the
    score at or below where it was before them; the score fell after the last coder run; the last
    coder run changed files outside ``allowed_paths``.
    """
    ordered = sorted(history, key=lambda iteration: iteration.n)
    return (
        _decision_step_reason(outcomes)
        or _stall_reason(current, ordered, settings.stall_limit)
        or _fall_reason(current, ordered)
        or _paths_reason(ordered, settings.allowed_paths)
    )


def analyse(
    outcomes: Sequence[StepOutcome],
    *,
    history: Sequence[IterationHistory] = (),
    settings: AnalystSettings | None = None,
) -> Analysis:
    """Score the steps of one iteration, list what to fix and say whether the user must decide."""
    settings = settings if settings is not None else AnalystSettings()
    current = score(outcomes)
    reason = decision_reason(outcomes, current, history, settings)
    return Analysis(
        score=current,
        counts=count_statuses(outcomes),
        backlog=build_backlog(outcomes),
        requires_user_decision=reason is not None,
        decision_reason=reason,
        formula=FORMULA,
    )
