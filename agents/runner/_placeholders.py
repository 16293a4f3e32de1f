"""Placeholders: values from earlier answers, the scenario's state and the slot's twins, in any string.

Every string of a step (``{{ reference }}``, :data:`~orchestrator.scenarios.PLACEHOLDER`) is
filled in just before the step runs:

- ``{{step_id.json.path[0].field}}``: JSONPath ``$.path[0].field`` over that step's JSON answer
  (``{{step_id.json}}`` is the whole answer);
- ``{{step_id.text}}`` and ``{{step_id.status}}``: its answer's text and HTTP status;
- ``{{context.state.key}}``: JSONPath ``$.key`` over the scenario's ``context.state``;
- ``{{twins.NAME.url}}`` and ``{{twins.NAME.token}}``: this slot's twin URL and a valid token.

A string that is one placeholder and nothing else takes the value as it is (a number stays a
number in a JSON body); inside longer text a value is written as text (JSON for non-strings).
A placeholder that names nothing (an unknown step, a step without an answer, a path that matches
nothing) is not guessed at: :func:`resolve_step` says which one and why, and the trajectory ends
there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import jsonpath
from pydantic import BaseModel, ValidationError

from orchestrator.scenarios import PLACEHOLDER

__all__ = ["Answer", "PlaceholderScope", "resolve_step"]

S = TypeVar("S", bound=BaseModel)


@dataclass(frozen=True)
class Answer:
    """What a step answered, in full (the trajectory records a capped copy)."""

    status: int | None = None
    text: str | None = None
    json_body: Any = None
    has_json: bool = False


@dataclass(frozen=True)
class PlaceholderScope:
    """Everything a placeholder may name at one point of a trajectory."""

    answers: Mapping[str, Answer] = field(default_factory=dict)
    state: Mapping[str, Any] = field(default_factory=dict)
    twins: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    """Twin name to (base URL, a valid token or ``None``)."""


class _UnresolvedError(Exception):
    def __init__(self, reference: str, why: str) -> None:
        super().__init__(f"the placeholder {{{{{reference}}}}} {why}")


def resolve_step(step: S, scope: PlaceholderScope) -> tuple[S | None, str | None]:
    """``step`` with its placeholders filled in, or ``(None, why)`` naming the one that failed."""
    document = step.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if "{{" not in json.dumps(document):
        return step, None
    try:
        filled = _fill(document, scope)
    except _UnresolvedError as exc:
        return None, str(exc)
    try:
        return type(step).model_validate(filled), None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the step"
        return None, f"with its placeholders filled in, {where} is invalid: {first['msg']}"


def _fill(value: Any, scope: PlaceholderScope) -> Any:
    if isinstance(value, str):
        return _fill_text(value, scope)
    if isinstance(value, Mapping):
        return {key: _fill(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, scope) for item in value]
    return value


def _fill_text(text: str, scope: PlaceholderScope) -> Any:
    whole = PLACEHOLDER.fullmatch(text)
    if whole is not None:
        return _lookup(whole.group(1), scope)

    def as_text(found: Any) -> str:
        value = _lookup(found.group(1), scope)
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return PLACEHOLDER.sub(as_text, text)


def _lookup(reference: str, scope: PlaceholderScope) -> Any:
    root, dot, rest = reference.partition(".")
    if "[" in root:
        root, bracket, tail = root.partition("[")
        rest = bracket + tail + dot + rest
    if root == "twins":
        return _twin(reference, rest, scope)
    if root == "context":
        if rest != "state" and not rest.startswith(("state.", "state[")):
            raise _UnresolvedError(
                reference, "names context, which only holds state: write {{context.state.KEY}}"
            )
        return _at_path(reference, rest[len("state") :], dict(scope.state), "context.state")
    answer = scope.answers.get(root)
    if answer is None:
        raise _UnresolvedError(reference, f"names {root!r}, which is no earlier step with an answer")
    part, _, tail = rest.partition(".")
    if part.startswith("json"):
        if not answer.has_json:
            raise _UnresolvedError(reference, f"reads the JSON of step {root}, whose answer was not JSON")
        return _at_path(reference, rest[len("json") :], answer.json_body, f"step {root}'s JSON answer")
    if part in ("text", "status") and not tail:
        value = answer.text if part == "text" else answer.status
        if value is None:
            raise _UnresolvedError(reference, f"reads the {part} of step {root}, which has none")
        return value
    raise _UnresolvedError(
        reference,
        f"names {rest or 'nothing'} of step {root}: use {root}.json.PATH, {root}.text or {root}.status",
    )


def _twin(reference: str, rest: str, scope: PlaceholderScope) -> Any:
    name, _, what = rest.rpartition(".")
    if name not in scope.twins or what not in ("url", "token"):
        served = ", ".join(sorted(scope.twins)) or "none"
        raise _UnresolvedError(
            reference, f"names no twin URL or token (write twins.NAME.url; served: {served})"
        )
    url, token = scope.twins[name]
    if what == "url":
        return url
    if token is None:
        raise _UnresolvedError(reference, f"asks for a token of twin {name}, which takes none")
    return token


def _at_path(reference: str, tail: str, document: Any, what: str) -> Any:
    if not tail:
        return document
    path = "$" + tail
    try:
        matches = jsonpath.findall(path, document)
    except jsonpath.JSONPathError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _UnresolvedError(reference, f"has a path {path} that is not JSONPath ({first})") from None
    if not matches:
        raise _UnresolvedError(reference, f"matches nothing: {path} finds nothing in {what}")
    return matches[0]
