"""The rule judge: structured criteria checked against a trajectory file, without a model.

Everything a rule needs is in the trajectory: the twins' final state (``final_state["twins"]``,
entity name to records), the requests they served (``api_call`` events) and each step's
outcome. Every check answers a :class:`RuleResult`: whether it holds and a detail saying what was
found, which the judgment's reasoning repeats ("jira state $.issues[*] count 1: found 2").

- ``twin_state``: a JSONPath (python-jsonpath) over one twin's whole state; ``equals``: the
  first match equals the value; ``contains``: the first match, text or list, contains it;
  ``exists``: something matches (or nothing does); ``count``: how many match.
- ``api_call``: the ``api_call`` events of one service, filtered by method, path (exact, or a
  glob where only ``*`` is special), status and ``within_ms``; ``count`` defaults to at least one.
- ``step``: the step's HTTP status, a JSONPath into its JSON answer (``equals``, or ``exists``
  when no value is given), or text it contains (case-insensitive). A step that did not run
  (missing, skipped or errored) holds nothing.

Values compare as JSON does: ``true`` is not ``1``, while ``1`` equals ``1.0``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import jsonpath

from orchestrator.scenarios import (
    ApiCallCheck,
    ApiCallCriterion,
    CriterionCheck,
    StepCheck,
    StepCriterion,
    Trajectory,
    TrajectoryEvent,
    TwinStateCheck,
    TwinStateCriterion,
    count_holds,
    json_equal,
)

__all__ = [
    "RuleResult",
    "check_api_calls",
    "check_criterion",
    "check_step",
    "check_twin_state",
]

_SHOWN = 60


@dataclass(frozen=True, slots=True)
class RuleResult:
    """Whether a structured check holds, and what was found (for the judgment's reasoning)."""

    held: bool
    detail: str


def check_criterion(criterion: CriterionCheck, trajectory: Trajectory) -> RuleResult:
    """Evaluate one structured criterion or anti-pattern against ``trajectory``."""
    if isinstance(criterion, TwinStateCriterion):
        return check_twin_state(criterion.twin_state, trajectory)
    if isinstance(criterion, ApiCallCriterion):
        return check_api_calls(criterion.api_call, trajectory)
    if isinstance(criterion, StepCriterion):
        return check_step(criterion.step, trajectory)
    raise TypeError(f"not a structured criterion: {type(criterion).__name__}")  # pragma: no cover


# ------------------------------------------------------------------------------- twin state


def check_twin_state(check: TwinStateCheck, trajectory: Trajectory) -> RuleResult:
    """``check.path`` over the final state of twin ``check.service``."""
    twins = trajectory.final_state.get("twins")
    state = twins.get(check.service) if isinstance(twins, dict) else None
    if state is None:
        recorded = ", ".join(sorted(twins)) if isinstance(twins, dict) and twins else "none"
        return RuleResult(
            False, f"no final state of twin {check.service!r} was recorded (recorded: {recorded})"
        )
    matches = jsonpath.findall(check.path, state)
    where = f"{check.service} state {check.path}"
    test = check.test
    if test == "exists":
        found = bool(matches)
        said = f"{len(matches)} match{'es' if len(matches) != 1 else ''}" if matches else "nothing"
        return RuleResult(
            found == check.exists, f"{where} exists: found {said}, wanted exists {check.exists}"
        )
    if test == "count":
        assert check.count is not None
        return RuleResult(
            count_holds(check.count, len(matches)),
            f"{where} count: found {len(matches)}, wanted {_count_text(check.count)}",
        )
    if test == "contains":
        return _contains(where, matches, check.contains)
    return _equals(where, matches, check.equals)


def _equals(where: str, matches: Sequence[Any], expected: Any) -> RuleResult:
    if not matches:
        return RuleResult(False, f"{where} equals: nothing at this path, wanted {_show(expected)}")
    first = matches[0]
    return RuleResult(
        json_equal(first, expected), f"{where} equals: found {_show(first)}, wanted {_show(expected)}"
    )


def _contains(where: str, matches: Sequence[Any], needle: Any) -> RuleResult:
    if not matches:
        return RuleResult(False, f"{where} contains: nothing at this path, wanted {_show(needle)}")
    first = matches[0]
    if isinstance(first, str):
        if not isinstance(needle, str):
            return RuleResult(False, f"{where} contains: found text, which cannot contain {_show(needle)}")
        held = needle in first
    elif isinstance(first, list):
        held = any(json_equal(item, needle) for item in first)
    else:
        return RuleResult(False, f"{where} contains: found {_show(first)}, which is neither text nor a list")
    verb = "contains" if held else "does not contain"
    return RuleResult(held, f"{where} contains: found {_show(first)}, which {verb} {_show(needle)}")


# -------------------------------------------------------------------------------- api calls


def check_api_calls(check: ApiCallCheck, trajectory: Trajectory) -> RuleResult:
    """How many ``api_call`` events fit ``check``, against its count (default: at least one)."""
    served = [event for event in trajectory.events if event.type == "api_call"]
    fitting = [event for event in served if _call_fits(check, event)]
    where = _call_text(check)
    if check.count is None:
        return RuleResult(bool(fitting), f"{where}: found {len(fitting)}, wanted at least 1")
    return RuleResult(
        count_holds(check.count, len(fitting)),
        f"{where}: found {len(fitting)}, wanted {_count_text(check.count)}",
    )


def _call_fits(check: ApiCallCheck, event: TrajectoryEvent) -> bool:
    detail = event.detail
    if detail.get("service") != check.service:
        return False
    method = detail.get("method")
    if check.method is not None and not (isinstance(method, str) and method.upper() == check.method):
        return False
    if check.path is not None and not _path_fits(check.path, detail.get("path")):
        return False
    if check.status is not None and detail.get("response_code") != check.status:
        return False
    return check.within_ms is None or event.at_ms <= check.within_ms


def _path_fits(pattern: str, path: Any) -> bool:
    """Exact, or a glob where only ``*`` is special; a query string is ignored unless asked for."""
    if not isinstance(path, str):
        return False
    served: str = path if "?" in pattern else path.partition("?")[0]
    if "*" not in pattern:
        return served == pattern
    # fnmatch also treats ? and [ as wildcards; escaped, they match themselves in a URL path.
    literal = "".join(f"[{char}]" if char in "?[" else char for char in pattern)
    return fnmatchcase(served, literal)


def _call_text(check: ApiCallCheck) -> str:
    parts = [f"api_call {check.service} {check.method or '*'} {check.path or '*'}"]
    if check.status is not None:
        parts.append(f"-> {check.status}")
    if check.within_ms is not None:
        parts.append(f"within {check.within_ms:g} ms")
    return " ".join(parts)


# ------------------------------------------------------------------------------------ steps


def check_step(check: StepCheck, trajectory: Trajectory) -> RuleResult:
    """The outcome of step ``check.id``: every test it gives must hold."""
    step = next((step for step in trajectory.steps if step.id == check.id), None)
    where = f"step {check.id}"
    if step is None:
        return RuleResult(False, f"{where} did not run (it is not in the trajectory)")
    if step.status in ("skipped", "errored"):
        why = f": {step.failures[0]}" if step.failures else ""
        return RuleResult(False, f"{where} did not run ({step.status}{why})")
    held, found = True, []
    if check.status is not None:
        held &= step.response_status == check.status
        found.append(f"status {step.response_status}, wanted {check.status}")
    if check.path is not None:
        matches = jsonpath.findall(check.path, step.json_body) if step.json_body is not None else []
        if "equals" in check.model_fields_set:
            ok = bool(matches) and json_equal(matches[0], check.equals)
            seen = _show(matches[0]) if matches else "nothing"
            found.append(f"{check.path} {seen}, wanted {_show(check.equals)}")
        else:
            ok = bool(matches)
            found.append(f"{check.path} {'found' if ok else 'nothing there'}, wanted something")
        held &= ok
    if check.contains is not None:
        text = _step_text(step.text, step.json_body)
        ok = text is not None and check.contains.casefold() in text.casefold()
        verb = "contains" if ok else ("holds no text, wanted" if text is None else "does not contain")
        found.append(f"answer {verb} {_show(check.contains)}")
        held &= ok
    return RuleResult(held, f"{where}: " + "; ".join(found))


def _step_text(text: str | None, body: Any) -> str | None:
    """The answer's text; a JSON-only answer is searched as its JSON text."""
    if text is not None:
        return text
    return json.dumps(body, ensure_ascii=False) if body is not None else None


# ---------------------------------------------------------------------------------- helpers


def _count_text(count: Any) -> str:
    if isinstance(count, int):
        return str(count)
    bounds = [
        f"at least {count.min}" if count.min is not None else "",
        f"at most {count.max}" if count.max is not None else "",
    ]
    return " and ".join(bound for bound in bounds if bound)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
