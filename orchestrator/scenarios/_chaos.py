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

from orchestrator.errors import UsageError
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
    for a twin the scenario does not use, or a route the twin lacks is a :class:`UsageError`
    naming the scenario (``source``), the rule and the fix.
    """
    where = source or f"scenario {scenario.id}"
    profile = scenario.chaos_profile
    rules = scenario.chaos_rules
    if profile is None and not rules:
        profile = run_profile
    base: ChaosConfig | None = None
    if profile is not None and profile != NO_CHAOS:
        if profile not in profiles:
            known = ", ".join([NO_CHAOS, *sorted(profiles)])
            raise UsageError(f"{where}: unknown chaos profile {profile!r} (known: {known})")
        base = profiles[profile]
    if not rules:
        return ResolvedChaos(base, profile if base is not None else None)
    overrides: dict[str, dict[str, Any]] = {
        key: modes.model_dump(exclude_none=True) for key, modes in (base.routes if base else {}).items()
    }
    for index, rule in enumerate(rules):
        if rule.target not in route_ids:
            raise UsageError(
                f"{where}: chaos[{index}] targets twin {rule.target!r}, which the scenario does not use; "
                f"add it to context.services or target one of: {', '.join(sorted(route_ids)) or 'none'}"
            )
        routes = list(route_ids[rule.target])
        if rule.route is not None:
            if rule.route not in routes:
                raise UsageError(
                    f"{where}: chaos[{index}].route {rule.route!r} is not a route of the {rule.target} "
                    f"twin; use one of: {', '.join(routes)}"
                )
            routes = [rule.route]
        for route in routes:
            overrides.setdefault(f"{rule.target}.{route}", {}).update(rules_to_modes(rule))
    document = base.model_dump(exclude_none=True) if base is not None else {}
    try:
        document["routes"] = {key: ChaosModes.model_validate(modes) for key, modes in overrides.items()}
        config = ChaosConfig.model_validate(document)
    except ValueError as exc:
        raise UsageError(f"{where}: its chaos rules do not fit together: {exc}") from None
    label = f"{profile}+scenario" if base is not None else "scenario"
    return ResolvedChaos(config, label)
