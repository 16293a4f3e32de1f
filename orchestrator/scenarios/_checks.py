"""Structured checks of a scenario file: counts, JSONPath assertions, and criteria.

A criterion or anti-pattern is either text (an LLM judge decides) or one structured check that
the rule judge evaluates without a model (``twin_state``, ``api_call``, ``step``), optionally
with a ``label`` that reports show instead of the check itself. Criteria are a tagged union, so
an error names the field inside the check that is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import jsonpath
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    field_validator,
    model_validator,
)
from rapidfuzz import process

__all__ = [
    "ApiCallCheck",
    "ApiCallCriterion",
    "Count",
    "CountRange",
    "Criterion",
    "CriterionCheck",
    "JsonPath",
    "ScenarioPart",
    "StateAssertion",
    "StepCheck",
    "StepCriterion",
    "TwinStateCheck",
    "TwinStateCriterion",
    "closest_kind",
    "count_holds",
    "criterion_label",
    "json_equal",
]


class ScenarioPart(BaseModel):
    """Base of every part of a scenario file: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def closest_kind(data: Mapping[Any, Any], kinds: tuple[str, ...], shared: frozenset[str]) -> str | None:
    """The kind an item without any kind key most likely meant: the one closest to an unknown key.

    Only the error changes: the item still fails, now reporting its misspelt key with the rename
    (``usr`` -> ``user``) instead of "a step has exactly one action".
    """
    best: tuple[str, float] | None = None
    for key in data:
        if not isinstance(key, str) or key in shared:
            continue
        match = process.extractOne(key, kinds, score_cutoff=60)
        if match is not None and (best is None or match[1] > best[1]):
            best = (match[0], match[1])
    return best[0] if best is not None else None


# ------------------------------------------------------------------------------------ counts


def _jsonpath(value: str | None) -> str | None:
    """A JSONPath that compiles (python-jsonpath's RFC 9535 dialect), else a clear error."""
    if value is None:
        return None
    try:
        jsonpath.compile(value)
    except jsonpath.JSONPathError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"is not a valid JSONPath ({first}); write it like $.issues[0].summary") from None
    return value


JsonPath = Annotated[str, Field(min_length=1, examples=["$.issues[*]"]), AfterValidator(_jsonpath)]
"""A JSONPath expression, checked when the file is read."""


class CountRange(ScenarioPart):
    """``{min?, max?}``: a count within bounds (both inclusive)."""

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> CountRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both, e.g. {min: 1, max: 3}")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) must not be below min ({self.min})")
        return self

    def holds(self, value: int) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


Count = Annotated[int, Field(ge=0)] | CountRange
"""An exact count, or ``{min?, max?}``."""


def json_equal(left: Any, right: Any) -> bool:
    """What ``equals`` means in every check, for runner and judge alike: equality as JSON means it.

    Booleans are not numbers, ``1 == 1.0``, and containers compare deeply.
    """
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[key], right[key]) for key in left)
    return type(left) is type(right) and bool(left == right)


def count_holds(expected: Count, value: int) -> bool:
    """Whether ``value`` meets an exact count or a range."""
    return value == expected if isinstance(expected, int) else expected.holds(value)


# ------------------------------------------------------------------------------- assertions


_TESTS = ("equals", "contains", "exists", "count")


