"""A domain step's answer against its expectations, and the status the step ends with.

Each expect item becomes an :class:`~orchestrator.agents.analyst.ExpectationResult` (met or not,
with a detail that says what was expected and what was seen). The step's status follows the
rules of the improvement loop: ``blocked`` when there was no usable answer (decided before the
checks run), ``needs_exact_capability`` when the answer says a capability is missing (the
mapped field, or the configured text pattern) or a ``route`` expectation names a route the
answer did not take, ``accepted`` when every expectation holds, else ``partial``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import jsonpath
import orjson

from orchestrator.agents.analyst import ExpectationResult
from orchestrator.assistant_api import AssistantReply
from orchestrator.packs import (
    ContainsExpect,
    EvidenceExpect,
    ExpectItem,
    MaxMsExpect,
    NotContainsExpect,
    PathExpect,
    RouteExpect,
    StepStatus,
    expect_kind,
)
from orchestrator.scenarios import count_holds, json_equal

__all__ = ["capability_signalled", "check_expectations", "step_status"]

_SHOWN = 120


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _upper(bound: int | None) -> str:
    return "∞" if bound is None else str(bound)


def _result(item: ExpectItem, met: bool, detail: str) -> ExpectationResult:
    return ExpectationResult(
        kind=expect_kind(item) or "unknown", category=item.effective_category, met=met, detail=detail
    )


def _path(item: PathExpect, data: Any) -> ExpectationResult:
    try:
        matches = jsonpath.findall(item.path, data) if data is not None else []
    except jsonpath.JSONPathError as exc:  # checked when the file was read; kept for safety
        return _result(item, False, f"{item.path} could not be evaluated: {exc}")
    if item.test == "exists":
        found = bool(matches)
        want = "something" if item.exists else "nothing"
        return _result(item, found is item.exists, f"{item.path}: expected {want}, found {len(matches)}")
    if item.test == "count":
        assert item.count is not None
        wanted = (
            str(item.count)
            if isinstance(item.count, int)
            else f"{item.count.min if item.count.min is not None else 0}..{_upper(item.count.max)}"
        )
        return _result(
            item, count_holds(item.count, len(matches)), f"{item.path}: {len(matches)} found, wanted {wanted}"
        )
    if not matches:
        return _result(item, False, f"{item.path}: nothing there, wanted {_shown(item.equals)}")
    return _result(
        item,
        json_equal(matches[0], item.equals),
        f"{item.path}: {_shown(matches[0])}, wanted {_shown(item.equals)}",
    )


def _one(item: ExpectItem, reply: AssistantReply, elapsed_ms: float) -> ExpectationResult:
    text = reply.text or ""
    if isinstance(item, ContainsExpect):
        met = item.contains.casefold() in text.casefold()
        return _result(item, met, f"answer {'contains' if met else 'lacks'} {item.contains!r}")
    if isinstance(item, NotContainsExpect):
        met = item.not_contains.casefold() not in text.casefold()
        return _result(item, met, f"answer {'does not contain' if met else 'contains'} {item.not_contains!r}")
    if isinstance(item, PathExpect):
        return _path(item, reply.data)
    if isinstance(item, RouteExpect):
        # The wanted route is named first: the analyst takes the first route-like word as the fix.
        detail = f"wanted route {item.route}, answered by {reply.route or 'no route'}"
        return _result(item, reply.route == item.route, detail)
    if isinstance(item, EvidenceExpect):
        count = len(reply.sources)
        detail = f"{count} source(s) cited, wanted at least {item.evidence}"
        return _result(item, count >= item.evidence, detail)
    if isinstance(item, MaxMsExpect):
        return _result(
            item, elapsed_ms <= item.max_ms, f"answered in {elapsed_ms:.0f} ms, limit {item.max_ms} ms"
        )
    raise AssertionError(f"unknown expect item {item!r}")


def check_expectations(
    expect: Sequence[ExpectItem], reply: AssistantReply, elapsed_ms: float
) -> list[ExpectationResult]:
    """Every expect item of a step checked against its answer, in the order written."""
    return [_one(item, reply, elapsed_ms) for item in expect]


def capability_signalled(reply: AssistantReply, pattern: str | None) -> bool:
    """Whether the answer says the exact capability is missing (its field, or text matching ``pattern``)."""
    if reply.capability_missing:
        return True
    return bool(pattern and reply.text and re.search(pattern, reply.text))


def step_status(
    expect: Sequence[ExpectItem], results: Sequence[ExpectationResult], *, capability_missing: bool
) -> StepStatus:
    """The status of an answered step (see the module docstring)."""
    wrong_route = any(
        isinstance(item, RouteExpect) and not result.met for item, result in zip(expect, results, strict=True)
    )
    if capability_missing or wrong_route:
        return "needs_exact_capability"
    return "accepted" if all(result.met for result in results) else "partial"
