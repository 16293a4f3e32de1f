"""The scenario file: what a user writes in ``.scenarios/catalog/<domain>/<id>.scenario.yaml``.

A scenario is a persona with an intent, the state the twins start from, executable steps, and
what would satisfy that user (criteria) or clearly not (anti-patterns). It is executed many
times (trajectories) and every trajectory is judged on its own.

Steps run in order and each has exactly one action:

- ``user: "text"``: a message to the system under test's assistant endpoint (one session per
  trajectory);
- ``http: {method, path, json?, headers?, query?}``: a call to the system under test;
- ``browser: [steps]``: Playwright steps on its web UI, in the UI gate's journey vocabulary;
- ``wait_for: {api_call: {...} | twin_state: {...}, timeout_ms}``: wait until a twin saw a
  request, or its state holds a value;
- ``twin: {service, reset | seed | assert}``: act on a twin directly.

A criterion or anti-pattern is either text (an LLM judge decides) or one structured check that
the rule judge evaluates without a model (``twin_state``, ``api_call``, ``step``), optionally
with a ``label`` that reports show instead of the check itself.

Every model refuses unknown keys, so a misspelt key is an error naming the field, never a
silently ignored line. A step, criterion or chaos item is told apart by its one action or check
key (a tagged union), so an error names the field inside the item that is wrong; an item whose
action key is misspelt (``usr:``) is checked as the action it most likely meant, which reports
the misspelt key with the rename.
"""

from __future__ import annotations

import re
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
from pydantic_core import PydanticCustomError
from rapidfuzz import process

from orchestrator.policy.test_profiles import StepSpec

__all__ = [
    "SCENARIO_ID",
    "STEP_ID_REUSED",
    "ApiCallCheck",
    "ApiCallCriterion",
    "BrowserStep",
    "ChaosInjection",
    "Count",
    "CountRange",
    "Criterion",
    "CriterionCheck",
    "Expectation",
    "HttpRequest",
    "HttpStep",
    "JudgeSettings",
    "Persona",
    "Scenario",
    "ScenarioContext",
    "ScenarioStep",
    "StateAssertion",
    "StepCheck",
    "StepCriterion",
    "TwinAction",
    "TwinStateCheck",
    "TwinStateCriterion",
    "TwinStep",
    "UserStep",
    "WaitForSpec",
    "WaitForStep",
    "criterion_label",
]

SCENARIO_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,48})[a-z0-9]$")
"""Kebab-case, 3 to 50 characters: letters, digits and single hyphens inside."""
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")
_STEP_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
STEP_ID_REUSED = "step_id_reused"
"""The error type of a step id used twice; its context holds ``index``, the second step's position."""
_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _meant_kind(data: Mapping[Any, Any], kinds: tuple[str, ...], shared: frozenset[str]) -> str | None:
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


class CountRange(_Strict):
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


def count_holds(expected: Count, value: int) -> bool:
    """Whether ``value`` meets an exact count or a range."""
    return value == expected if isinstance(expected, int) else expected.holds(value)


# ------------------------------------------------------------------------------- assertions


_TESTS = ("equals", "contains", "exists", "count")


class StateAssertion(_Strict):
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


class ApiCallCheck(_Strict):
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


class StepCheck(_Strict):
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


class _Labelled(_Strict):
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
        return _meant_kind(data, _CHECK_KINDS, frozenset({"label"}))
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


# ------------------------------------------------------------------------------------ steps


class Expectation(_Strict):
    """What a step's answer must show; unmet, the step is recorded as failed."""

    status: int | None = Field(default=None, ge=100, le=599)
    path: JsonPath | None = Field(default=None, description="JSONPath into the JSON answer.")
    equals: JsonValue = None
    contains: str | None = Field(default=None, description="Text the answer must contain.")

    @model_validator(mode="after")
    def _sensible(self) -> Expectation:
        if self.equals is not None and self.path is None:
            raise ValueError("equals needs a path into the JSON answer, e.g. {path: $.ok, equals: true}")
        return self


class _Step(_Strict):
    id: str | None = Field(default=None, description="Name used by placeholders; default step_NN.")
    expect: Expectation | None = None
    stop_on_fail: bool = Field(default=False, description="End the trajectory when this step fails.")

    @field_validator("id")
    @classmethod
    def _step_id(cls, value: str | None) -> str | None:
        if value is not None and not _STEP_ID.fullmatch(value):
            raise ValueError(
                "a step id is letters, digits, _ and -, starting with a letter, e.g. step_01_login"
            )
        return value


class UserStep(_Step):
    user: str = Field(min_length=1, description="A message to the assistant endpoint.")


