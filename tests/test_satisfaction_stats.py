"""Satisfaction statistics: the Wilson interval, pass^k and the comparison between two runs."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.satisfaction import (
    MAX_PASS_HAT_K,
    Comparison,
    compare,
    pass_hat_k,
    pass_hat_k_curve,
    satisfaction_of,
    wilson_interval,
)


def test_wilson_interval_of_8_in_10_is_scipys_wilson_interval() -> None:
    low, high = wilson_interval(8, 10)
    assert (low, high) == pytest.approx((0.4902, 0.9433), abs=5e-5)
    expected = scipy.stats.binomtest(8, 10).proportion_ci(confidence_level=0.95, method="wilson")
    assert (low, high) == (float(expected.low), float(expected.high))
    assert type(low) is float and type(high) is float  # plain floats, so a report is JSON


def test_wilson_interval_edges_and_confidence() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    zero_low, zero_high = wilson_interval(0, 10)
    assert zero_low == 0.0 and 0.0 < zero_high < 0.5
    all_low, all_high = wilson_interval(10, 10)
    assert 0.5 < all_low < 1.0 and all_high == pytest.approx(1.0)
    narrow, wide = wilson_interval(8, 10, 0.90), wilson_interval(8, 10, 0.99)
    assert wide[0] < narrow[0] and narrow[1] < wide[1]


@pytest.mark.parametrize(("successes", "n"), [(-1, 10), (11, 10), (0, -1)])
def test_wilson_interval_refuses_impossible_counts(successes: int, n: int) -> None:
    with pytest.raises(ValueError, match="0 <= successes <= n"):
        wilson_interval(successes, n)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 95.0])
def test_wilson_interval_refuses_a_confidence_outside_0_1(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(8, 10, confidence)


def test_pass_hat_k_known_values() -> None:
    assert pass_hat_k(8, 10, 2) == pytest.approx(28 / 45)
    assert pass_hat_k(8, 10, 1) == pytest.approx(0.8)
    assert pass_hat_k(10, 10, 8) == 1.0
    assert pass_hat_k(3, 10, 4) == 0.0  # fewer successes than draws: never all satisfied


def test_pass_hat_k_curve_is_keyed_by_k_up_to_min_n_8() -> None:
    curve = pass_hat_k_curve(8, 10)
    assert list(curve) == [str(k) for k in range(1, MAX_PASS_HAT_K + 1)]
    assert curve["2"] == pytest.approx(28 / 45)
    assert list(pass_hat_k_curve(2, 3)) == ["1", "2", "3"]
    assert pass_hat_k_curve(0, 0) == {}


@pytest.mark.parametrize("k", [0, 11])
def test_pass_hat_k_refuses_k_outside_1_n(k: int) -> None:
    with pytest.raises(ValueError, match="k must be between 1 and n"):
        pass_hat_k(8, 10, k)


@given(st.integers(min_value=1, max_value=60).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_pass_hat_k_starts_at_the_pass_rate_and_never_rises(counts: tuple[int, int]) -> None:
    c, n = counts
    curve = pass_hat_k_curve(c, n)
    assert curve["1"] == pytest.approx(c / n)
    values = list(curve.values())
    assert all(later <= earlier + 1e-12 for earlier, later in pairwise(values))
    assert all(0.0 <= value <= 1.0 for value in values)


def test_satisfaction_of() -> None:
    assert satisfaction_of(7, 10) == 0.7
    assert satisfaction_of(0, 0) is None


def test_a_collapse_from_10_in_10_to_2_in_10_is_a_regression() -> None:
    comparison = compare(10, 10, 2, 10)
    assert comparison is not None
    assert comparison.verdict == "regressed"
    assert comparison.test == "boschloo"
    assert comparison.p_value < 0.05
    assert comparison.delta == pytest.approx(-0.8)
    expected = scipy.stats.boschloo_exact([[10, 2], [0, 8]], alternative="two-sided").pvalue
    assert comparison.p_value == pytest.approx(float(expected))
    improved = compare(2, 10, 10, 10)
    assert improved is not None and improved.verdict == "improved" and improved.delta == pytest.approx(0.8)


def test_8_in_10_then_7_in_10_is_unchanged() -> None:
    comparison = compare(8, 10, 7, 10)
    assert comparison is not None
    assert comparison.verdict == "unchanged"
    assert comparison.test == "boschloo"
    assert comparison.p_value > 0.05
    assert comparison.delta == pytest.approx(-0.1)


@pytest.mark.parametrize(("satisfied", "n"), [(10, 10), (0, 10)])
def test_a_degenerate_table_falls_back_to_fisher(satisfied: int, n: int) -> None:
    comparison = compare(satisfied, n, satisfied, n)
    assert comparison == Comparison(delta=0.0, p_value=1.0, test="fisher", verdict="unchanged")


def test_alpha_decides_the_verdict() -> None:
    loose = compare(8, 10, 7, 10, alpha=0.9)
    assert loose is not None and loose.verdict == "regressed"


def test_no_comparison_without_trajectories_on_either_side() -> None:
    assert compare(0, 0, 5, 10) is None
    assert compare(5, 10, 0, 0) is None


def test_large_tables_use_fisher_with_scipys_p_value() -> None:
    comparison = compare(300, 400, 250, 400)
    assert comparison is not None
    assert comparison.test == "fisher"
    expected = scipy.stats.fisher_exact([[300, 250], [100, 150]], alternative="two-sided").pvalue
    assert comparison.p_value == pytest.approx(float(expected))
    assert comparison.verdict == "regressed"


@pytest.mark.parametrize("failure", ["raises", "nan"])
def test_boschloo_failing_falls_back_to_fisher(monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    class NanResult:
        pvalue = math.nan
        statistic = math.nan

    def broken(*_args: object, **_kwargs: object) -> NanResult:
        if failure == "raises":
            raise ValueError("did not converge")
        return NanResult()

    monkeypatch.setattr(scipy.stats, "boschloo_exact", broken)
    comparison = compare(10, 10, 2, 10)
    assert comparison is not None
    assert comparison.test == "fisher"
    expected = scipy.stats.fisher_exact([[10, 2], [0, 8]], alternative="two-sided").pvalue
    assert comparison.p_value == pytest.approx(float(expected))
    assert comparison.verdict == "regressed"


def test_compare_refuses_impossible_counts_and_alpha() -> None:
    with pytest.raises(ValueError, match="0 <= successes <= n"):
        compare(11, 10, 5, 10)
    with pytest.raises(ValueError, match="alpha"):
        compare(8, 10, 7, 10, alpha=0.0)
