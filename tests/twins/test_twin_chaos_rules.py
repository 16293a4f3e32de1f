"""The chaos rules: shipped profiles, validation, the roll order, and measured rates."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from orchestrator.errors import ConfigError, UsageError
from orchestrator.policy.chaos import FAULT_ORDER, ChaosConfig, ChaosModes, LatencyMode, roll
from orchestrator.twins import ChaosEngine, load_chaos_profiles, resolve_chaos_profile
from tests.twins.helpers import binomial_interval

ROLLS = 10_000


def test_binomial_interval_matches_the_normal_approximation() -> None:
    low, high = binomial_interval(10_000, 0.1)
    spread = 2.576 * math.sqrt(10_000 * 0.1 * 0.9)
    assert abs(low - (1000 - spread)) <= 2
    assert abs(high - (1000 + spread)) <= 2


def test_shipped_profiles_are_exactly_as_specified() -> None:
    profiles = load_chaos_profiles(None)
    assert set(profiles) >= {"gentle", "moderate", "hostile"}

    def summary(config: ChaosConfig) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in ("latency", *FAULT_ORDER):
            mode = getattr(config, name)
            if mode is not None:
                found[name] = mode.probability
        return found

    assert summary(profiles["gentle"]) == {"latency": 0.05, "error_500": 0.01}
    assert profiles["gentle"].latency is not None
    assert profiles["gentle"].latency.max_ms == 1000
    assert summary(profiles["moderate"]) == {
        "latency": 0.15,
        "error_429": 0.05,
        "error_500": 0.03,
        "timeout": 0.02,
    }
    assert profiles["moderate"].latency is not None
    assert profiles["moderate"].latency.max_ms == 3000
    assert summary(profiles["hostile"]) == {
        "latency": 0.30,
        "error_429": 0.10,
        "error_500": 0.08,
        "error_503": 0.05,
        "timeout": 0.05,
        "partial_response": 0.03,
        "auth_expired": 0.05,
    }
    assert profiles["hostile"].latency is not None
    assert profiles["hostile"].latency.max_ms == 5000


def test_a_project_adds_its_own_profile(tmp_path: Path) -> None:
    policy = tmp_path / ".orchestrator" / "policy"
    policy.mkdir(parents=True)
    (policy / "chaos-profiles.yaml").write_text(
        "profiles:\n  flaky-llm:\n    error_429: {probability: 0.2, retry_after_s: 3}\n", encoding="utf-8"
    )
    profiles = load_chaos_profiles(tmp_path)
    assert {"gentle", "moderate", "hostile", "flaky-llm"} <= set(profiles)
    flaky = resolve_chaos_profile("flaky-llm", profiles)
    assert flaky.error_429 is not None
    assert flaky.error_429.retry_after_s == 3


def test_a_bad_project_profile_names_its_file_and_field(tmp_path: Path) -> None:
    policy = tmp_path / ".orchestrator" / "policy"
    policy.mkdir(parents=True)
    (policy / "chaos-profiles.yaml").write_text(
        "profiles:\n  broken:\n    error_500: {probability: 1.5}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_chaos_profiles(tmp_path)
    assert caught.value.path == policy / "chaos-profiles.yaml"
    assert caught.value.field == "profiles.broken.error_500.probability"


def test_an_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown chaos profile 'wild'.*gentle, hostile, moderate"):
        resolve_chaos_profile("wild", load_chaos_profiles(None))


def test_fault_probabilities_may_not_add_up_past_one() -> None:
    with pytest.raises(ValidationError, match=r"add up to 1\.2"):
        ChaosModes.model_validate({"error_500": {"probability": 0.7}, "error_503": {"probability": 0.5}})
    with pytest.raises(ValidationError, match="add up to"):
        ChaosConfig.model_validate(
            {
                "error_500": {"probability": 0.7},
                "routes": {"github.list": {"error_503": {"probability": 0.5}}},
            }
        )


def test_route_overrides_replace_modes_one_by_one() -> None:
    config = ChaosConfig.model_validate(
        {
            "error_500": {"probability": 0.2},
            "latency": {"probability": 0.5, "max_ms": 10},
            "routes": {"github.get_issue": {"error_500": {"probability": 0}, "timeout": {"probability": 1}}},
        }
    )
    merged = config.for_route("github.get_issue")
    assert merged.error_500 is not None
    assert merged.error_500.probability == 0
    assert merged.timeout is not None
    assert merged.timeout.probability == 1
    assert merged.latency == config.latency
    assert config.for_route("github.other") == config.for_route(None)


@pytest.mark.parametrize("distribution", ["uniform", "normal", "exponential"])
def test_latency_stays_within_its_bounds(distribution: str) -> None:
    mode = LatencyMode(probability=1, min_ms=100, max_ms=300, distribution=distribution)
    rng = random.Random(3)
    delays = [mode.delay_ms(rng.random()) for _ in range(2000)]
    assert all(100 <= delay <= 300 for delay in delays)
    mean = sum(delays) / len(delays)
    expected = {"uniform": 200, "normal": 200, "exponential": 150}[distribution]
    assert abs(mean - expected) < 10
    assert mode.delay_ms(0.0) == 100


def test_each_request_draws_exactly_three_numbers() -> None:
    modes = ChaosModes.model_validate(
        {"latency": {"probability": 0.5, "max_ms": 10}, "error_500": {"probability": 0.1}}
    )
    rng, reference = random.Random(11), random.Random(11)
    for _ in range(25):
        roll(modes, rng)
        reference.random(), reference.random(), reference.random()
    assert rng.random() == reference.random()


def test_the_same_seed_gives_the_same_decisions() -> None:
    hostile = load_chaos_profiles(None)["hostile"]

    def sequence(seed: int) -> list[tuple[float, str | None]]:
        rng = random.Random(seed)
        return [(d.latency_ms, d.fault) for d in (roll(hostile, rng) for _ in range(500))]

    assert sequence(42) == sequence(42)
    assert sequence(42) != sequence(43)


MODE_CASES: list[tuple[str, dict[str, Any]]] = [
    ("latency", {"probability": 0.30, "min_ms": 0, "max_ms": 5000}),
    ("error_429", {"probability": 0.10}),
    ("error_500", {"probability": 0.08}),
    ("error_503", {"probability": 0.05}),
    ("timeout", {"probability": 0.05, "hold_s": 30}),
    ("partial_response", {"probability": 0.03}),
    ("stale_data", {"probability": 0.04, "age_s": 30}),
    ("auth_expired", {"probability": 0.05}),
    ("connection_reset", {"probability": 0.02}),
]


@pytest.mark.parametrize(("mode", "settings"), MODE_CASES, ids=[case[0] for case in MODE_CASES])
def test_each_modes_rate_over_ten_thousand_requests_is_within_the_binomial_interval(
    mode: str, settings: dict[str, Any]
) -> None:
    engine = ChaosEngine(
        twin="t",
        supported=frozenset({mode}),
        route_ids=frozenset({"route"}),
        seed=2024,
        config=ChaosConfig.model_validate({mode: settings, "time_scale": 0}),
    )
    fired = 0
    for _ in range(ROLLS):
        result = engine.roll("route")
        assert result is not None
        record = result.record()
        if record is not None:
            assert record["mode"] == mode
            assert record["probability"] == settings["probability"]
            assert record["seed"] == 2024
            fired += 1
    low, high = binomial_interval(ROLLS, settings["probability"])
    assert low <= fired <= high, f"{mode}: {fired} of {ROLLS}, expected {low}..{high}"


def test_all_hostile_modes_together_keep_their_rates() -> None:
    hostile = load_chaos_profiles(None)["hostile"]
    rng = random.Random(99)
    counts = dict.fromkeys(("latency", *FAULT_ORDER), 0)
    for _ in range(ROLLS):
        decision = roll(hostile, rng, time_scale=0)
        if decision.latency_probability is not None:
            counts["latency"] += 1
        if decision.fault is not None:
            counts[decision.fault] += 1
    for name, count in counts.items():
        mode = getattr(hostile, name)
        probability = mode.probability if mode is not None else 0.0
        low, high = binomial_interval(ROLLS, probability)
        assert low <= count <= high, f"{name}: {count} of {ROLLS}, expected {low}..{high}"


def test_the_engine_drops_unsupported_modes_and_draws_nothing_when_off() -> None:
    config = ChaosConfig.model_validate({"error_500": {"probability": 1}, "stale_data": {"probability": 0}})
    engine = ChaosEngine(
        twin="t", supported=frozenset({"latency"}), route_ids=frozenset({"r"}), seed=1, config=config
    )
    assert engine.roll("r") is None
    assert engine.rolls == 0


def test_route_overrides_must_name_routes_of_the_twin() -> None:
    config = ChaosConfig.model_validate(
        {"routes": {"github.no_such_route": {"error_500": {"probability": 1}}}}
    )
    with pytest.raises(ConfigError, match="no_such_route") as caught:
        ChaosEngine(
            twin="github",
            supported=frozenset({"error_500"}),
            route_ids=frozenset({"list_issues"}),
            config=config,
        )
    assert caught.value.field == "routes.github.no_such_route"
    assert "github.list_issues" in caught.value.problem


def test_route_overrides_are_keyed_twin_dot_route_and_other_twins_keys_are_left_alone() -> None:
    with pytest.raises(ValidationError, match=r"key an override as twin\.route, for example github"):
        ChaosConfig.model_validate({"routes": {"get_issue": {"error_500": {"probability": 1}}}})
    config = ChaosConfig.model_validate(
        {
            "routes": {
                "github.get_issue": {"error_500": {"probability": 1}},
                "openai.chat_completions": {"error_429": {"probability": 1}},
            }
        }
    )
    github = ChaosEngine(
        twin="github",
        supported=frozenset({"error_500", "error_429"}),
        route_ids=frozenset({"get_issue", "list_issues"}),
        seed=1,
        config=config,
    )
    openai = ChaosEngine(
        twin="openai",
        supported=frozenset({"error_500", "error_429"}),
        route_ids=frozenset({"chat_completions"}),
        seed=1,
        config=config,
    )

    def fault(engine: ChaosEngine, route: str) -> str | None:
        rolled = engine.roll(route)
        return rolled.decision.fault if rolled is not None else None

    assert fault(github, "get_issue") == "error_500"
    assert fault(github, "list_issues") is None
    assert fault(openai, "chat_completions") == "error_429"