class StateAssertion(ScenarioPart):
    """A JSONPath into a document and exactly one test of what it finds.

    ``equals``: the first match equals the value; ``contains``: the first match (text or list)
    contains the value; ``exists``: something matches (true) or nothing does (false);
    ``count``: the number of matches.
    """

    path: JsonPath = Field(description="JSONPath, e.g. $.issues[0].summary")
    equals: JsonValue = None
    contains: JsonValue = None
    exists: bool | None = None
    count: Count | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_test(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            tests = [key for key in _TESTS if data.get(key) is not None]
            if not tests and "equals" in data:
                tests = ["equals"]  # `equals: null` tests for null
            if len(tests) != 1:
                raise ValueError(
                    "give exactly one of equals, contains, exists or count beside path, "
                    f"e.g. {{path: '$.issues[*]', count: 1}} (got {', '.join(tests) or 'none'})"
                )
        return data

    @property
    def test(self) -> Literal["equals", "contains", "exists", "count"]:
        """The one test this assertion makes."""
        for name in ("contains", "exists", "count"):
            if getattr(self, name) is not None:
                return name
        return "equals"


class TwinStateCheck(StateAssertion):
    """``{service, path, equals | contains | exists | count}`` over a twin's whole state."""

    service: str = Field(min_length=1, examples=["jira"])


class ApiCallCheck(ScenarioPart):
    """Requests a twin served during the trajectory, from its journal.

    ``path`` matches the request path exactly, or as a glob with ``*``; ``count`` defaults to
    "at least one"; ``within_ms`` counts only requests made that soon after the trajectory began.
    """

    service: str = Field(min_length=1, examples=["jira"])
    method: str | None = Field(default=None, examples=["POST"])
    path: str | None = Field(default=None, examples=["/rest/api/2/issue"])
    status: int | None = Field(default=None, ge=100, le=599)
    count: Count | None = None
    within_ms: float | None = Field(default=None, gt=0)

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value is not None else None


class StepCheck(ScenarioPart):
    """The outcome of a step: its HTTP status, a JSONPath into its JSON answer, or its text."""

    id: str = Field(min_length=1, examples=["step_01"])
    status: int | None = Field(default=None, ge=100, le=599)
    path: JsonPath | None = None
    equals: JsonValue = None
    contains: str | None = None

    @model_validator(mode="after")
    def _tests_something(self) -> StepCheck:
        if self.status is None and self.contains is None and self.path is None:
            raise ValueError("give status, contains, or path with equals, e.g. {id: step_01, contains: done}")
        if self.equals is not None and self.path is None:
            raise ValueError("equals needs a path into the step's JSON answer, e.g. path: $.ok")
        return self


class _Labelled(ScenarioPart):
    label: str | None = Field(default=None, description="What reports call this check.")


class TwinStateCriterion(_Labelled):
    twin_state: TwinStateCheck


class ApiCallCriterion(_Labelled):
    api_call: ApiCallCheck


class StepCriterion(_Labelled):
    step: StepCheck


CriterionCheck = TwinStateCriterion | ApiCallCriterion | StepCriterion
_CHECK_KINDS = ("twin_state", "api_call", "step")


def _criterion_kind(data: Any) -> str | None:
    """``text`` or the check a criterion holds (its union tag); ``None`` when neither."""
    if isinstance(data, str):
        return "text"
    if isinstance(data, TwinStateCriterion | ApiCallCriterion | StepCriterion):
        return next(kind for kind in _CHECK_KINDS if kind in type(data).model_fields)
    if not isinstance(data, Mapping):
        return None
    kinds = [kind for kind in _CHECK_KINDS if kind in data]
    if not kinds:
        return closest_kind(data, _CHECK_KINDS, frozenset({"label"}))
    return kinds[0] if len(kinds) == 1 else None


Criterion = Annotated[
    Annotated[str, Field(min_length=1), Tag("text")]
    | Annotated[TwinStateCriterion, Tag("twin_state")]
    | Annotated[ApiCallCriterion, Tag("api_call")]
    | Annotated[StepCriterion, Tag("step")],
    Discriminator(
        _criterion_kind,
        custom_error_type="criterion_form",
        custom_error_message=(
            "a criterion is text for the LLM judge, or one check of twin_state, api_call or step, "
            "e.g. {twin_state: {service: jira, path: '$.issues[*]', count: 1}}"
        ),
    ),
]
"""Text for the LLM judge, or one structured check for the rule judge."""


def criterion_label(criterion: Criterion) -> str:
    """How reports name a criterion: its text, its label, or a short rendering of its check."""
    if isinstance(criterion, str):
        return criterion
    if criterion.label:
        return criterion.label
    if isinstance(criterion, TwinStateCriterion):
        check = criterion.twin_state
        return f"{check.service} state {check.path} {check.test} {_short(getattr(check, check.test))}"
    if isinstance(criterion, ApiCallCriterion):
        call = criterion.api_call
        parts = [call.service, call.method or "*", call.path or "*"]
        if call.status is not None:
            parts.append(f"-> {call.status}")
        if call.count is not None:
            parts.append(f"count {_short(call.count)}")
        if call.within_ms is not None:
            parts.append(f"within {call.within_ms:g} ms")
        return "api_call " + " ".join(parts)
    step = criterion.step
    tests = [
        f"{name} {_short(getattr(step, name))}"
        for name in ("status", "path", "equals", "contains")
        if getattr(step, name) is not None
    ]
    return f"step {step.id} " + " ".join(tests)


def _short(value: Any) -> str:
    if isinstance(value, CountRange):
        bounds = [
            f"{name}: {getattr(value, name)}" for name in ("min", "max") if getattr(value, name) is not None
        ]
        return "{" + ", ".join(bounds) + "}"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
