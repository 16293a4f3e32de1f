"""The statistics of satisfaction: an interval, pass^k and a test between two runs.

Satisfaction is a share of successes (satisfactory trajectories) among trials, so:

- :func:`wilson_interval` is the Wilson score interval from ``scipy.stats.binomtest``: unlike the
  normal approximation it stays inside 0..1 and keeps its coverage at the small counts a scenario
  has (10 trajectories, say).
- :func:`pass_hat_k` is the chance that ``k`` trajectories drawn from the ``n`` observed are all
  satisfactory, ``C(c, k) / C(n, k)``: the unbiased estimate of "works every time, k times in a
  row" from ``c`` successes, which drops fast when a scenario is flaky even with a high pass rate.
- :func:`compare` tests whether two runs' satisfaction differs on the 2x2 table of their counts
  with Boschloo's exact test (unconditional, so more powerful than Fisher's at small counts), and
  falls back to Fisher's exact test where Boschloo's cannot answer: a margin that is all
  successes or all failures in both runs, a numerical failure, or a table so large that
  Boschloo's search over the nuisance parameter would take seconds (there the two agree closely).
  The answer names the test used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

__all__ = [
    "CONFIDENCE",
    "MAX_PASS_HAT_K",
    "Comparison",
    "ComparisonTest",
    "ComparisonVerdict",
    "compare",
    "pass_hat_k",
    "pass_hat_k_curve",
    "satisfaction_of",
    "wilson_interval",
]

CONFIDENCE = 0.95
"""The confidence level of every interval in a report."""
MAX_PASS_HAT_K = 8
"""pass^k is reported for k = 1 .. min(n, this)."""

ComparisonTest = Literal["boschloo", "fisher"]
ComparisonVerdict = Literal["improved", "regressed", "unchanged"]

# Boschloo's test evaluates every table with the same column sums, (n1 + 1) * (n2 + 1) of them, at
# each point of its search; at about 200 trajectories a side it takes a fifth of a second, and it
# grows with the product. Above this, Fisher's exact test answers in a millisecond.
_BOSCHLOO_MAX_TABLES = 201 * 201


@dataclass(frozen=True, slots=True)
class Comparison:
    """How the current run's satisfaction compares with the previous run's."""

    delta: float
    """Current satisfaction minus previous satisfaction (-1 .. 1)."""
    p_value: float
    """Two-sided p-value of ``test`` for "both runs have the same satisfaction"."""
    test: ComparisonTest
    verdict: ComparisonVerdict
    """``improved`` / ``regressed`` (by the sign of ``delta``) when ``p_value < alpha``, else unchanged."""


def satisfaction_of(satisfied: int, trajectories: int) -> float | None:
    """``satisfied / trajectories``, or ``None`` when there are no trajectories to measure."""
    _check_counts(satisfied, trajectories)
    return satisfied / trajectories if trajectories else None


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of ``successes / n`` at ``confidence``; ``(0.0, 1.0)`` when n is 0."""
    _check_counts(successes, n)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    if n == 0:
        return (0.0, 1.0)
    interval = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(interval.low), float(interval.high))


def pass_hat_k(c: int, n: int, k: int) -> float:
    """The chance that ``k`` of ``n`` trajectories, ``c`` of them satisfactory, drawn at once all are."""
    _check_counts(c, n)
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and n ({n}), got {k}")
    return math.comb(c, k) / math.comb(n, k)


def pass_hat_k_curve(c: int, n: int, max_k: int = MAX_PASS_HAT_K) -> dict[str, float]:
    """pass^k for k = 1 .. min(n, max_k), keyed by ``str(k)`` (empty when n is 0)."""
    return {str(k): pass_hat_k(c, n, k) for k in range(1, min(n, max_k) + 1)}


def compare(
    prev_satisfied: int, prev_n: int, cur_satisfied: int, cur_n: int, alpha: float = 0.05
) -> Comparison | None:
    """Test current satisfaction against previous; ``None`` when either run has no trajectories."""
    _check_counts(prev_satisfied, prev_n)
    _check_counts(cur_satisfied, cur_n)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1 (exclusive), got {alpha}")
    if prev_n == 0 or cur_n == 0:
        return None
    # Columns are the two runs (the samples whose sizes are fixed), rows are satisfied / not.
    table = np.array([[prev_satisfied, cur_satisfied], [prev_n - prev_satisfied, cur_n - cur_satisfied]])
    test, p_value = _two_sided_p(table, prev_n, cur_n)
    delta = cur_satisfied / cur_n - prev_satisfied / prev_n
    verdict: ComparisonVerdict = "unchanged"
    if p_value < alpha and delta != 0:
        verdict = "improved" if delta > 0 else "regressed"
    return Comparison(delta=delta, p_value=p_value, test=test, verdict=verdict)


def _two_sided_p(table: np.ndarray[Any, Any], prev_n: int, cur_n: int) -> tuple[ComparisonTest, float]:
    degenerate = bool((table.sum(axis=1) == 0).any())
    if not degenerate and (prev_n + 1) * (cur_n + 1) <= _BOSCHLOO_MAX_TABLES:
        try:
            p_value = float(stats.boschloo_exact(table, alternative="two-sided").pvalue)
        except (ValueError, ArithmeticError):
            p_value = math.nan
        if math.isfinite(p_value):
            return "boschloo", min(max(p_value, 0.0), 1.0)
    p_value = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
    # Fisher's test of a table with an empty margin is 1 by definition; keep the report valid JSON.
    return "fisher", min(max(p_value, 0.0), 1.0) if math.isfinite(p_value) else 1.0


def _check_counts(successes: int, n: int) -> None:
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"counts must satisfy 0 <= successes <= n, got {successes} of {n}")
