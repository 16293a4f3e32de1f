"""Satisfaction thresholds: the share of satisfactory trajectories a scenario or a domain must reach.

A scenario passes when its satisfaction (satisfied trajectories / trajectories) is at least its
threshold, found by :func:`threshold_for`, most specific first:

1. the scenario file's own ``threshold``;
2. the policy's ``scenarios[<scenario id>]``;
3. the policy's ``domains[<domain>]``;
4. the policy's ``global`` threshold (0.80 by default).

A domain passes when the mean satisfaction of its scenarios reaches :func:`domain_threshold`
(``domains[<domain>]``, else ``global``), and the run as a whole when its overall satisfaction
reaches ``global``.

The thresholds are the policy document ``satisfaction`` (default in
``defaults/satisfaction.yaml``; a project overrides any of them in
``.orchestrator/policy/satisfaction.yaml``), validated as :class:`SatisfactionPolicy`. Pure: no
I/O.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["POLICY_NAME", "SatisfactionPolicy", "Threshold", "domain_threshold", "threshold_for"]

POLICY_NAME = "satisfaction"

Threshold = Annotated[float, Field(ge=0.0, le=1.0)]
"""A share of satisfactory trajectories, 0..1."""


class SatisfactionPolicy(BaseModel):
    """The ``satisfaction`` policy document (the global threshold is the key ``global`` in a file)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    global_threshold: Threshold = Field(
        default=0.80,
        alias="global",
        examples=[0.8],
        description="Threshold of every scenario and domain that nothing more specific sets.",
    )
    domains: dict[str, Threshold] = Field(
        default_factory=dict, description="Threshold per domain (a catalog folder), over the global one."
    )
    scenarios: dict[str, Threshold] = Field(
        default_factory=dict,
        description="Threshold per scenario id, over its domain's; a scenario file's own wins over it.",
    )


def threshold_for(
    policy: SatisfactionPolicy, *, scenario_id: str, domain: str, scenario_threshold: float | None
) -> float:
    """The threshold scenario ``scenario_id`` of ``domain`` must reach (see the module docstring)."""
    if scenario_threshold is not None:
        return scenario_threshold
    if scenario_id in policy.scenarios:
        return policy.scenarios[scenario_id]
    return domain_threshold(policy, domain)


def domain_threshold(policy: SatisfactionPolicy, domain: str) -> float:
    """The threshold the mean satisfaction of ``domain``'s scenarios must reach."""
    return policy.domains.get(domain, policy.global_threshold)
