"""Chaos for digital twins: the profile models and the per-request roll.

A pure rule: no I/O and no randomness of its own. The caller (a twin's chaos engine) owns a
seeded ``random.Random`` and passes it in; given the same RNG state and the same modes,
:func:`roll` returns the same decision, which is what makes a seeded run replay exactly.

How one request rolls (the order is part of the contract, so a seed replays):

1. Every request draws exactly three numbers from the RNG, whatever the modes are:
   ``u_latency``, ``u_delay`` and ``u_fault``. A fixed count keeps request *n* on draws
   ``3n .. 3n+2`` of the stream even when the configuration changes between requests.
2. Latency is independent of the rest: it applies when ``u_latency < latency.probability``, and
   its delay is ``u_delay`` mapped through the mode's distribution (uniform, normal or
   exponential, clamped to ``min_ms .. max_ms``).
3. At most one fault applies: the faults' probabilities are laid end to end in
   :data:`FAULT_ORDER` and ``u_fault`` picks the interval it falls in (or none). So each
   fault's rate is exactly its probability, and their sum may not exceed 1.

The profiles themselves are the policy document ``chaos-profiles`` (default in
``defaults/chaos-profiles.yaml``; a project adds or changes profiles in its own
``.orchestrator/policy/chaos-profiles.yaml``), validated as :class:`ChaosProfiles`.

One profile serves every twin of a run, so its per-route overrides are keyed ``twin.route``
(``github.create_issue``, ``openai.chat_completions``): each twin applies the keys that name it
and leaves the others to their twins.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "FAULT_ORDER",
    "MODE_NAMES",
    "ROUTE_KEY",
    "AuthExpiredMode",
    "ChaosConfig",
    "ChaosDecision",
    "ChaosModes",
    "ChaosProfiles",
    "ConnectionResetMode",
    "FaultMode",
    "FaultName",
    "LatencyMode",
    "ModeName",
    "PartialResponseMode",
    "RateLimitMode",
    "ServerErrorMode",
    "StaleDataMode",
    "TimeoutMode",
    "roll",
]

FaultName = Literal[
    "error_429",
    "error_500",
    "error_503",
    "timeout",
    "partial_response",
    "stale_data",
    "auth_expired",
    "connection_reset",
]
ModeName = Literal[
    "latency",
    "error_429",
    "error_500",
    "error_503",
    "timeout",
    "partial_response",
    "stale_data",
    "auth_expired",
    "connection_reset",
]

FAULT_ORDER: tuple[FaultName, ...] = get_args(FaultName)
"""The order in which fault probabilities are laid end to end for the fault draw."""
MODE_NAMES: tuple[ModeName, ...] = get_args(ModeName)

ROUTE_KEY = re.compile(r"(?P<twin>[a-z][a-z0-9_-]*)\.(?P<route>\S.*)")
"""A per-route override key: the twin's name, a dot, and one of its route ids."""

# A probability sum a hair over 1 from decimal rounding in a file is still a valid profile.
_SUM_TOLERANCE = 1e-9
_NORMAL = NormalDist()


