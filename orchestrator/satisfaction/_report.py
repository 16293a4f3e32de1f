"""The satisfaction report of a run: per scenario, per domain and overall, as one JSON document.

:func:`build_report` turns the outcome of every trajectory (built by the pipeline from the
trajectory and judgment files) into the ``latest.json`` document. It is a pure function: the same
input gives the same document, key order included, except ``generated_at``.

How it counts, and why:

- **Satisfaction** is satisfied / trajectories. An unjudged trajectory (a text criterion with no
  model to judge it) counts as not satisfied, so a missing judge can never raise satisfaction; the
  ``unjudged`` count is reported beside it so a reader sees why. An errored or timed-out trajectory
  is judged unsatisfactory upstream, and ``errored`` counts them.
- **Per scenario**: a 95% Wilson interval, pass^k for k = 1 .. min(n, 8), the split between
  trajectories with and without injected chaos, the threshold (scenario file > policy scenario >
  policy domain > global) and whether it is met, the most common unmet criteria and matched
  anti-patterns, and the comparison with the same scenario in the previous report.
- **Per domain**: the mean of its scenarios' satisfaction (each scenario weighs the same, however
  many trajectories it ran) against the domain's threshold.
- **Overall**: weighted by trajectories (all satisfied / all trajectories) against the global
  threshold, compared with the previous report's overall counts.

A scenario listed in ``scenarios`` with no trajectory is reported with ``satisfaction`` null and
does not pass: there is nothing to show it works. Outcomes of a scenario missing from
``scenarios`` are still counted, under the domain the outcomes name, with ``version`` null.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orchestrator.policy.satisfaction import SatisfactionPolicy, domain_threshold, threshold_for
from orchestrator.satisfaction._stats import (
    compare,
    pass_hat_k_curve,
    satisfaction_of,
    wilson_interval,
)

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "TOP_REASONS",
    "VERDICTS",
    "ScenarioInfo",
    "TrajectoryOutcome",
    "build_report",
]

REPORT_SCHEMA_VERSION = 1
TOP_REASONS = 5
"""How many unmet criteria and anti-patterns a scenario lists, most common first."""
VERDICTS = ("satisfactory", "unsatisfactory", "unjudged")

# Shares are ratios of small integers (or means of them), so 0.8 may come out as 0.7999999999999999;
# a threshold is met within this tolerance.
_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class TrajectoryOutcome:
    """One trajectory as the report counts it: its status, its verdict and why."""

    trajectory_id: str
    scenario_id: str
    domain: str
    status: str
    """``completed``, ``errored`` or ``timed_out``; anything but ``completed`` counts as errored."""
    verdict: str
    """``satisfactory``, ``unsatisfactory`` or ``unjudged``."""
    chaos_injected: bool
    criteria_unmet: tuple[str, ...] = ()
    """Labels of the criteria the trajectory did not meet."""
    anti_patterns_matched: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(
                f"trajectory {self.trajectory_id!r}: verdict must be one of {', '.join(VERDICTS)}, "
                f"got {self.verdict!r}"
            )


@dataclass(frozen=True, slots=True)
class ScenarioInfo:
    """What the report needs from a scenario file: its domain, version and own threshold, if any."""

    id: str
    domain: str
    version: int | None = 1
    threshold: float | None = None


@dataclass(slots=True)
class _Counts:
    trajectories: int = 0
    satisfied: int = 0

    def add(self, satisfied: bool) -> None:
        self.trajectories += 1
        self.satisfied += int(satisfied)

    def to_json(self) -> dict[str, Any]:
        return {
            "trajectories": self.trajectories,
            "satisfied": self.satisfied,
            "satisfaction": satisfaction_of(self.satisfied, self.trajectories),
        }


@dataclass(slots=True)
class _Tally:
    """Everything counted for one scenario (or the whole run)."""

    all: _Counts = field(default_factory=_Counts)
    with_chaos: _Counts = field(default_factory=_Counts)
    without_chaos: _Counts = field(default_factory=_Counts)
    unjudged: int = 0
    errored: int = 0
    unmet: Counter[str] = field(default_factory=Counter)
    anti_patterns: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: TrajectoryOutcome) -> None:
        satisfied = outcome.verdict == "satisfactory"
        self.all.add(satisfied)
        (self.with_chaos if outcome.chaos_injected else self.without_chaos).add(satisfied)
        self.unjudged += outcome.verdict == "unjudged"
        self.errored += outcome.status != "completed"
        # A criterion counts once per trajectory, however often a judge listed it.
        self.unmet.update(set(outcome.criteria_unmet))
        self.anti_patterns.update(set(outcome.anti_patterns_matched))


def build_report(
    run_id: str,
    outcomes: Iterable[TrajectoryOutcome],
    scenarios: Sequence[ScenarioInfo],
    policy: SatisfactionPolicy,
    previous: Mapping[str, Any] | None,
    *,
    judge_summary: Mapping[str, Any] | None = None,
    usage: Mapping[str, Any] | None = None,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The ``latest.json`` document of run ``run_id`` (see the module docstring for what it holds).

    ``previous`` is the previous run's document (or ``None``); ``judge_summary`` and ``usage`` are
    copied in as ``judge`` and ``usage``. ``generated_at`` defaults to now, in UTC.
    """
    infos = {info.id: info for info in scenarios}
    tallies: dict[str, _Tally] = {info.id: _Tally() for info in scenarios}
    total = _Tally()
    for outcome in outcomes:
        if outcome.scenario_id not in infos:
            infos[outcome.scenario_id] = ScenarioInfo(outcome.scenario_id, outcome.domain, None, None)
            tallies[outcome.scenario_id] = _Tally()
        tallies[outcome.scenario_id].add(outcome)
        total.add(outcome)

    previous_run, previous_overall, previous_scenarios = _previous_counts(previous)
    ordered = sorted(infos.values(), key=lambda info: (info.domain, info.id))
    scenario_docs = [
        _scenario_doc(info, tallies[info.id], policy, previous_run, previous_scenarios.get(info.id))
        for info in ordered
    ]
    overall = _overall_doc(total, scenario_docs, policy, previous_run, previous_overall)
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "run_id": run_id,
        "generated_at": (generated_at or datetime.now(UTC)).isoformat(),
        "overall": overall,
        "domains": _domain_docs(scenario_docs, policy),
        "scenarios": scenario_docs,
        "judge": dict(judge_summary) if judge_summary is not None else None,
        "usage": dict(usage) if usage is not None else None,
    }


