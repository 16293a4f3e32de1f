"""Placeholders in a domain step's question: ``{{ROOT.PATH}}``, filled in just before it is asked.

``ROOT`` is an earlier step's id or, when it names no step, a field of the assistant's session
read back: ``{{step_01_inventory.entries[0].item}}`` is a JSONPath into that step's answer
``data``, ``{{step_01_inventory.text}}`` (or just ``{{step_01_inventory}}``) its answer text,
and ``{{semantic_memory.active_result_set_id}}`` a path into the session. A value that is text
is put in as it is; any other value as compact JSON, several matches as a JSON list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonpath
import orjson

from orchestrator.errors import OrchestrateError
from orchestrator.scenarios import PLACEHOLDER

__all__ = [
    "Placeholder",
    "StepAnswer",
    "UnresolvedPlaceholderError",
    "placeholder_problems",
    "placeholders",
    "resolve",
]

_ROOT = re.compile(r"[^.\[\s]+")
_NOT_FOUND = object()


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One ``{{...}}`` of a text: as written, its root (a step id or session field), and a JSONPath.

    ``path`` is the JSONPath after the root (``$`` when there is nothing after it), e.g.
    ``{{step_01.entries[0].item}}`` is root ``step_01`` and path ``$.entries[0].item``.
    """

    raw: str
    root: str
    path: str

    @property
    def name(self) -> str:
        """The reference inside the braces, as the user wrote it (without spaces around)."""
        return self.raw[2:-2].strip()


@dataclass(frozen=True, slots=True)
class StepAnswer:
    """What an answered step offers to later placeholders: its text and its JSON ``data``."""

    text: str
    data: Any = None


class UnresolvedPlaceholderError(OrchestrateError):
    """A placeholder names nothing there is when its step runs; the step cannot be asked."""

    error_code = "unresolved_placeholder"

    def __init__(self, name: str, why: str) -> None:
        self.name = name
        self.why = why
        super().__init__(f"placeholder {{{{{name}}}}} cannot be filled: {why}")


def placeholders(text: str) -> list[Placeholder]:
    """Every well-formed placeholder of ``text``, in order (an unclosed ``{{`` is not one)."""
    found: list[Placeholder] = []
    for match in PLACEHOLDER.finditer(text):
        reference = match.group(1).strip()
        root_match = _ROOT.match(reference)
        root = root_match.group(0) if root_match else ""
        found.append(Placeholder(match.group(0), root, "$" + reference[len(root) :]))
    return found


def placeholder_problems(
    text: str, *, earlier: Sequence[str], later: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """Why each placeholder of ``text`` could never be filled, and the fix: ``[(problem, fix)]``.

    ``earlier`` are the ids of the steps before this one, ``later`` this step's and those after:
    a root naming one of those is refused (its answer is not there yet); any other root is a
    session field and may be. Every path must compile; an unclosed ``{{`` is refused.
    """
    problems: list[tuple[str, str]] = []
    for found in placeholders(text):
        if not found.root:
            problems.append(
                (
                    f"has the placeholder {found.raw}, which names nothing",
                    "write {{STEP_ID.PATH}} or {{SESSION_FIELD.PATH}}, e.g. {{step_01_inventory.text}}",
                )
            )
            continue
        if found.root in later:
            problems.append(
                (
                    f"uses the placeholder {found.raw}, but step {found.root!r} is not an earlier step "
                    "(a placeholder can only use the answers of earlier steps)",
                    f"name an earlier step ({', '.join(earlier) or 'none yet'}) or a session field",
                )
            )
            continue
        try:
            jsonpath.compile(found.path)
        except jsonpath.JSONPathError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            problems.append(
                (
                    f"uses the placeholder {found.raw}, whose path {found.path} is not JSONPath ({first})",
                    "write a JSONPath after the root, e.g. {{step_01_inventory.entries[0].item}}",
                )
            )
    remains = PLACEHOLDER.sub("", text)
    if "{{" in remains:
        rest = remains[remains.index("{{") :]
        shown = rest if len(rest) <= 40 else rest[:37] + "..."
        problems.append(
            (
                f"opens a placeholder that is never closed: {shown!r} (it would be sent as it is)",
                "close it with }}, e.g. {{step_01_inventory.text}}",
            )
        )
    return problems


def resolve(text: str, *, answers: Mapping[str, StepAnswer], session: Mapping[str, Any] | None) -> str:
    """``text`` with every placeholder filled from earlier ``answers`` (by step id) or the ``session``.

    Raises :class:`UnresolvedPlaceholderError` naming the first placeholder that finds nothing.
    """

    def fill(match: re.Match[str]) -> str:
        (found,) = placeholders(match.group(0))
        return _render(_value(found, answers, session))

    return PLACEHOLDER.sub(fill, text)


def _value(found: Placeholder, answers: Mapping[str, StepAnswer], session: Mapping[str, Any] | None) -> Any:
    answer = answers.get(found.root)
    if answer is not None:
        if found.path in ("$", "$.text"):
            return answer.text
        if answer.data is None:
            raise UnresolvedPlaceholderError(found.name, f"step {found.root!r} answered without JSON data")
        return _find(found, answer.data, f"the data of step {found.root!r}")
    if session is None:
        raise UnresolvedPlaceholderError(
            found.name, f"no earlier step {found.root!r} answered, and there is no session to read"
        )
    value = session.get(found.root, _NOT_FOUND)
    if value is _NOT_FOUND:
        raise UnresolvedPlaceholderError(
            found.name,
            f"no earlier step {found.root!r} answered, and the session has no field {found.root!r}",
        )
    return value if found.path == "$" else _find(found, value, f"the session's {found.root!r}")


def _find(found: Placeholder, document: Any, what: str) -> Any:
    try:
        matches = jsonpath.findall(found.path, document)
    except jsonpath.JSONPathError as exc:
        raise UnresolvedPlaceholderError(found.name, f"{found.path} is not JSONPath ({exc})") from None
    if not matches:
        raise UnresolvedPlaceholderError(found.name, f"{found.path} finds nothing in {what}")
    return matches[0] if len(matches) == 1 else matches


def _render(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()