class _Mode(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    probability: float = Field(ge=0.0, le=1.0, examples=[0.05], description="Chance per request, 0..1.")


class LatencyMode(_Mode):
    """Delay the response by ``min_ms .. max_ms`` milliseconds, drawn from ``distribution``.

    ``normal`` is centred between the bounds with a sixth of their span as its standard
    deviation; ``exponential`` adds to ``min_ms`` a delay with a mean of a quarter of the span.
    Both are clamped to the bounds.
    """

    min_ms: float = Field(default=0.0, ge=0.0)
    max_ms: float = Field(ge=0.0, examples=[1000])
    distribution: Literal["uniform", "normal", "exponential"] = "uniform"

    @model_validator(mode="after")
    def _bounds_in_order(self) -> LatencyMode:
        if self.max_ms < self.min_ms:
            raise ValueError(f"max_ms ({self.max_ms}) must not be below min_ms ({self.min_ms})")
        return self

    def delay_ms(self, u: float) -> float:
        """The delay for a uniform draw ``u`` in [0, 1) (inverse of the distribution's CDF)."""
        span = self.max_ms - self.min_ms
        if span <= 0:
            return self.min_ms
        if self.distribution == "uniform":
            offset = u * span
        elif self.distribution == "normal":
            z = _NORMAL.inv_cdf(min(max(u, 1e-12), 1.0 - 1e-12))
            offset = span / 2 + z * span / 6
        else:
            offset = -math.log1p(-u) * span / 4
        return self.min_ms + min(max(offset, 0.0), span)


class RateLimitMode(_Mode):
    """Answer 429 with a ``Retry-After`` header of ``retry_after_s`` seconds."""

    retry_after_s: int = Field(default=1, ge=0)


class ServerErrorMode(_Mode):
    """Answer 500 or 503 (503 also sends ``Retry-After`` when ``retry_after_s`` is set)."""

    retry_after_s: int | None = Field(default=None, ge=0)


class TimeoutMode(_Mode):
    """Hold the connection for ``hold_s`` seconds (past a client's patience), then answer 504."""

    hold_s: float = Field(default=30.0, gt=0.0)


class PartialResponseMode(_Mode):
    """Send only the first ``keep_fraction`` of the body's bytes (a truncated, unparsable body)."""

    keep_fraction: float = Field(default=0.5, ge=0.0, lt=1.0)


class StaleDataMode(_Mode):
    """Read from a snapshot of the twin's state at least ``age_s`` seconds old."""

    age_s: float = Field(default=30.0, gt=0.0)


class AuthExpiredMode(_Mode):
    """Answer 401 with the twin's token-expired body, whatever the credentials."""


class ConnectionResetMode(_Mode):
    """Drop the TCP connection without an answer."""


FaultMode = (
    RateLimitMode
    | ServerErrorMode
    | TimeoutMode
    | PartialResponseMode
    | StaleDataMode
    | AuthExpiredMode
    | ConnectionResetMode
)


class ChaosModes(BaseModel):
    """The modes in force for a request; a mode left out never fires."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency: LatencyMode | None = None
    error_429: RateLimitMode | None = None
    error_500: ServerErrorMode | None = None
    error_503: ServerErrorMode | None = None
    timeout: TimeoutMode | None = None
    partial_response: PartialResponseMode | None = None
    stale_data: StaleDataMode | None = None
    auth_expired: AuthExpiredMode | None = None
    connection_reset: ConnectionResetMode | None = None

    @model_validator(mode="after")
    def _faults_fit_in_one_draw(self) -> ChaosModes:
        total = sum(mode.probability for _, mode in self.faults())
        if total > 1.0 + _SUM_TOLERANCE:
            names = ", ".join(name for name, _ in self.faults())
            raise ValueError(
                f"the fault probabilities ({names}) add up to {total:g}; at most one fault applies "
                "per request, so they may add up to 1 at most"
            )
        return self

    def faults(self) -> list[tuple[FaultName, FaultMode]]:
        """The configured faults in :data:`FAULT_ORDER`."""
        found: list[tuple[FaultName, FaultMode]] = []
        for name in FAULT_ORDER:
            mode = getattr(self, name)
            if mode is not None:
                found.append((name, mode))
        return found

    def only(self, names: frozenset[str]) -> ChaosModes:
        """These modes without those not in ``names`` (a twin that does not support a mode)."""
        dropped: dict[str, None] = {
            name: None for name in MODE_NAMES if name not in names and getattr(self, name) is not None
        }
        return self.model_copy(update=dropped) if dropped else self

    def is_off(self) -> bool:
        """Whether no mode can ever fire."""
        return all(getattr(self, name) is None or getattr(self, name).probability == 0 for name in MODE_NAMES)


class ChaosConfig(ChaosModes):
    """Chaos for the twins of a run: modes for every request, per-route overrides, a time scale.

    ``routes`` maps ``twin.route`` (``github.get_issue``: a twin's name and one of its route ids)
    to modes that replace the base ones mode by mode (a mode set to probability 0 there switches
    it off for that route); a twin ignores the keys of other twins. ``time_scale`` multiplies
    every latency, hold and ``Retry-After`` duration: 1 in production, small in tests.
    """

    routes: dict[str, ChaosModes] = Field(default_factory=dict)
    time_scale: float = Field(default=1.0, ge=0.0)

    @field_validator("routes")
    @classmethod
    def _keys_name_twin_and_route(cls, routes: dict[str, ChaosModes]) -> dict[str, ChaosModes]:
        for key in routes:
            if not ROUTE_KEY.fullmatch(key):
                raise ValueError(
                    f"the key {key!r} does not name a twin and a route; key an override as twin.route, "
                    "for example github.create_issue"
                )
        return routes

    @model_validator(mode="after")
    def _route_overrides_fit(self) -> ChaosConfig:
        for key in self.routes:
            self.for_route(key)  # raises when the merged modes exceed one draw
        return self

    def for_route(self, key: str | None) -> ChaosModes:
        """The modes in force for ``key`` (``twin.route``): its override laid over the base modes."""
        base: dict[str, Any] = {name: getattr(self, name) for name in MODE_NAMES}
        override = self.routes.get(key) if key is not None else None
        if override is not None:
            base.update({name: getattr(override, name) for name in override.model_fields_set})
        return ChaosModes(**base)


class ChaosProfiles(BaseModel):
    """The ``chaos-profiles`` policy document: named chaos configurations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profiles: dict[str, ChaosConfig] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChaosDecision:
    """What one request's roll decided: an optional delay and at most one fault."""

    latency_ms: float
    """Delay before answering, already multiplied by the time scale (0 when latency did not fire)."""
    latency_probability: float | None
    """The latency mode's probability when it fired, else ``None``."""
    fault: FaultName | None
    fault_mode: FaultMode | None

    @property
    def injected(self) -> bool:
        return self.latency_probability is not None or self.fault is not None


_NOTHING = ChaosDecision(latency_ms=0.0, latency_probability=None, fault=None, fault_mode=None)


def roll(modes: ChaosModes, rng: random.Random, *, time_scale: float = 1.0) -> ChaosDecision:
    """Roll one request against ``modes`` (see the module docstring for the draw order)."""
    u_latency, u_delay, u_fault = rng.random(), rng.random(), rng.random()
    latency_ms = 0.0
    latency_probability: float | None = None
    if modes.latency is not None and u_latency < modes.latency.probability:
        latency_ms = modes.latency.delay_ms(u_delay) * time_scale
        latency_probability = modes.latency.probability
    edge = 0.0
    for name, mode in modes.faults():
        edge += mode.probability
        if u_fault < edge:
            return ChaosDecision(latency_ms, latency_probability, name, mode)
    if latency_probability is None:
        return _NOTHING
    return ChaosDecision(latency_ms, latency_probability, None, None)