def _scenario_doc(
    info: ScenarioInfo,
    tally: _Tally,
    policy: SatisfactionPolicy,
    previous_run: str | None,
    previous: tuple[int, int] | None,
) -> dict[str, Any]:
    counts = tally.all
    satisfaction = satisfaction_of(counts.satisfied, counts.trajectories)
    threshold = threshold_for(
        policy, scenario_id=info.id, domain=info.domain, scenario_threshold=info.threshold
    )
    return {
        "id": info.id,
        "domain": info.domain,
        "version": info.version,
        "trajectories": counts.trajectories,
        "satisfied": counts.satisfied,
        "unjudged": tally.unjudged,
        "errored": tally.errored,
        "satisfaction": satisfaction,
        "ci95": list(wilson_interval(counts.satisfied, counts.trajectories)),
        "pass_hat_k": pass_hat_k_curve(counts.satisfied, counts.trajectories),
        "with_chaos": tally.with_chaos.to_json(),
        "without_chaos": tally.without_chaos.to_json(),
        "threshold": threshold,
        "passed": _meets(satisfaction, threshold),
        "top_unmet": _top(tally.unmet),
        "anti_patterns": _top(tally.anti_patterns),
        "comparison": _comparison_doc(previous_run, previous, counts),
    }


def _overall_doc(
    total: _Tally,
    scenario_docs: list[dict[str, Any]],
    policy: SatisfactionPolicy,
    previous_run: str | None,
    previous: tuple[int, int] | None,
) -> dict[str, Any]:
    counts = total.all
    satisfaction = satisfaction_of(counts.satisfied, counts.trajectories)
    return {
        "trajectories": counts.trajectories,
        "satisfied": counts.satisfied,
        "unjudged": total.unjudged,
        "errored": total.errored,
        "satisfaction": satisfaction,
        "ci95": list(wilson_interval(counts.satisfied, counts.trajectories)),
        "threshold": policy.global_threshold,
        "passed": _meets(satisfaction, policy.global_threshold),
        "with_chaos": total.with_chaos.to_json(),
        "without_chaos": total.without_chaos.to_json(),
        "scenarios": len(scenario_docs),
        "scenarios_failed": [doc["id"] for doc in scenario_docs if not doc["passed"]],
        "comparison": _comparison_doc(previous_run, previous, counts),
    }


