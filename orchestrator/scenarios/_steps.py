"""The steps of a scenario file: each has exactly one action, told apart by its key.

- ``user: "text"``: a message to the system under test's assistant endpoint (one session per
  trajectory);
- ``http: {method, path, json?, headers?, query?}``: a call to the system under test;
- ``browser: [steps]``: Playwright steps on its web UI, in the UI gate's journey vocabulary;
- ``wait_for: {api_call: {...} | twin_state: {...}, timeout_ms}``: wait until a twin saw a
  request, or its state holds a value;
- ``twin: {service, reset | seed | assert}``: act on a twin directly.

Any step may carry ``expect`` (what its answer must show) and ``stop_on_fail``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    field_validator,
    model_validator,
)

from orchestrator.policy.test_profiles import StepSpec
from orchestrator.scenarios._checks import (
    ApiCallCheck,
    JsonPath,
    ScenarioPart,
    StateAssertion,
    TwinStateCheck,
    closest_kind,
)

__all__ = [
    "STEP_ID_REUSED",
    "BrowserStep",
    "Expectation",
    "HttpRequest",
    "HttpStep",
    "ScenarioStep",
    "TwinAction",
    "TwinStep",
    "UserStep",
    "WaitForSpec",
    "WaitForStep",
    "step_id_of",
    "step_kind",
]

_STEP_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
STEP_ID_REUSED = "step_id_reused"
"""The error type of a step id used twice; its context holds ``index``, the second step's position."""
_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


# ------------------------------------------------------------------------------------ steps


class Expectation(ScenarioPart):
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


class _Step(ScenarioPart):
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


class HttpRequest(ScenarioPart):
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


class WaitForSpec(ScenarioPart):
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


class TwinAction(ScenarioPart):
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
        return closest_kind(data, _STEP_KINDS, frozenset(_Step.model_fields))
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


def step_id_of(step: UserStep | HttpStep | BrowserStep | WaitForStep | TwinStep, index: int) -> str:
    """A step's id: its own, or ``step_NN`` from its 1-based position."""
    return step.id or f"step_{index + 1:02d}"


def step_kind(step: UserStep | HttpStep | BrowserStep | WaitForStep | TwinStep) -> str:
    """``user``, ``http``, ``browser``, ``wait_for`` or ``twin``."""
    for kind in _STEP_KINDS:
        if kind in type(step).model_fields:
            return kind
    raise AssertionError(f"unknown step model {type(step).__name__}")  # pragma: no cover