class HttpRequest(_Strict):
    method: str = Field(default="GET", examples=["POST"])
    path: str = Field(min_length=1, examples=["/api/login"])
    json_body: JsonValue = Field(default=None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str | int | float | bool] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        if value.upper() not in _HTTP_METHODS:
            raise ValueError(f"method must be one of {', '.join(_HTTP_METHODS)}")
        return value.upper()

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("path is relative to the system under test and starts with /, e.g. /api/login")
        return value


class HttpStep(_Step):
    http: HttpRequest


class BrowserStep(_Step):
    browser: list[StepSpec] = Field(min_length=1)


class WaitForSpec(_Strict):
    api_call: ApiCallCheck | None = None
    twin_state: TwinStateCheck | None = None
    timeout_ms: int = Field(default=10_000, gt=0, le=600_000)

    @model_validator(mode="after")
    def _one(self) -> WaitForSpec:
        if (self.api_call is None) == (self.twin_state is None):
            raise ValueError("give exactly one of api_call or twin_state, e.g. {api_call: {service: jira}}")
        return self


class WaitForStep(_Step):
    wait_for: WaitForSpec


class TwinAction(_Strict):
    service: str = Field(min_length=1)
    reset: bool | None = None
    seed: dict[str, JsonValue] | None = None
    assert_: StateAssertion | None = Field(default=None, alias="assert")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one(self) -> TwinAction:
        chosen = [
            name
            for name, value in (("reset", self.reset), ("seed", self.seed), ("assert", self.assert_))
            if value is not None
        ]
        if len(chosen) != 1:
            raise ValueError("give exactly one of reset, seed or assert, e.g. {service: jira, reset: true}")
        return self


class TwinStep(_Step):
    twin: TwinAction


_STEP_KINDS = ("user", "http", "browser", "wait_for", "twin")


def _step_kind(data: Any) -> str | None:
    """The action a step holds (its union tag); ``None`` when it holds none or several."""
    if isinstance(data, BaseModel):
        return step_kind(data)  # type: ignore[arg-type]
    if not isinstance(data, Mapping):
        return None
    kinds = [kind for kind in _STEP_KINDS if kind in data]
    if not kinds:
        return _meant_kind(data, _STEP_KINDS, frozenset(_Step.model_fields))
    return kinds[0] if len(kinds) == 1 else None


ScenarioStep = Annotated[
    Annotated[UserStep, Tag("user")]
    | Annotated[HttpStep, Tag("http")]
    | Annotated[BrowserStep, Tag("browser")]
    | Annotated[WaitForStep, Tag("wait_for")]
    | Annotated[TwinStep, Tag("twin")],
    Discriminator(
        _step_kind,
        custom_error_type="step_action",
        custom_error_message=(
            "a step has exactly one action of user, http, browser, wait_for or twin, "
            "e.g. {id: step_01, user: 'Hello'}"
        ),
    ),
]


# ------------------------------------------------------------------------------ the scenario


class Persona(_Strict):
    role: str = Field(min_length=1, examples=["support engineer"])
    expertise: str = Field(default="", examples=["novice"])
    goals: list[str] = Field(default_factory=list)


class ScenarioContext(_Strict):
    state: dict[str, JsonValue] = Field(default_factory=dict, description="Free values for placeholders.")
    services: list[str] = Field(default_factory=list, description="Twins this scenario needs.")
    data: dict[str, JsonValue] = Field(
        default_factory=dict, description="Seed data per twin (the catalog checks each is in services)."
    )


ChaosType = Literal[
    "latency", "error", "timeout", "partial_response", "stale_data", "auth_expired", "connection_reset"
]


class ChaosInjection(_Strict):
    """One chaos rule in the list form: ``{type, target, probability, delay_ms?, code?, route?}``."""

    type: ChaosType
    target: str = Field(min_length=1, description="The twin it applies to.")
    probability: float = Field(ge=0.0, le=1.0)
    delay_ms: float | None = Field(default=None, ge=0)
    code: Literal[429, 500, 503] | None = None
    route: str | None = Field(default=None, description="One route id of the twin (default: every route).")

    @model_validator(mode="after")
    def _fits_type(self) -> ChaosInjection:
        if self.code is not None and self.type != "error":
            raise ValueError("code applies to type: error only")
        if self.delay_ms is not None and self.type not in ("latency", "timeout"):
            raise ValueError("delay_ms applies to type latency or timeout only")
        return self


def _chaos_item_kind(data: Any) -> str | None:
    """``profile`` for a name, ``rule`` for a mapping (its union tag); ``None`` otherwise."""
    if isinstance(data, str):
        return "profile"
    return "rule" if isinstance(data, Mapping | ChaosInjection) else None


def _chaos_form(data: Any) -> str | None:
    """``profile`` for a name, ``list`` for a list of names and rules (its union tag)."""
    if isinstance(data, str):
        return "profile"
    return "list" if isinstance(data, list | tuple) else None


