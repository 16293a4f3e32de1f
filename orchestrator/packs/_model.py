"""The models of the files users write: a domain scenario (its steps) and a pack of scenarios.

A :class:`DomainScenario` validates its rules across steps (step ids unique, placeholders that
can be filled) when it is built; a loader that wants every such problem at its own field and
line validates with the context ``{"rules": False}`` and asks :func:`scenario_problems`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator

from orchestrator.packs._expect import ExpectItem, PackPart
from orchestrator.packs._placeholders import placeholder_problems
from orchestrator.scenarios import KebabDomain, KebabId, Persona

__all__ = [
    "DEFAULT_GATE",
    "DEFAULT_MAX_ITERATIONS",
    "DomainScenario",
    "DomainStep",
    "PackFile",
    "ScenarioIssue",
    "scenario_problems",
]

DEFAULT_GATE = 80
DEFAULT_MAX_ITERATIONS = 5
_STEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

ScenarioIssue = tuple[str, str, str]
"""A problem of a valid-looking scenario: ``(field, problem, fix)``, the field relative to it."""


class DomainStep(PackPart):
    """One question to the assistant and what its answer must show."""

    id: str = Field(examples=["step_01_inventory"], description="Letters, digits, _ and -; unique.")
    question: str = Field(min_length=1, description="Sent as the user's message; may hold placeholders.")
    decision: bool = Field(default=False, description="The answer is a decision the user must make.")
    expect: list[ExpectItem] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _step_id(cls, value: str) -> str:
        if not _STEP_ID.fullmatch(value):
            raise ValueError(
                "a step id is letters, digits, _ and -, starting with a letter or digit, "
                "e.g. step_01_inventory"
            )
        return value


class DomainScenario(PackPart):
    """A brief, an optional persona, and steps asked in order in one session."""

    kind: Literal["domain"] = "domain"
    id: KebabId = Field(
        examples=["stock-check"], description="Kebab-case, 3-50 characters, unique in a pack."
    )
    brief: str = Field(min_length=1, description="What the scenario is about, for people and the analyst.")
    persona: Persona | None = None
    steps: list[DomainStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> DomainScenario:
        context = info.context if isinstance(info.context, Mapping) else {}
        if context.get("rules", True):
            issues = scenario_problems(self)
            if issues:
                field, problem, fix = issues[0]
                raise ValueError(f"{field} {problem}; {fix}")
        return self

    def step_ids(self) -> list[str]:
        return [step.id for step in self.steps]


def scenario_problems(scenario: DomainScenario) -> list[ScenarioIssue]:
    """Every rule across the steps of ``scenario`` it breaks: ``[(field, problem, fix)]``.

    Step ids are unique; each question's placeholders name earlier steps or session fields,
    with paths that compile, and none is left unclosed.
    """
    issues: list[ScenarioIssue] = []
    ids = scenario.step_ids()
    seen: dict[str, int] = {}
    for index, step in enumerate(scenario.steps):
        if step.id in seen:
            issues.append(
                (
                    f"steps[{index}].id",
                    f"is {step.id!r}, the id of steps[{seen[step.id]}] too",
                    "give each step its own id",
                )
            )
        seen.setdefault(step.id, index)
        for problem, fix in placeholder_problems(step.question, earlier=ids[:index], later=ids[index:]):
            issues.append((f"steps[{index}].question", problem, fix))
    return issues


def _entry_kind(data: Any) -> str | None:
    """``file`` for a path, ``inline`` for a scenario written in the pack (its union tag)."""
    if isinstance(data, str):
        return "file"
    return "inline" if isinstance(data, Mapping | DomainScenario) else None


ScenarioEntry = Annotated[
    Annotated[str, Field(min_length=1), Tag("file")] | Annotated[DomainScenario, Tag("inline")],
    Discriminator(
        _entry_kind,
        custom_error_type="pack_scenario",
        custom_error_message=(
            "a pack's scenario is a path to a .scenario.yaml file (relative to the pack file) or a "
            "scenario written in place, e.g. stock-check.scenario.yaml"
        ),
    ),
]


class PackFile(PackPart):
    """A ``*.pack.yaml`` file as written: scenarios are inline or paths still to read."""

    id: KebabId = Field(examples=["retail-basics"], description="Kebab-case, 3-50 characters.")
    domain: KebabDomain = Field(examples=["retail"], description="Kebab-case, 1-50 characters.")
    scenarios: list[ScenarioEntry] = Field(min_length=1)
    gate: int = Field(default=DEFAULT_GATE, ge=0, le=100, description="Score (0-100) that ends the loop.")
    max_iterations: int = Field(default=DEFAULT_MAX_ITERATIONS, ge=1)
