"""A trajectory's chaos: the scenario's own rules and profile, or the run's profile.

Resolution: a scenario that says something about chaos (a profile, rules, or both) gets exactly
that; a scenario that says nothing gets the run's ``--chaos-profile`` (``none`` switches chaos
off). The list form, ``{type, target, probability, delay_ms?, code?, route?}``, becomes per-route
overrides of the twins' chaos configuration (``jira.create_issue``): a rule without ``route``
applies to every route of its twin, and rules on one route merge mode by mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from rapidfuzz import process

from orchestrator.errors import ConfigError
from orchestrator.policy.chaos import ChaosConfig, ChaosModes
from orchestrator.scenarios._model import ChaosInjection, Scenario

__all__ = ["NO_CHAOS", "ResolvedChaos", "resolve_chaos", "rules_to_modes"]

NO_CHAOS = "none"
"""The profile name that switches chaos off."""

_DEFAULT_LATENCY_MS = 1000.0


class ResolvedChaos:
    """The chaos of one scenario's trajectories: a configuration (or none) and how it was named."""

    def __init__(self, config: ChaosConfig | None, label: str | None) -> None:
        self.config = config
        self.label = label
        """The profile name, ``scenario`` for rules alone, ``<profile>+scenario`` for both, or None."""


def rules_to_modes(rule: ChaosInjection) -> dict[str, Any]:
    """One list-form rule as the chaos modes it stands for (``{"error_429": {...}}``)."""
    base: dict[str, Any] = {"probability": rule.probability}
    match rule.type:
        case "latency":
            delay = rule.delay_ms if rule.delay_ms is not None else _DEFAULT_LATENCY_MS
            return {"latency": {**base, "min_ms": delay, "max_ms": delay}}
        case "error":
            return {f"error_{rule.code or 500}": base}
        case "timeout":
            hold = {"hold_s": rule.delay_ms / 1000} if rule.delay_ms else {}
            return {"timeout": {**base, **hold}}
        case _:
            return {rule.type: base}


def resolve_chaos(
    scenario: Scenario,
    *,
    run_profile: str | None,
    profiles: Mapping[str, ChaosConfig],
    route_ids: Mapping[str, Sequence[str]],
    source: str = "",
) -> ResolvedChaos:
    """The chaos for ``scenario``'s trajectories (see the module docstring).

    ``route_ids`` maps each twin the scenario uses to its route ids. An unknown profile, a rule
    for a twin the scenario does not use, a route the twin lacks, or rules whose faults on one
    route add up to more than one draw is a :class:`ConfigError` about ``source`` (the scenario's
    file, or ``scenario ID`` by default) naming the field (``chaos``, ``chaos[1].route``) and the fix.
    """
    where = source or f"scenario {scenario.id}"
    items = scenario.chaos if isinstance(scenario.chaos, list) else []
    profile = scenario.chaos_profile
    rules = [(index, item) for index, item in enumerate(items) if isinstance(item, ChaosInjection)]
    if profile is None and not rules:
        profile = run_profile
    base: ChaosConfig | None = None
    if profile is not None and profile != NO_CHAOS:
        if profile not in profiles:
            field = next((f"chaos[{index}]" for index, item in enumerate(items) if item == profile), "chaos")
            known = [NO_CHAOS, *sorted(profiles)]
            close = process.extractOne(profile, known, score_cutoff=60)
            hint = f"write {close[0]} (the closest name), or another of: " if close else "use one of: "
            raise ConfigError(
                where,
                field,
                f"names the chaos profile {profile!r}, which does not exist",
                hint + ", ".join(known),
            )
        base = profiles[profile]
    if not rules:
        return ResolvedChaos(base, profile if base is not None else None)
    overrides: dict[str, dict[str, Any]] = {
        key: modes.model_dump(exclude_none=True) for key, modes in (base.routes if base else {}).items()
    }
    last_rule: dict[str, int] = {}
    used = ", ".join(sorted(route_ids))
    for index, rule in rules:
        if rule.target not in route_ids:
            raise ConfigError(
                where,
                f"chaos[{index}].target",
                f"is {rule.target!r}, a twin the scenario does not use",
                f"add {rule.target} to context.services, or target one of: {used or 'none'}",
            )
        routes = list(route_ids[rule.target])
        if rule.route is not None:
            if rule.route not in routes:
                raise ConfigError(
                    where,
                    f"chaos[{index}].route",
                    f"is {rule.route!r}, which is not a route of the {rule.target} twin",
                    f"use one of: {', '.join(routes)}, or leave route out for every route",
                )
            routes = [rule.route]
        for route in routes:
            key = f"{rule.target}.{route}"
            overrides.setdefault(key, {}).update(rules_to_modes(rule))
            last_rule[key] = index
    document = base.model_dump(exclude_none=True) if base is not None else {}
    for key, modes in overrides.items():
        try:  # one route at a time, so that the error names the route and its rule
            ChaosConfig.model_validate({**document, "routes": {key: ChaosModes.model_validate(modes)}})
        except ValidationError as exc:
            why = str(exc.errors(include_url=False)[0]["msg"]).removeprefix("Value error, ")
            raise ConfigError(
                where,
                f"chaos[{last_rule[key]}]" if key in last_rule else "chaos",
                f"does not fit with the other chaos on {key}: {why}",
                "lower the probabilities of the rules (and the profile) for that route",
            ) from None
    config = ChaosConfig.model_validate({**document, "routes": overrides})
    label = f"{profile}+scenario" if base is not None else "scenario"
    return ResolvedChaos(config, label)