_ProfileName = Annotated[str, Field(min_length=1), Tag("profile")]
ChaosItem = Annotated[
    _ProfileName | Annotated[ChaosInjection, Tag("rule")],
    Discriminator(
        _chaos_item_kind,
        custom_error_type="chaos_item",
        custom_error_message=(
            "a chaos item is a profile's name or a rule, e.g. "
            "[gentle, {type: error, target: jira, probability: 0.2, code: 503}]"
        ),
    ),
]
Chaos = Annotated[
    _ProfileName | Annotated[list[ChaosItem], Tag("list")],
    Discriminator(
        _chaos_form,
        custom_error_type="chaos_form",
        custom_error_message=(
            "chaos is a profile's name, a list of rules, or both: [gentle, {type: error, target: jira, "
            "probability: 0.2, code: 503}]"
        ),
    ),
]
"""A chaos profile's name, or a list of at most one name and any rules."""


class JudgeSettings(_Strict):
    model: str | None = Field(default=None, description="Model for this scenario's text criteria.")
    system_prompt: str | None = None
    strict_mode: bool = Field(default=False, description="A matched anti-pattern decides, without a model.")


class Scenario(_Strict):
    """One scenario file (see the module docstring)."""

    id: str = Field(examples=["slack-to-jira"], description="Kebab-case, 3-50 characters, unique.")
    domain: str = Field(examples=["integrations"], description="Kebab-case, 1-50 characters; the folder.")
    version: int = Field(default=1, ge=1)
    persona: Persona
    context: ScenarioContext = ScenarioContext()
    intent: str = Field(min_length=1)
    steps: list[ScenarioStep] = Field(min_length=1)
    satisfaction_criteria: list[Criterion] = Field(min_length=1)
    anti_patterns: list[Criterion] = Field(default_factory=list)
    chaos: Chaos | None = Field(
        default=None,
        description="A chaos profile's name, a list of chaos rules, or both: [gentle, {type: error, ...}].",
    )
    count: int | None = Field(default=None, ge=1, le=100_000)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    criteria_mode: Literal["any", "all"] = "any"
    judge: JudgeSettings = JudgeSettings()

    @field_validator("id")
    @classmethod
    def _kebab(cls, value: str) -> str:
        if not SCENARIO_ID.fullmatch(value) or "--" in value:
            raise ValueError(
                "an id is kebab-case, 3-50 characters: lowercase letters, digits and -, e.g. slack-to-jira"
            )
        return value

    @field_validator("domain")
    @classmethod
    def _kebab_domain(cls, value: str) -> str:
        if not _DOMAIN.fullmatch(value) or "--" in value:
            raise ValueError(
                "a domain is kebab-case, 1-50 characters: lowercase letters, digits and -, e.g. integrations"
            )
        return value

    @model_validator(mode="after")
    def _unique_step_ids(self) -> Scenario:
        seen: dict[str, int] = {}
        for index, step in enumerate(self.steps):
            step_id = step_id_of(step, index)
            if step_id in seen:
                raise PydanticCustomError(
                    STEP_ID_REUSED,
                    "step id '{step_id}' is used twice (steps[{first}] and steps[{index}]); "
                    "give each step its own id",
                    {"step_id": step_id, "first": seen[step_id], "index": index},
                )
            seen[step_id] = index
        return self

    @field_validator("chaos")
    @classmethod
    def _one_profile(cls, value: Any) -> Any:
        if isinstance(value, list) and sum(isinstance(item, str) for item in value) > 1:
            raise ValueError("name at most one chaos profile in the list, e.g. [gentle, {type: error, ...}]")
        return value

    @property
    def chaos_profile(self) -> str | None:
        """The chaos profile this scenario names, if any."""
        if isinstance(self.chaos, str):
            return self.chaos
        if isinstance(self.chaos, list):
            return next((item for item in self.chaos if isinstance(item, str)), None)
        return None

    @property
    def chaos_rules(self) -> list[ChaosInjection]:
        """The chaos rules of the list form (empty when there are none)."""
        if isinstance(self.chaos, list):
            return [item for item in self.chaos if isinstance(item, ChaosInjection)]
        return []

    def step_ids(self) -> list[str]:
        return [step_id_of(step, index) for index, step in enumerate(self.steps)]


def step_id_of(step: UserStep | HttpStep | BrowserStep | WaitForStep | TwinStep, index: int) -> str:
    """A step's id: its own, or ``step_NN`` from its 1-based position."""
    return step.id or f"step_{index + 1:02d}"


def step_kind(step: UserStep | HttpStep | BrowserStep | WaitForStep | TwinStep) -> str:
    """``user``, ``http``, ``browser``, ``wait_for`` or ``twin``."""
    for kind in _STEP_KINDS:
        if kind in type(step).model_fields:
            return kind
    raise AssertionError(f"unknown step model {type(step).__name__}")  # pragma: no cover
