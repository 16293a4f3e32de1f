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

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from orchestrator.scenarios._checks import (
    Criterion,
    ScenarioPart,
)
from orchestrator.scenarios._steps import (
    STEP_ID_REUSED,
    ScenarioStep,
    step_id_of,
)

__all__ = [
    "SCENARIO_ID",
    "ChaosInjection",
    "JudgeSettings",
    "KebabDomain",
    "KebabId",
    "Persona",
    "Scenario",
    "ScenarioContext",
]


SCENARIO_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,48})[a-z0-9]$")
"""Kebab-case, 3 to 50 characters: letters, digits and single hyphens inside."""
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")


def _kebab_id(value: str) -> str:
    if not SCENARIO_ID.fullmatch(value) or "--" in value:
        raise ValueError(
            "an id is kebab-case, 3-50 characters: lowercase letters, digits and -, e.g. slack-to-jira"
        )
    return value


def _kebab_domain(value: str) -> str:
    if not _DOMAIN.fullmatch(value) or "--" in value:
        raise ValueError(
            "a domain is kebab-case, 1-50 characters: lowercase letters, digits and -, e.g. integrations"
        )
    return value


KebabId = Annotated[str, AfterValidator(_kebab_id)]
"""An id users write (a scenario's, a pack's): kebab-case, 3-50 characters."""
KebabDomain = Annotated[str, AfterValidator(_kebab_domain)]
"""A domain's name: kebab-case, 1-50 characters."""


# ------------------------------------------------------------------------------ the scenario


class Persona(ScenarioPart):
    role: str = Field(min_length=1, examples=["support engineer"])
    expertise: str = Field(default="", examples=["novice"])
    goals: list[str] = Field(default_factory=list)


class ScenarioContext(ScenarioPart):
    state: dict[str, JsonValue] = Field(default_factory=dict, description="Free values for placeholders.")
    services: list[str] = Field(default_factory=list, description="Twins this scenario needs.")
    data: dict[str, JsonValue] = Field(
        default_factory=dict, description="Seed data per twin (the catalog checks each is in services)."
    )


ChaosType = Literal[
    "latency", "error", "timeout", "partial_response", "stale_data", "auth_expired", "connection_reset"
]


class ChaosInjection(ScenarioPart):
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


class JudgeSettings(ScenarioPart):
    model: str | None = Field(default=None, description="Model for this scenario's text criteria.")
    system_prompt: str | None = None
    strict_mode: bool = Field(default=False, description="A matched anti-pattern decides, without a model.")


class Scenario(ScenarioPart):
    """One scenario file (see the module docstring)."""

    id: KebabId = Field(examples=["slack-to-jira"], description="Kebab-case, 3-50 characters, unique.")
    domain: KebabDomain = Field(
        examples=["integrations"], description="Kebab-case, 1-50 characters; the folder."
    )
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
