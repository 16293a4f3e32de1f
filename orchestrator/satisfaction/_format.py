"""How report values read in the Markdown report, the JUnit file and the terminal table.

One set of phrasings, so a number reads the same wherever a user meets it. Every function takes
a value from a report document (possibly ``None``) and returns plain text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "UNJUDGED_HINT",
    "comparison_text",
    "interval_text",
    "largest_pass_hat_k",
    "reasons_text",
    "result_text",
    "share_text",
    "unjudged_hint",
]

UNJUDGED_HINT = (
    "{count} {trajectories} could not be judged: text criteria need a model; "
    "set [llm] model in orchestrate.toml (see README)"
)


def share_text(value: float | None) -> str:
    """A share as two decimals (``0.80``), or ``n/a`` when nothing was measured."""
    return "n/a" if value is None else f"{value:.2f}"


def interval_text(interval: Sequence[float] | None) -> str:
    """An interval as ``0.49-0.94``."""
    if not interval or len(interval) != 2:
        return "n/a"
    return f"{interval[0]:.2f}-{interval[1]:.2f}"


def result_text(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def largest_pass_hat_k(curve: Mapping[str, float] | None) -> tuple[int, float] | None:
    """The pass^k with the largest k of a report's ``pass_hat_k`` mapping, as ``(k, value)``."""
    if not curve:
        return None
    k = max(int(key) for key in curve)
    return k, curve[str(k)]


def comparison_text(
    comparison: Mapping[str, Any] | None, *, long: bool = False, quote: Callable[[str], str] = str
) -> str:
    """``regressed (-0.80, p=0.0002, boschloo test)``; ``long`` adds the previous run's id.

    The values come from a report file a user can edit, so each is passed through ``quote`` (the
    escaping of the output format) before it is placed in the text.
    """
    if not comparison:
        return "no previous run" if long else "-"
    delta = comparison.get("delta")
    change = f"{delta:+.2f}" if isinstance(delta, int | float) else "n/a"
    text = f"{quote(str(comparison.get('verdict')))} ({change}, p={_p_text(comparison.get('p_value'))}"
    text += f", {quote(str(comparison.get('test')))} test"
    if long and comparison.get("previous_run"):
        text += f", vs run {quote(str(comparison['previous_run']))}"
    return text + ")"


def reasons_text(reasons: Sequence[Mapping[str, Any]] | None, *, limit: int = 3) -> str:
    """The first ``limit`` of a ``top_unmet`` or ``anti_patterns`` list: ``label (3), other (1)``."""
    return ", ".join(f"{entry.get('criterion')} ({entry.get('count')})" for entry in (reasons or [])[:limit])


def unjudged_hint(count: int) -> str | None:
    """The hint a report shows when trajectories could not be judged, or ``None`` when all were."""
    if count <= 0:
        return None
    return UNJUDGED_HINT.format(count=count, trajectories="trajectory" if count == 1 else "trajectories")


def _p_text(p_value: Any) -> str:
    if not isinstance(p_value, int | float):
        return "n/a"
    return f"{p_value:.2g}" if p_value < 0.001 else f"{p_value:.3f}"
