"""The four checks' rules on run dirs: axe, console and onboarding (Liquid Glass has its own file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import ConfigError
from orchestrator.gate import fingerprint
from tests.agents.test_ux_evaluator import (
    IMAGE_ALT,
    RunDirBuilder,
    axe_node,
    axe_violation,
    evaluate,
    keyed,
    lines_of,
)

# --- axe ------------------------------------------------------------------------------------------


def every_impact() -> list[dict[str, Any]]:
    return [
        axe_violation(
            rule, impact, f"help for {rule}", [axe_node([f"#{rule}"], f"<div id={rule}>", impact, "Fix it")]
        )
        for rule, impact in [
            ("image-alt", "critical"),
            ("color-contrast", "serious"),
            ("region", "moderate"),
            ("meta-viewport-large", "minor"),
        ]
    ]


def test_axe_impacts_map_to_severities_and_priorities(project: Path, run_dir: Path) -> None:
    b = RunDirBuilder(run_dir)
    b.capture("/", violations=every_impact())
    b.write()
    evaluation = evaluate(run_dir, project, checks=["axe_violations"])
    assert {(f.checkId, f.severity, f.suggested_priority) for f in evaluation.findings} == {
        ("image-alt", "critical", "P0"),
        ("color-contrast", "high", "P1"),
        ("region", "medium", "P2"),
        ("meta-viewport-large", "low", "P3"),
    }


def test_axe_impacts_outside_the_profile_are_not_findings(project: Path, run_dir: Path) -> None:
    b = RunDirBuilder(run_dir)
    b.capture("/", violations=every_impact())
    b.write()
    evaluation = evaluate(run_dir, project, checks=["axe_violations"], axe_impacts=["critical", "serious"])
    assert {f.checkId for f in evaluation.findings} == {"image-alt", "color-contrast"}
    assert lines_of(run_dir)[0]["_meta"]["axe_impacts"] == ["critical", "serious"]


def test_axe_one_finding_per_rule_and_target_on_a_page(project: Path, run_dir: Path) -> None:
    b = RunDirBuilder(run_dir)
    two_nodes = axe_violation(
        "image-alt",
        "critical",
        "Images must have alternative text",
        [
            axe_node(["#a"], "<img id=a>", "critical", "Fix"),
            axe_node(["#b"], "<img id=b>", "critical", "Fix"),
        ],
    )
    b.capture("/gallery", violations=[two_nodes])
    # The same page seen again in a journey step, and a query-string variant: the same elements.
    b.capture(
        "/gallery", kind="journey_step", name="Browse", journey="tour", step_index=1, violations=[two_nodes]
    )
    b.capture("/gallery?page=2", name="/gallery?page=2", violations=[two_nodes])
    # Another page: another element, even with the same selector.
    b.capture("/about", violations=[two_nodes])
    # A node inside an iframe and one inside a shadow root.
    framed = axe_violation(
        "button-name",
        "serious",
        "Buttons must have discernible text",
        [
            axe_node(["iframe#pay", "button.submit"], "<button class=submit>", "serious", "Fix"),
            axe_node([["my-widget", "button"]], "<button>", "serious", "Fix"),
        ],
    )
    b.capture("/checkout", violations=[framed])
    b.write()
    evaluation = evaluate(run_dir, project, checks=["axe_violations"])
    assert sorted((f.scope, f.checkId, f.locator) for f in evaluation.findings) == [
        ("/about", "image-alt", "#a"),
        ("/about", "image-alt", "#b"),
        ("/checkout", "button-name", "iframe#pay >>> button.submit"),
        ("/checkout", "button-name", "my-widget >> button"),
        ("/gallery", "image-alt", "#a"),
        ("/gallery", "image-alt", "#b"),
    ]
    gallery = next(f for f in evaluation.findings if f.scope == "/gallery" and f.locator == "#a")
    # The route capture lends its screenshot, and the description names every capture that saw it.
    assert gallery.evidence_path == "drivers/web/routes/gallery/screenshot.png"
    assert "journey tour step 1 (Browse)" in gallery.description
    assert gallery.severity == "critical"
    assert next(f for f in evaluation.findings if f.scope == "/checkout").severity == "high"


def test_axe_without_screenshot_uses_the_axe_file_as_evidence(project: Path, run_dir: Path) -> None:
    b = RunDirBuilder(run_dir)
    capture = b.capture("/gallery", violations=[IMAGE_ALT], screenshot=False)
    b.write()
    (finding,) = evaluate(run_dir, project, checks=["axe_violations"]).findings
    assert finding.evidence_path == capture.axe


# --- console --------------------------------------------------------------------------------------


def test_console_noise_is_ignored(project: Path, run_dir: Path) -> None:
    b = RunDirBuilder(run_dir)
    b.capture(
        "/",
        console=[
            b.console_line("log", "[HMR] Waiting for update signal from WDS...", "/"),
            b.console_line("error", "[webpack-dev-server] Disconnected!", "/"),
            b.console_line(
                "error", "Uncaught TypeError: x is undefined", "/", "moz-extension://1234/inject.js:3:1"
            ),
            b.console_line(
                "error", "DevTools failed to load source map: Could not parse content for app.js.map", "/"
            ),
            b.console_line(
                "error",
                'Warning: Text content did not match. Server: "1" Client: "2"',
                "/",
            ),
            b.console_line("pageerror", "ResizeObserver loop completed with undelivered notifications.", "/"),
            b.console_line(
                "error",
                "Failed to load resource: the server responded with a status of 404 (Not Found)",
                "/",
                f"{b.base}/static/app.js.map",
            ),
        ],
        network=[
            {"url": f"{b.base}/static/app.js.map", "method": "GET", "status": 404},
            {"url": f"{b.base}/favicon.ico", "method": "GET", "status": 404},
            {"url": "chrome-extension://abcd/icon.png", "method": "GET", "status": 404},
            {"url": f"{b.base}/main.abc123def.hot-update.json", "method": "GET", "status": 404},
        ],
    )
    b.write()
    evaluation = evaluate(run_dir, project, checks=["console_errors"])
    assert evaluation.findings == ()
    assert evaluation.checks_run == ("console_errors",)
    assert evaluation.verdict == "PROCEED"


def test_one_missing_resource_is_one_finding_across_pages_ports_and_sources(
    project: Path, run_dir: Path
) -> None:
    b = RunDirBuilder(run_dir, port=50001)
    failed = "Failed to load resource: the server responded with a status of 404 (Not Found)"
    b.capture(
        "/a",
        console=[b.console_line("error", failed, "/a", f"{b.base}/static/missing.png?v=17")],
        network=[{"url": f"{b.base}/static/missing.png?v=17", "method": "GET", "status": 404}],
    )
    b.base = "http://localhost:50002"  # a later capture served on another port
    b.capture(
        "/b",
        console=[
            # No location: matched with the network log of the same capture.
            b.console_line("error", failed, "/b"),
        ],
        network=[
            {"url": f"{b.base}/static/missing.png", "method": "GET", "status": 404},
            {"url": f"{b.base}/api/save", "method": "POST", "status": 500},
            {"url": "https://cdn.example.com/lib.js", "method": "GET", "status": 403},
            {"url": f"{b.base}/api/slow", "method": "GET", "status": None, "failure": "net::ERR_ABORTED"},
            {"url": f"{b.base}/redirect", "method": "GET", "status": 302},
        ],
    )
    b.write()
    evaluation = evaluate(run_dir, project, checks=["console_errors"])
    assert keyed(evaluation.findings) == {
        ("console_errors", "medium", "network", "http-404", "/static/missing.png"),
        ("console_errors", "medium", "network", "http-500", "/api/save"),
        ("console_errors", "medium", "network", "http-403", "cdn.example.com/lib.js"),
    }
    missing = next(f for f in evaluation.findings if f.checkId == "http-404")
    assert missing.fingerprint == fingerprint("network", "http-404", "/static/missing.png")
    assert "route /a" in missing.description and "route /b" in missing.description
    assert evaluation.verdict == "PROCEED_WITH_FOLLOWUPS"


def test_unidentified_failed_resource_without_network_log_is_still_a_finding(
    project: Path, run_dir: Path
) -> None:
    b = RunDirBuilder(run_dir)
    b.capture(
        "/a",
        console=[
            b.console_line(
                "error", "Failed to load resource: the server responded with a status of 503 ()", "/a"
            )
        ],
    )
    b.write()
    (finding,) = evaluate(run_dir, project, checks=["console_errors"]).findings
    assert (finding.checkId, finding.locator, finding.severity) == (
        "http-503",
        "(unidentified resource on /a)",
        "medium",
    )


def test_uncaught_exceptions_are_high_and_normalised(project: Path, run_dir: Path) -> None:
    b = RunDirBuilder(run_dir, port=41000)
    b.capture(
        "/broken",
        console=[
            b.console_line(
                "pageerror",
                "TypeError: Cannot read properties of undefined (reading 'id')\n"
                "    at http://127.0.0.1:41000/static/main.3f2a9c1b.js:1:2345",
                "/broken",
            ),
            b.console_line(
                "error",
                "Uncaught TypeError: Cannot read properties of undefined (reading 'id')",
                "/broken",
                "http://127.0.0.1:41000/static/main.3f2a9c1b.js:1:999",
            ),
            b.console_line(
                "pageerror",
                "Error: request 1718000000123 failed at http://127.0.0.1:41000/api/items/7:12:3 "
                "(trace 3fa85f64-5717-4562-b3fc-2c963f66afa6, at 2025-01-01T10:00:00Z)",
                "/broken",
            ),
        ],
    )
    b.capture(
        "/broken",
        kind="journey_step",
        name="Open broken page",
        journey="tour",
        step_index=2,
        console=[
            b.console_line(
                "pageerror",
                "TypeError: Cannot read properties of undefined (reading 'id')\n    at other (main.js:9:9)",
                "/broken",
            )
        ],
    )
    b.write()
    evaluation = evaluate(run_dir, project, checks=["console_errors"])
    assert keyed(evaluation.findings) == {
        (
            "console_errors",
            "high",
            "/broken",
            "uncaught-exception",
            "TypeError: Cannot read properties of undefined (reading 'id')",
        ),
        (
            "console_errors",
            "high",
            "/broken",
            "uncaught-exception",
            "Error: request <n> failed at /api/items/<n> (trace <uuid>, at <time>)",
        ),
    }
    assert evaluation.verdict == "FIX_REQUIRED"


def test_other_console_errors_are_low_and_warnings_are_ignored(project: Path, run_dir: Path) -> None:
    b = RunDirBuilder(run_dir)
    b.capture(
        "/settings",
        console=[
            b.console_line("error", "Could not save preferences: quota exceeded", "/settings"),
            b.console_line("error", "Could not save preferences: quota exceeded", "/settings"),
            b.console_line("warning", "Deprecated API used", "/settings"),
            b.console_line("log", "ready", "/settings"),
        ],
    )
    b.write()
    evaluation = evaluate(run_dir, project, checks=["console_errors"])
    assert keyed(evaluation.findings) == {
        ("console_errors", "low", "/settings", "console-error", "Could not save preferences: quota exceeded")
    }
    assert evaluation.findings[0].suggested_priority == "P3"
    assert evaluation.verdict == "PROCEED_WITH_FOLLOWUPS"


def test_a_console_loop_is_one_finding_not_thousands(project: Path, run_dir: Path) -> None:
    b = RunDirBuilder(run_dir)
    b.capture(
        "/feed",
        console=[b.console_line("error", f"could not render item {n} of 2000", "/feed") for n in range(2000)],
    )
    b.write()
    evaluation = evaluate(run_dir, project, checks=["console_errors"])
    assert keyed(evaluation.findings) == {
        ("console_errors", "low", "/feed", "console-error", "could not render item <n> of <n>")
    }


def test_failed_captures_and_tests_are_high_findings(project: Path, run_dir: Path) -> None:
    b = RunDirBuilder(run_dir)
    b.capture("/slow", ok=False, error="Timeout 30000ms exceeded while waiting for load", screenshot=False)
    b.capture(
        "",
        kind="test",
        name="checkout.spec.ts > pays with a card",
        ok=False,
        error="expect(locator).toBeVisible() failed",
        screenshot=False,
    )
    b.write(exit_code=1)
    evaluation = evaluate(run_dir, project, checks=["console_errors"])
    assert keyed(evaluation.findings) == {
        ("console_errors", "high", "/slow", "capture-failed", "/slow"),
        (
            "console_errors",
            "high",
            "test:checkout.spec.ts > pays with a card",
            "test-failed",
            "checkout.spec.ts > pays with a card",
        ),
    }
    failed = next(f for f in evaluation.findings if f.checkId == "capture-failed")
    assert "Timeout <n>ms exceeded" not in failed.description  # five digits are not a volatile id
    assert "Timeout 30000ms exceeded" in failed.description
    assert failed.evidence_path == "captures/web.json"
    assert evaluation.verdict == "FIX_REQUIRED"


# --- onboarding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "severity"),
    [(7, None), (8, "high"), (9, "high"), (10, "critical"), (14, "critical")],
)
def test_onboarding_step_count_thresholds(
    project: Path, run_dir: Path, steps: int, severity: str | None
) -> None:
    b = RunDirBuilder(run_dir)
    b.journey("signup", [f"Step {i}" for i in range(1, steps + 1)], waits=3)
    b.journey("checkout", [f"Step {i}" for i in range(1, 15)], onboarding=False)
    b.write()
    evaluation = evaluate(run_dir, project, checks=["onboarding_step_count"])
    assert [f.severity for f in evaluation.findings] == ([severity] if severity else [])
    assert evaluation.checks_run == ("onboarding_step_count",)
    if severity:
        (finding,) = evaluation.findings
        assert finding.fingerprint == fingerprint("journey:signup", "onboarding-steps", "signup")


def test_project_policy_tunes_thresholds_and_adds_noise(project: Path, run_dir: Path) -> None:
    policy_dir = project / ".orchestrator" / "policy"
    policy_dir.mkdir(parents=True)
    (policy_dir / "rubric-v1.yaml").write_text(
        "onboarding:\n  high_at: 5\n  critical_at: 7\n"
        "console:\n  extra_noise: ['Third-party cookie will be blocked']\n"
        "  extra_noise_resources: ['^https://analytics\\.example\\.com/']\n"
    )
    b = RunDirBuilder(run_dir)
    b.journey("signup", [f"Step {i}" for i in range(1, 7)])
    b.capture(
        "/",
        console=[b.console_line("error", "Third-party cookie will be blocked in a future release", "/")],
        network=[{"url": "https://analytics.example.com/collect", "method": "POST", "status": 400}],
    )
    b.write()
    evaluation = evaluate(run_dir, project, checks=["onboarding_step_count", "console_errors"])
    assert keyed(evaluation.findings) == {
        ("onboarding_step_count", "high", "journey:signup", "onboarding-steps", "signup")
    }
    assert lines_of(run_dir)[0]["_meta"]["onboarding_thresholds"] == {"high_at": 5, "critical_at": 7}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("onboarding:\n  high_at: 9\n  critical_at: 9\n", "onboarding"),
        ("console:\n  extra_noise: ['([unclosed']\n", "console.extra_noise"),
        ("onboarding:\n  hihg_at: 9\n", "onboarding.hihg_at"),
    ],
)
def test_a_bad_project_policy_names_the_file_and_field(
    project: Path, run_dir: Path, document: str, field: str
) -> None:
    policy_dir = project / ".orchestrator" / "policy"
    policy_dir.mkdir(parents=True)
    (policy_dir / "rubric-v1.yaml").write_text(document)
    RunDirBuilder(run_dir).write()
    with pytest.raises(ConfigError) as caught:
        evaluate(run_dir, project)
    assert caught.value.path == policy_dir / "rubric-v1.yaml"
    assert caught.value.field.startswith(field)
    assert "Fix:" in str(caught.value)