def _domain_docs(scenario_docs: list[dict[str, Any]], policy: SatisfactionPolicy) -> dict[str, Any]:
    by_domain: dict[str, list[dict[str, Any]]] = {}
    for doc in scenario_docs:
        by_domain.setdefault(doc["domain"], []).append(doc)
    domains: dict[str, Any] = {}
    for name in sorted(by_domain):
        docs = by_domain[name]
        measured = [doc["satisfaction"] for doc in docs if doc["satisfaction"] is not None]
        satisfaction = math.fsum(measured) / len(measured) if measured else None
        threshold = domain_threshold(policy, name)
        domains[name] = {
            "satisfaction": satisfaction,
            "threshold": threshold,
            "passed": _meets(satisfaction, threshold),
            "scenarios": len(docs),
            "scenarios_passed": sum(1 for doc in docs if doc["passed"]),
            "trajectories": sum(doc["trajectories"] for doc in docs),
            "satisfied": sum(doc["satisfied"] for doc in docs),
        }
    return domains


def _comparison_doc(
    previous_run: str | None, previous: tuple[int, int] | None, current: _Counts
) -> dict[str, Any] | None:
    if previous is None:
        return None
    prev_satisfied, prev_n = previous
    comparison = compare(prev_satisfied, prev_n, current.satisfied, current.trajectories)
    if comparison is None:
        return None
    return {
        "previous_run": previous_run,
        "previous_trajectories": prev_n,
        "previous_satisfied": prev_satisfied,
        "delta": comparison.delta,
        "p_value": comparison.p_value,
        "test": comparison.test,
        "verdict": comparison.verdict,
    }


def _previous_counts(
    previous: Mapping[str, Any] | None,
) -> tuple[str | None, tuple[int, int] | None, dict[str, tuple[int, int]]]:
    """The previous run's id, overall counts and counts per scenario id, ignoring malformed parts.

    The previous report is a file on disk that a user may have edited; a part of it that does not
    have the shape we write is left out of the comparison rather than failing the report.
    """
    if not isinstance(previous, Mapping):
        return None, None, {}
    run_id = previous.get("run_id")
    previous_run = run_id if isinstance(run_id, str) else None
    per_scenario: dict[str, tuple[int, int]] = {}
    entries = previous.get("scenarios")
    for entry in entries if isinstance(entries, list) else []:
        counts = _counts_of(entry)
        if counts is not None and isinstance(entry.get("id"), str):
            per_scenario.setdefault(entry["id"], counts)
    return previous_run, _counts_of(previous.get("overall")), per_scenario


def _counts_of(entry: Any) -> tuple[int, int] | None:
    if not isinstance(entry, Mapping):
        return None
    satisfied, trajectories = entry.get("satisfied"), entry.get("trajectories")
    if type(satisfied) is not int or type(trajectories) is not int or not 0 <= satisfied <= trajectories:
        return None  # bool is an int subclass; type() keeps `true` out
    return satisfied, trajectories


def _top(counter: Counter[str]) -> list[dict[str, Any]]:
    """``[{criterion, count}]``, most common first (anti-patterns too: one shape for both lists)."""
    # Equal counts by label, so the same input always lists the same way.
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]
    return [{"criterion": label, "count": count} for label, count in ranked]


def _meets(satisfaction: float | None, threshold: float) -> bool:
    return satisfaction is not None and satisfaction + _TOLERANCE >= threshold
