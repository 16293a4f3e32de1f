"""A twin's chaos engine: the active configuration, the seeded RNG, and one roll per request.

Rolls happen in the order requests reach the twin's routes (admin calls and uncovered paths do
not roll), under a lock, so request *n* after a reset always consumes the same three draws of
``random.Random(seed)`` (see :mod:`orchestrator.policy.chaos`). With chaos off, requests do not
draw at all. Modes the twin does not support are dropped from every configuration it is given.

Profiles come from the ``chaos-profiles`` policy: the shipped ``gentle``, ``moderate`` and
``hostile``, plus whatever the project's ``.orchestrator/policy/chaos-profiles.yaml`` adds. One
configuration serves all the twins of a run: an engine takes the route overrides keyed with its
twin's name (``github.get_issue``) and leaves the rest to the other twins.
"""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError, UsageError
from orchestrator.policy.chaos import ChaosConfig, ChaosDecision, ChaosModes, ChaosProfiles, roll
from orchestrator.policyfiles import load_policy_model

__all__ = [
    "CHAOS_POLICY",
    "ChaosEngine",
    "Roll",
    "load_chaos_profiles",
    "new_seed",
    "resolve_chaos_profile",
]

CHAOS_POLICY = "chaos-profiles"


def new_seed() -> int:
    """A fresh random seed (recorded in every journal entry, so the run can be replayed)."""
    return secrets.randbelow(2**31)


def load_chaos_profiles(project_root: Path | None) -> dict[str, ChaosConfig]:
    """All chaos profiles: shipped defaults merged with the project's own."""
    return dict(load_policy_model(CHAOS_POLICY, ChaosProfiles, project_root).profiles)


def resolve_chaos_profile(name: str, profiles: Mapping[str, ChaosConfig]) -> ChaosConfig:
    """The profile ``name``; an unknown name is a :class:`UsageError` listing the known ones."""
    try:
        return profiles[name]
    except KeyError:
        known = ", ".join(sorted(profiles)) or "none"
        raise UsageError(
            f"unknown chaos profile {name!r} (known: {known}); add it under `profiles:` in "
            ".orchestrator/policy/chaos-profiles.yaml or pick a known one"
        ) from None


@dataclass(frozen=True, slots=True)
class Roll:
    """One request's roll: its index since the last reseed, the seed, the decision, the time scale."""

    index: int
    seed: int
    decision: ChaosDecision
    time_scale: float = 1.0

    def record(self) -> dict[str, Any] | None:
        """The journal's ``chaos`` field: ``None``, or the mode, probability, seed and details.

        The top level describes the fault when one fired (else the latency); ``injections`` lists
        everything injected, latency first.
        """
        decision = self.decision
        if not decision.injected:
            return None
        injections: list[dict[str, Any]] = []
        if decision.latency_probability is not None:
            injections.append(
                {
                    "mode": "latency",
                    "probability": decision.latency_probability,
                    "delay_ms": round(decision.latency_ms, 3),
                }
            )
        if decision.fault is not None and decision.fault_mode is not None:
            details = decision.fault_mode.model_dump(exclude={"probability"})
            injections.append(
                {"mode": decision.fault, "probability": decision.fault_mode.probability, **details}
            )
        primary = injections[-1]
        return {**primary, "seed": self.seed, "roll": self.index, "injections": injections}


class ChaosEngine:
    """Holds one twin's chaos configuration and RNG; thread-safe."""

    def __init__(
        self,
        *,
        twin: str,
        supported: frozenset[str],
        route_ids: frozenset[str],
        seed: int | None = None,
        config: ChaosConfig | None = None,
        profile: str | None = None,
        source: str = "chaos",
    ) -> None:
        self._twin = twin
        self._supported = supported
        self._route_ids = route_ids
        self._lock = threading.Lock()
        self._seed = seed if seed is not None else new_seed()
        # A reproducible stream is the point here; nothing secret is drawn from it.
        self._rng = random.Random(self._seed)  # noqa: S311
        self._rolls = 0
        self._config: ChaosConfig | None = None
        self._profile: str | None = None
        self._per_route: dict[str | None, ChaosModes] = {}
        self.configure(config, profile=profile, source=source)

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def rolls(self) -> int:
        return self._rolls

    @property
    def config(self) -> ChaosConfig | None:
        return self._config

    @property
    def profile(self) -> str | None:
        return self._profile

    def configure(
        self, config: ChaosConfig | None, *, profile: str | None = None, source: str = "chaos"
    ) -> None:
        """Make ``config`` (``None``: chaos off) active.

        Route overrides keyed with this twin's name must name one of its routes; the keys of
        other twins are theirs.
        """
        per_route: dict[str | None, ChaosModes] = {}
        if config is not None:
            prefix = f"{self._twin}."
            mine = {key: key[len(prefix) :] for key in config.routes if key.startswith(prefix)}
            unknown = sorted(key for key, route_id in mine.items() if route_id not in self._route_ids)
            if unknown:
                known = ", ".join(prefix + route_id for route_id in sorted(self._route_ids))
                raise ConfigError(
                    None if source == "chaos" else source,
                    f"routes.{unknown[0]}",
                    f"is not a route of the {self._twin} twin (its routes: {known})",
                    "key an override as twin.route with a route id that `orchestrate twin check` lists",
                )
            per_route[None] = config.for_route(None).only(self._supported)
            for key, route_id in mine.items():
                per_route[route_id] = config.for_route(key).only(self._supported)
            if all(modes.is_off() for modes in per_route.values()):
                per_route = {}
        with self._lock:
            self._config = config
            self._profile = profile if config is not None else None
            self._per_route = per_route

    def reseed(self, seed: int | None = None) -> int:
        """Restart the RNG from ``seed`` (default: the current seed); return the seed in force."""
        with self._lock:
            if seed is not None:
                self._seed = seed
            self._rng = random.Random(self._seed)  # noqa: S311
            self._rolls = 0
            return self._seed

    def roll(self, route_id: str) -> Roll | None:
        """Roll one request on ``route_id``; ``None`` when chaos is off."""
        per_route = self._per_route
        if not per_route:
            return None
        modes = per_route.get(route_id) or per_route[None]
        scale = self._config.time_scale if self._config is not None else 1.0
        with self._lock:
            self._rolls += 1
            return Roll(self._rolls, self._seed, roll(modes, self._rng, time_scale=scale), scale)

    def describe(self) -> dict[str, Any]:
        """What ``GET /__twin/chaos`` answers."""
        with self._lock:
            return {
                "seed": self._seed,
                "rolls": self._rolls,
                "profile": self._profile,
                "config": self._config.model_dump(mode="json", exclude_none=True) if self._config else None,
                "supported_modes": sorted(self._supported),
            }
