"""Rubric v1's pure rules, its shipped policy file, and the locator normalisations findings rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from orchestrator.agents.ux_evaluator import load_rubric, normalise_message, page_scope, resource_locator
from orchestrator.gate import Capture
from orchestrator.policy import rubric_v1
from orchestrator.policy.rubric_v1 import (
    ConsoleRules,
    OnboardingRules,
    RubricPolicy,
    axe_severity,
    classify_console,
    is_noise,
    liquid_glass_severity,
    onboarding_severity,
    suggested_priority,
    verdict,
)

POLICY_FILE = Path(rubric_v1.__file__).parent / "defaults" / "rubric-v1.yaml"


def test_the_shipped_policy_is_the_model_default() -> None:
    assert RubricPolicy.model_validate(yaml.safe_load(POLICY_FILE.read_text())) == RubricPolicy()
    assert load_rubric(None) == RubricPolicy()


@pytest.mark.parametrize(
    ("counts", "driver_blocked", "expected"),
    [
        ({}, False, "PROCEED"),
        ({"critical": 0, "high": 0, "medium": 0, "low": 0}, False, "PROCEED"),
        ({"low": 1}, False, "PROCEED_WITH_FOLLOWUPS"),
        ({"medium": 3, "low": 1}, False, "PROCEED_WITH_FOLLOWUPS"),
        ({"high": 1, "medium": 3}, False, "FIX_REQUIRED"),
        ({"critical": 1, "high": 4}, False, "BLOCKED"),
        ({}, True, "BLOCKED"),
        ({"low": 2}, True, "BLOCKED"),
    ],
)
def test_verdict(counts: dict[str, int], driver_blocked: bool, expected: str) -> None:
    assert verdict(counts, driver_blocked=driver_blocked) == expected


def test_severity_maps_and_priorities() -> None:
    assert [axe_severity(i) for i in ("critical", "serious", "moderate", "minor", None, "bogus")] == [
        "critical",
        "high",
        "medium",
        "low",
        None,
        None,
    ]
    assert [suggested_priority(s) for s in ("critical", "high", "medium", "low")] == ["P0", "P1", "P2", "P3"]
    assert liquid_glass_severity("material", documented_exception=False) == "high"
    assert liquid_glass_severity("blur", documented_exception=False) == "medium"
    assert liquid_glass_severity("material", documented_exception=True) == "low"


def test_onboarding_thresholds() -> None:
    rules = OnboardingRules()
    assert [onboarding_severity(n, rules) for n in (0, 7, 8, 9, 10, 30)] == [
        None,
        None,
        "high",
        "high",
        "critical",
        "critical",
    ]
    with pytest.raises(ValidationError, match=r"critical_at \(10\) must be greater than high_at \(10\)"):
        OnboardingRules(high_at=10, critical_at=10)


@pytest.mark.parametrize(
    ("kind", "text", "location", "expected"),
    [
        ("pageerror", "TypeError: items.map is not a function", None, "uncaught-exception"),
        ("error", "Uncaught ReferenceError: x is not defined", None, "uncaught-exception"),
        (
            "error",
            "Failed to load resource: the server responded with a status of 404 (Not Found)",
            None,
            "http-error",
        ),
        (
            "error",
            "Failed to load resource: the server responded with a status of 502 (Bad Gateway)",
            None,
            "http-error",
        ),
        ("error", "Failed to load resource: net::ERR_CONNECTION_REFUSED", None, "console-error"),
        ("error", "Could not save", None, "console-error"),
        ("warning", "Could not save", None, None),
        ("log", "Uncaught nothing", None, None),
        ("error", "[vite] failed to connect to websocket", None, None),
        ("pageerror", "Error in script", "chrome-extension://abc/content.js:1:1", None),
        ("error", "Download the React DevTools for a better development experience", None, None),
        ("error", "[Vue warn]: Hydration node mismatch", None, None),
        ("error", "Angular is running in development mode.", None, None),
        ("error", "DevTools failed to load source map: Could not load content for x.js.map", None, None),
    ],
)
def test_console_classification(kind: str, text: str, location: str | None, expected: str | None) -> None:
    assert classify_console(kind, text, location, ConsoleRules()) == expected


def test_project_noise_adds_to_the_built_in_noise() -> None:
    rules = ConsoleRules(extra_noise=["^Third-party cookie"], extra_noise_resources=[r"/beacon$"])
    assert classify_console("error", "Third-party cookie will be blocked", None, rules) is None
    assert classify_console("error", "[HMR] connected", None, rules) is None
    assert is_noise(["https://x.example/beacon"], rules.resource_patterns())
    assert is_noise(["http://127.0.0.1:5000/favicon.ico"], rules.resource_patterns())
    assert not is_noise(["http://127.0.0.1:5000/static/missing.png"], rules.resource_patterns())
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        ConsoleRules(extra_noise=["(unclosed"])


@pytest.mark.parametrize(
    ("url", "page", "expected"),
    [
        ("http://127.0.0.1:5123/static/missing.png?v=3#x", None, "/static/missing.png"),
        ("http://localhost:8000/api/items", "http://127.0.0.1:8000/", "/api/items"),
        ("https://app.example.com/a.png", "https://app.example.com/home", "/a.png"),
        ("https://cdn.example.com:8443/lib.js", "https://app.example.com/", "cdn.example.com/lib.js"),
        ("http://127.0.0.1:1/static/main.3f2a9c1b.js", None, "/static/main.<hash>.js"),
        ("http://127.0.0.1:1/assets/index-B7xk29Qa.css", None, "/assets/index-<hash>.css"),
        ("http://127.0.0.1:1/assets/main-component.js", None, "/assets/main-component.js"),
        ("http://127.0.0.1:1", None, "/"),
    ],
)
def test_resource_locator_drops_what_changes_between_runs(url: str, page: str | None, expected: str) -> None:
    assert resource_locator(url, page) == expected


@pytest.mark.parametrize(
    ("capture", "expected"),
    [
        (Capture(kind="route", name="/gallery", url="http://127.0.0.1:9/gallery?x=1"), "/gallery"),
        (Capture(kind="route", name="home", url="http://127.0.0.1:9"), "/"),
        (Capture(kind="route", name="spa", url="http://127.0.0.1:9/#/settings"), "/#/settings"),
        (Capture(kind="route", name="/docs"), "/docs"),
        (Capture(kind="journey_step", name="Email", journey="signup"), "journey:signup"),
        (Capture(kind="scenario", name="main-window"), "scenario:main-window"),
        (Capture(kind="test", name="a.spec.ts > works"), "test:a.spec.ts > works"),
    ],
)
def test_page_scope(capture: Capture, expected: str) -> None:
    assert page_scope(capture) == expected


def test_normalise_message_keeps_the_defect_and_drops_volatile_parts() -> None:
    assert (
        normalise_message("Uncaught (in promise) Error: boom\n    at x (http://h:1/a.js:1:2)")
        == "Error: boom"
    )
    assert (
        normalise_message(
            "Error: at http://127.0.0.1:4431/static/app.js:10:5 id 0x7ffd1234 took 1718000000000 ms"
        )
        == "Error: at /static/app.js id 0x<addr> took <n> ms"
    )
    assert normalise_message("   \n") == "(empty message)"
