"""A case: one question asked as a one-step domain scenario (``orchestrate case "question"``).

Each ``--expect`` argument is one expect item in a short syntax:

- ``contains:TEXT``, ``not_contains:TEXT``, ``route:NAME``, ``evidence:N``, ``max_ms:N``;
- ``path:JSONPATH=VALUE`` (VALUE is read as JSON when it parses, else as text),
  ``path:JSONPATH?`` (something matches), ``path:JSONPATH#N`` (N matches; ``#MIN..MAX``,
  ``#MIN..`` or ``#..MAX`` for a range).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

import jsonpath
from pydantic import TypeAdapter, ValidationError

from orchestrator.errors import UsageError
from orchestrator.packs._expect import ExpectItem
from orchestrator.packs._model import DomainScenario, DomainStep
from orchestrator.validation import explain_validation_errors

__all__ = ["CASE_STEP_ID", "EXPECT_SYNTAX", "case_scenario", "parse_expect"]

CASE_STEP_ID = "step_01"
EXPECT_SYNTAX = (
    "contains:TEXT, not_contains:TEXT, route:NAME, evidence:N, max_ms:N, "
    "path:JSONPATH=VALUE, path:JSONPATH? or path:JSONPATH#N"
)
"""The forms of an ``--expect`` argument, as the usage error lists them."""
_EXPECT_ITEM: TypeAdapter[Any] = TypeAdapter(ExpectItem)
_COUNT = re.compile(r"#(?:(\d+)|(\d*)\.\.(\d*))$")
_COMPARISON = frozenset("=!<>")


def parse_expect(argument: str) -> ExpectItem:
    """One ``--expect`` argument as an expect item; a wrong one raises :class:`UsageError`."""
    kind, colon, rest = argument.partition(":")
    if not colon or kind not in ("contains", "not_contains", "route", "evidence", "max_ms", "path"):
        raise _usage(argument, "it does not start with a known kind and a colon")
    item: dict[str, Any]
    if kind == "path":
        item = _path_item(argument, rest)
    elif kind in ("evidence", "max_ms"):
        if not rest.strip().isdigit():
            raise _usage(argument, f"{kind} takes a whole number, e.g. {kind}:2")
        item = {kind: int(rest.strip())}
    else:
        item = {kind: rest}
    try:
        return _EXPECT_ITEM.validate_python(item)  # type: ignore[no-any-return]
    except ValidationError as exc:
        first = explain_validation_errors(exc)[0]
        raise _usage(argument, f"{first.field} {first.problem}") from None


def case_scenario(question: str, expect: Sequence[str], id: str | None = None) -> DomainScenario:
    """``question`` as a one-step scenario (step ``step_01``) expecting ``expect`` (the syntax above).

    The id defaults to ``case-`` and 8 hex digits of the question's SHA-256, so the same question
    is the same case. A wrong argument, id or question raises :class:`UsageError`.
    """
    items = [parse_expect(argument) for argument in expect]
    scenario_id = id or "case-" + hashlib.sha256(question.encode("utf-8")).hexdigest()[:8]
    try:
        step = DomainStep(id=CASE_STEP_ID, question=question, expect=items)
        return DomainScenario(id=scenario_id, brief=question, steps=[step])
    except ValidationError as exc:
        first = explain_validation_errors(exc, model=DomainScenario)[0]
        what = "--id" if first.field == "id" else "the question"
        raise UsageError(f"{what}: {first.problem}. Fix: {first.fix}") from None


def _path_item(argument: str, rest: str) -> dict[str, Any]:
    if rest.endswith("?"):
        return {"path": _compiled(argument, rest[:-1]), "exists": True}
    count = _COUNT.search(rest)
    if count is not None:
        path = _compiled(argument, rest[: count.start()])
        exact, low, high = count.groups()
        if exact is not None:
            return {"path": path, "count": int(exact)}
        if not low and not high:
            raise _usage(argument, "a count range needs a bound, e.g. #1..3")
        bounds = {"min": int(low) if low else None, "max": int(high) if high else None}
        return {"path": path, "count": {key: value for key, value in bounds.items() if value is not None}}
    for position, char in enumerate(rest):
        if (
            char != "="
            or rest[position - 1 : position] in _COMPARISON
            or rest[position + 1 :].startswith("=")
        ):
            continue  # part of a filter's comparison, not the split
        path = rest[:position]
        if _compiles(path):
            return {"path": path, "equals": _value(rest[position + 1 :])}
    raise _usage(argument, "a path item ends with =VALUE, ? or #N after a JSONPath that compiles")


def _compiled(argument: str, path: str) -> str:
    if not _compiles(path):
        raise _usage(argument, f"{path!r} is not a JSONPath that compiles (write it like $.entries[0].item)")
    return path


def _compiles(path: str) -> bool:
    try:
        jsonpath.compile(path)
    except jsonpath.JSONPathError:
        return False
    return bool(path)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _usage(argument: str, why: str) -> UsageError:
    return UsageError(f"--expect {argument!r}: {why}. Write one of: {EXPECT_SYNTAX}")
