"""Checking what a step saw: a step's ``expect``, and state assertions over a twin's state.

Both read JSON with JSONPath (python-jsonpath) and compare values as JSON does: ``true`` is not
``1``, while ``1`` equals ``1.0``. Text is matched without regard to case, and an answer that
has JSON but no text is searched as its JSON text, the way the rule judge reads a step, so an
``expect`` and a step criterion agree on the same answer.
"""

from __future__ import annotations

import json
from typing import Any

import jsonpath

from orchestrator.scenarios import Expectation, StateAssertion, count_holds, json_equal

__all__ = ["assertion_holds", "expectation_failures", "show"]

_SHOWN = 80


def show(value: Any) -> str:
    """A value as JSON text, cut for a message."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def expectation_failures(
    expect: Expectation, *, status: int | None, body: Any, has_json: bool, text: str | None
) -> list[str]:
    """Why the answer does not meet ``expect`` (empty when it does)."""
    failures: list[str] = []
    if expect.status is not None and status != expect.status:
        failures.append(f"status {status if status is not None else 'none'}, expected {expect.status}")
    if expect.path is not None:
        matches = jsonpath.findall(expect.path, body) if has_json else []
        if "equals" in expect.model_fields_set:
            if not matches:
                failures.append(f"{expect.path} finds nothing, expected {show(expect.equals)}")
            elif not json_equal(matches[0], expect.equals):
                failures.append(f"{expect.path} is {show(matches[0])}, expected {show(expect.equals)}")
        elif not matches:
            failures.append(f"{expect.path} finds nothing" + ("" if has_json else ": the answer is not JSON"))
    if expect.contains is not None:
        searched = text if text is not None else (json.dumps(body, ensure_ascii=False) if has_json else None)
        if searched is None:
            failures.append(f"the answer has no text, expected it to contain {show(expect.contains)}")
        elif expect.contains.casefold() not in searched.casefold():
            failures.append(f"the answer does not contain {show(expect.contains)}")
    return failures


def assertion_holds(assertion: StateAssertion, document: Any) -> tuple[bool, list[Any], str]:
    """Whether ``assertion`` holds over ``document``, what its path found, and what was found in words."""
    matches = jsonpath.findall(assertion.path, document)
    where = assertion.path
    match assertion.test:
        case "exists":
            found = bool(matches)
            return (
                found == assertion.exists,
                matches,
                f"{where} finds {len(matches)}, exists {assertion.exists}",
            )
        case "count":
            assert assertion.count is not None
            wanted = assertion.count if isinstance(assertion.count, int) else assertion.count.model_dump()
            held = count_holds(assertion.count, len(matches))
            return held, matches, f"{where} finds {len(matches)}, count {show(wanted)}"
        case "contains":
            if not matches:
                return (
                    False,
                    matches,
                    f"{where} finds nothing, expected it to contain {show(assertion.contains)}",
                )
            first = matches[0]
            if isinstance(first, str):
                held = isinstance(assertion.contains, str) and assertion.contains in first
            elif isinstance(first, list):
                held = any(json_equal(item, assertion.contains) for item in first)
            else:
                held = False
            verb = "contains" if held else "does not contain"
            return held, matches, f"{where} is {show(first)}, which {verb} {show(assertion.contains)}"
        case _:
            if not matches:
                return False, matches, f"{where} finds nothing, expected {show(assertion.equals)}"
            held = json_equal(matches[0], assertion.equals)
            return held, matches, f"{where} is {show(matches[0])}, expected {show(assertion.equals)}"
