"""The web driver against the real demo app in a real Chromium: evidence, journeys, names, HAR, traces.

The demo app (examples/webapp) runs in process on a port the OS picks. The expensive capture runs
are module-scoped and shared by the tests that only read their results.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest

from orchestrator.actors import spawn
from orchestrator.drivers.web import (
    CHROMIUM_ENV,
    DriverOutcome,
    Timeouts,
    WebCaptureOptions,
    WebDriver,
    capture_routes_bare,
    capture_web,
)
from orchestrator.errors import ContractError, UnknownCapabilityError
from orchestrator.events import EventBus, EventStore
from orchestrator.gate import (
    CAPTURE,
    Capture,
    CaptureManifest,
    CaptureRequest,
    CaptureResult,
    CaptureTarget,
    ConsoleEntry,
    NetworkFailure,
)
from orchestrator.messages import WorkRequest
from orchestrator.policy.test_profiles import JourneySpec, Profile, TestProfiles
from orchestrator.policyfiles import load_policy_model
from tests.loopback import serve_app

pytestmark = [pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "webapp"
ODD_ROUTES = ["/../../etc", "/a b/ü?x=1#frag", "/Gallery"]


def _load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("orchestrate_demo_webapp", DEMO / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def web_demo_url() -> Iterator[str]:
    with serve_app(_load_demo().create_app()) as url:
        yield url


@pytest.fixture(scope="module")
def web_profiles() -> TestProfiles:
    return load_policy_model("test-profiles", TestProfiles, DEMO)


@pytest.fixture(scope="module")
def web_full_run(
    web_demo_url: str, web_profiles: TestProfiles, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, DriverOutcome, list[tuple[str, dict[str, Any]]]]:
    """The demo's full profile plus odd route names, two contexts at once."""
    profile = web_profiles.profiles["full"]
    run_dir = tmp_path_factory.mktemp("full") / "run"
    progress: list[tuple[str, dict[str, Any]]] = []
    outcome = capture_web(
        WebCaptureOptions(
            run_dir=run_dir,
            base_url=web_demo_url,
            routes=[*profile.routes, *ODD_ROUTES],
            journeys=profile.journeys,
            parallel=2,
        ),
        on_progress=lambda message, details: progress.append((message, dict(details))),
    )
    return run_dir, outcome, progress


def _capture(outcome: DriverOutcome, name: str) -> Capture:
    (found,) = [capture for capture in outcome.manifest.captures if capture.name == name]
    return found


def _console(run_dir: Path, capture: Capture) -> list[ConsoleEntry]:
    assert capture.console is not None
    text = (run_dir / capture.console).read_text()
    return [ConsoleEntry.model_validate_json(line) for line in text.splitlines()]


def _network(run_dir: Path, capture: Capture) -> list[NetworkFailure]:
    assert capture.network is not None
    return [
        NetworkFailure.model_validate(item) for item in json.loads((run_dir / capture.network).read_text())
    ]


def _violations(run_dir: Path, capture: Capture) -> list[tuple[str, str]]:
    assert capture.axe is not None
    document = json.loads((run_dir / capture.axe).read_text())
    return sorted((violation["id"], violation["impact"]) for violation in document["violations"])


# --- one full run, read by many tests -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_every_route_and_marked_step_has_its_evidence(web_full_run: Any, web_profiles: TestProfiles) -> None:
    run_dir, outcome, progress = web_full_run
    assert outcome.exit_code == 0, outcome.manifest
    on_disk = CaptureManifest.model_validate_json((run_dir / "captures" / "web.json").read_text())
    assert on_disk == outcome.manifest
    assert (run_dir / "drivers" / "web" / "exit_code").read_text().strip() == "0"
    routes = [*web_profiles.profiles["full"].routes, *ODD_ROUTES]
    assert [c.name for c in on_disk.captures if c.kind == "route"] == routes
    for capture in on_disk.captures:
        assert capture.ok, capture
        for path in (
            capture.screenshot,
            capture.aria_snapshot,
            capture.axe,
            capture.console,
            capture.network,
        ):
            assert path is not None and (run_dir / path).is_file(), (capture.name, path)
        assert (run_dir / str(capture.screenshot)).read_bytes().startswith(b"\x89PNG")
    home = _capture(outcome, "/")
    assert 'heading "Welcome to Demo" [level=1]' in (run_dir / str(home.aria_snapshot)).read_text()
    assert outcome.result == CaptureResult(exit_code=0, manifest="captures/web.json", captured=21, failed=0)
    assert outcome.manifest.platform is not None and outcome.manifest.platform.startswith("chromium ")
    route_messages = [message for message, details in progress if details.get("name") in routes]
    assert len(route_messages) == len(routes)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_defects_show_in_the_evidence(web_full_run: Any) -> None:
    run_dir, outcome, _ = web_full_run
    assert _violations(run_dir, _capture(outcome, "/gallery")) == [
        ("button-name", "critical"),
        ("image-alt", "critical"),
    ]
    errors = [e for e in _console(run_dir, _capture(outcome, "/checkout")) if e.type == "pageerror"]
    assert [e.text for e in errors] == ["Error: checkout widget failed to start: price table missing"]
    assert errors[0].location is not None and errors[0].location.endswith("/static/checkout.js:6:11")
    assert errors[0].url.endswith("/checkout")
    assert [
        (f.url.rsplit("/", 1)[-1], f.status, f.resource_type)
        for f in _network(run_dir, _capture(outcome, "/team"))
    ] == [("team-photo.jpg", 404, "image")]
    for clean in ("/", "/about", "/pricing", "/blog", "/contact", "/onboarding/done"):
        capture = _capture(outcome, clean)
        assert _violations(run_dir, capture) == [], clean
        assert _console(run_dir, capture) == [], clean
        assert _network(run_dir, capture) == [], clean


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_onboarding_journey_counts_nine_steps(web_full_run: Any) -> None:
    run_dir, outcome, _ = web_full_run
    (journey,) = outcome.manifest.journeys
    assert journey.name == "onboarding" and journey.onboarding
    assert journey.step_count == 9
    steps = [c for c in outcome.manifest.captures if c.kind == "journey_step"]
    assert [c.name for c in steps] == [
        "Welcome",
        "Your name",
        "Your email",
        "Your role",
        "Your workspace",
        "Invite teammates",
        "Choose a plan",
        "Notifications",
        "Review and confirm",
    ]
    counted = [step.index for step in journey.steps if step.counted]
    assert [c.step_index for c in steps] == counted
    assert all(c.journey == "onboarding" for c in steps)
    assert [urlsplit(c.url or "").path for c in steps] == [f"/onboarding/{n}" for n in range(1, 10)]
    assert all(_violations(run_dir, c) == [] for c in steps)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_route_names_cannot_escape_the_run_dir(web_full_run: Any) -> None:
    run_dir, outcome, _ = web_full_run
    assert sorted(p.name for p in run_dir.parent.iterdir()) == ["run"], "nothing written beside the run dir"
    folders = set()
    for name in ODD_ROUTES:
        capture = _capture(outcome, name)
        for path in (
            capture.screenshot,
            capture.aria_snapshot,
            capture.axe,
            capture.console,
            capture.network,
        ):
            assert path is not None
            resolved = (run_dir / path).resolve()
            assert resolved.parent.parent == (run_dir / "web" / "routes").resolve()
        folders.add(Path(str(capture.screenshot)).parent.name)
    assert len(folders) == len(ODD_ROUTES)
    assert _capture(outcome, "/Gallery").screenshot != _capture(outcome, "/gallery").screenshot
    # The browser resolves the dot segments itself: the server was asked for /etc, which it does not have.
    assert _network(run_dir, _capture(outcome, "/../../etc"))[0].url.endswith("/etc")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_one_har_for_the_run_and_a_trace_per_context(web_full_run: Any) -> None:
    run_dir, outcome, _ = web_full_run
    manifest = outcome.manifest
    assert manifest.har == "web/run.har"
    har = json.loads((run_dir / manifest.har).read_text())["log"]
    urls = {entry["request"]["url"] for entry in har["entries"]}
    for capture in manifest.captures:
        if capture.kind == "route" and capture.url and ".." not in capture.url and " " not in capture.url:
            assert capture.url in urls, capture.url
    assert any(url.endswith("/onboarding/9?") or "/onboarding/9" in url for url in urls)
    assert not (run_dir / "web" / "har-parts").exists()
    # One trace per context: the journey's, and one per lane that got routes (which lanes do is timing).
    assert "web/traces/journey-onboarding.zip" in manifest.traces
    lanes = [trace for trace in manifest.traces if trace.startswith("web/traces/lane-")]
    assert 1 <= len(lanes) <= 2 and len(manifest.traces) == len(lanes) + 1
    for trace in manifest.traces:
        assert zipfile.is_zipfile(run_dir / trace)
        assert any(name.endswith(".trace") for name in zipfile.ZipFile(run_dir / trace).namelist())


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_session_cookies_never_reach_the_har_or_the_traces(web_full_run: Any) -> None:
    run_dir, outcome, _ = web_full_run
    secret = _load_demo().SESSION_VALUE.encode()
    har = (run_dir / "web" / "run.har").read_bytes()
    assert b"Set-Cookie" in har or b"set-cookie" in har, "the signing-in response is in the HAR"
    assert secret not in har
    assert b"[redacted]" in har
    for trace in outcome.manifest.traces:
        with zipfile.ZipFile(run_dir / trace) as archive:
            for name in archive.namelist():
                assert secret not in archive.read(name), (trace, name)
    assert not [path for path in run_dir.rglob("*") if path.is_file() and secret in path.read_bytes()]


# --- further runs --------------------------------------------------------------------------------


def _comparable(run_dir: Path, outcome: DriverOutcome) -> list[Any]:
    rows = []
    for capture in outcome.manifest.captures:
        rows.append(
            (
                capture.model_dump(),
                _violations(run_dir, capture),
                [(e.type, e.text) for e in _console(run_dir, capture)],
                [f.model_dump() for f in _network(run_dir, capture)],
            )
        )
    return rows


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_parallel_contexts_capture_the_same_as_one(web_demo_url: str, tmp_path: Path) -> None:
    routes = ["/", "/gallery", "/checkout", "/team", "/contact"]
    results = []
    for parallel in (1, 2):
        run_dir = tmp_path / f"p{parallel}"
        outcome = capture_web(
            WebCaptureOptions(run_dir=run_dir, base_url=web_demo_url, routes=routes, parallel=parallel)
        )
        assert outcome.exit_code == 0
        assert len(outcome.manifest.traces) == parallel
        results.append(_comparable(run_dir, outcome))
    assert results[0] == results[1]


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_failed_steps_and_navigations_fail_their_capture_and_the_run_goes_on(
    web_demo_url: str, tmp_path: Path
) -> None:
    journey = JourneySpec.model_validate(
        {
            "name": "broken signup",
            "onboarding": True,
            "steps": [
                {"goto": "/onboarding"},
                {"mark": "Welcome"},
                {"expect_visible": "#there-is-no-such-thing"},
                {"mark": "Never reached"},
            ],
        }
    )
    unreachable = f"http://127.0.0.1:{_closed_port()}/nothing"
    outcome = capture_web(
        WebCaptureOptions(
            run_dir=tmp_path / "run",
            base_url=web_demo_url,
            routes=[unreachable, "/about"],
            journeys=[journey],
            allowed_origins=[unreachable.rsplit("/", 1)[0]],
            parallel=2,
            timeouts=Timeouts(navigation_s=10, action_s=1),
        )
    )
    assert outcome.exit_code == 1
    assert (tmp_path / "run" / "drivers" / "web" / "exit_code").read_text().strip() == "1"
    assert _capture(outcome, "/about").ok
    refused = _capture(outcome, unreachable)
    assert not refused.ok
    assert (
        refused.error is not None
        and "navigation to" in refused.error
        and "ERR_CONNECTION_REFUSED" in refused.error
    )
    steps = [c for c in outcome.manifest.captures if c.journey == "broken signup"]
    assert [(c.name, c.step_index, c.ok) for c in steps] == [
        ("Welcome", 2, True),
        ("expect #there-is-no-such-thing visible", 3, False),
    ]
    assert steps[1].error is not None and "step 3" in steps[1].error and "Timeout" in steps[1].error
    assert steps[1].screenshot is not None and (tmp_path / "run" / steps[1].screenshot).is_file()
    (record,) = outcome.manifest.journeys
    assert record.step_count == 1 and [s.index for s in record.steps] == [1, 2, 3]
    assert outcome.result.failed == 2


@pytest.mark.timeout(120)
def test_changed_files_narrow_the_routes(
    web_demo_url: str, web_profiles: TestProfiles, tmp_path: Path
) -> None:
    smoke = web_profiles.profiles["smoke"]
    outcome = capture_web(
        WebCaptureOptions(
            run_dir=tmp_path / "run",
            base_url=web_demo_url,
            routes=smoke.routes,
            changed_files=["static/checkout.js"],
            changed_paths=smoke.changed_paths,
            parallel=1,
        )
    )
    assert [c.name for c in outcome.manifest.captures] == ["/checkout"]
    assert outcome.manifest.extra["selection"] == "web/selection.json"
    selection = json.loads((tmp_path / "run" / "web" / "selection.json").read_text())
    assert selection["routes"] == ["/checkout"]
    assert "/gallery" in selection["skipped_routes"]
    assert "1 changed file map to 1 of 8 routes" in selection["reason"]


def test_nothing_changed_that_maps_means_a_skip_without_a_browser(tmp_path: Path) -> None:
    outcome = capture_web(
        WebCaptureOptions(
            run_dir=tmp_path / "run",
            base_url="http://127.0.0.1:9",
            routes=["/", "/gallery"],
            changed_files=["README.md"],
            changed_paths={"static/*": ["/gallery"]},
        )
    )
    assert outcome.exit_code == 0
    assert outcome.manifest.captures == []
    assert outcome.manifest.skipped is not None and "skipped routes: /, /gallery" in outcome.manifest.skipped


@pytest.mark.timeout(120)
def test_a_missing_browser_is_a_framework_error_naming_what_was_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no" / "chromium"
    monkeypatch.setenv(CHROMIUM_ENV, str(missing))
    # An empty browser cache: Playwright's managed Chromium is not there either.
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "empty-cache"))
    outcome = capture_web(
        WebCaptureOptions(run_dir=tmp_path / "run", base_url="http://127.0.0.1:9", routes=["/"])
    )
    assert outcome.exit_code == 2
    error = outcome.manifest.error or ""
    assert f"{CHROMIUM_ENV}={missing} (not found or not executable)" in error
    assert "Playwright's managed Chromium (" in error
    assert "Fix:" in error
    assert (tmp_path / "run" / "drivers" / "web" / "exit_code").read_text().strip() == "2"
    assert (
        CaptureManifest.model_validate_json(
            (tmp_path / "run" / "captures" / "web.json").read_text()
        ).exit_code
        == 2
    )


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_actor_captures_reports_progress_and_the_browser_session(
    web_demo_url: str, tmp_path: Path, bus: EventBus
) -> None:
    run_dir = tmp_path / "run"
    bus.open_run("web-2", run_dir / "events.jsonl")
    profile = Profile(routes=["/gallery", "/checkout"], checks=["axe_violations", "console_errors"])
    driver = spawn(WebDriver, events=bus)
    result = driver.ask(
        WorkRequest(
            run_id="web-2",
            task_id="t2",
            call_id="c2",
            capability="capture",
            objective="capture the web target",
            params=CaptureRequest(
                run_id="web-2",
                run_dir=run_dir,
                project_root=DEMO,
                target=CaptureTarget(name="web", base_url=web_demo_url),
                profile_name="smoke",
                profile=profile,
                parallel=2,
            ).model_dump(mode="json"),
        ),
        timeout=100,
    )
    assert result.success
    assert CAPTURE.parse_result(result.data) == CaptureResult(
        exit_code=0, manifest="captures/web.json", captured=2, failed=0
    )
    bus.flush()
    with EventStore(tmp_path / ".orchestrator" / "events.db") as store:
        events = store.query(run_id="web-2")
    types = [e.event_type for e in events]
    assert types[0] == "worker.task.started" and types[-1] == "worker.task.completed"
    tools = [e for e in events if e.event_type.startswith("worker.tool.")]
    assert [(e.event_type, e.payload["tool_name"]) for e in tools] == [
        ("worker.tool.call", "chromium"),
        ("worker.tool.result", "chromium"),
    ]
    assert tools[1].payload["success"] is True and tools[1].payload["duration_ms"] > 0
    progress = [e.payload for e in events if e.event_type == "worker.task.progress"]
    assert {p.get("name") for p in progress} >= {"/gallery", "/checkout"}
    assert all(e.task_id == "t2" for e in events)


def test_a_target_without_base_url_is_exit_2_and_a_bad_request_is_refused(tmp_path: Path) -> None:
    driver = spawn(WebDriver)
    request = CaptureRequest(
        run_id="r",
        run_dir=tmp_path / "run",
        project_root=tmp_path,
        target=CaptureTarget(name="shop"),
        profile_name="smoke",
        profile=Profile(routes=["/"]),
    )
    params = request.model_dump(mode="json")
    try:
        result = driver.ask(
            WorkRequest(run_id="r", capability="capture", objective="o", params=params), timeout=30
        )
        assert not result.success
        assert CAPTURE.parse_result(result.data).exit_code == 2
        manifest = CaptureManifest.model_validate_json(
            (tmp_path / "run" / "captures" / "web.json").read_text()
        )
        assert manifest.error is not None and "target 'shop' has no base_url" in manifest.error

        # The request's contract is checked before any work: a bad value or a misspelt key is
        # refused with the field and a fix, never dropped or turned into a default.
        for bad, field in (
            ({**params, "parallel": 0}, "params.parallel"),
            ({**params, "paralel": 2}, "params.paralel"),
        ):
            with pytest.raises(ContractError, match="Fix:") as refused:
                driver.ask(
                    WorkRequest(run_id="r", capability="capture", objective="o", params=bad), timeout=30
                )
            assert field in str(refused.value) and refused.value.side == "request"
        with pytest.raises(UnknownCapabilityError, match="does not offer 'evaluate'; it offers: capture"):
            driver.ask(
                WorkRequest(run_id="r", capability="evaluate", objective="o", params=params), timeout=30
            )
    finally:
        driver.stop()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_bare_baseline_captures_the_same_routes(web_demo_url: str, tmp_path: Path) -> None:
    shots = capture_routes_bare(web_demo_url, ["/", "/gallery"], tmp_path / "bare")
    assert [p.name for p in shots] == ["root-8a5edab2.png", "gallery.png"]
    axe = json.loads((tmp_path / "bare" / "gallery.axe.json").read_text())
    assert sorted(v["id"] for v in axe["violations"]) == ["button-name", "image-alt"]
    assert (tmp_path / "bare" / "gallery.aria.yaml").read_text().startswith("- banner")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_profile_timeout_fails_what_was_not_captured(web_demo_url: str, tmp_path: Path) -> None:
    # A server that accepts connections and never answers: the navigation hangs until the deadline.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(8)
        hanging = f"http://127.0.0.1:{hole.getsockname()[1]}/never"
        outcome = capture_web(
            WebCaptureOptions(
                run_dir=tmp_path / "run",
                base_url=web_demo_url,
                routes=["/about", hanging],
                allowed_origins=[hanging.rsplit("/", 1)[0]],
                parallel=2,
                timeout_s=6,
                timeouts=Timeouts(navigation_s=60, action_s=10),
            )
        )
    assert outcome.exit_code == 1
    assert _capture(outcome, "/about").ok
    stuck = _capture(outcome, hanging)
    assert not stuck.ok and stuck.error == "not captured: the profile's timeout of 6 s ran out"
    assert outcome.manifest.har == "web/run.har"


@pytest.mark.timeout(60)
def test_a_stopped_run_captures_nothing_more(web_demo_url: str, tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    outcome = capture_web(
        WebCaptureOptions(
            run_dir=tmp_path / "run", base_url=web_demo_url, routes=["/", "/about"], parallel=1
        ),
        cancelled=stop,
    )
    assert outcome.exit_code == 1
    assert [(c.name, c.ok, c.error) for c in outcome.manifest.captures] == [
        ("/", False, "not captured: the run was stopped"),
        ("/about", False, "not captured: the run was stopped"),
    ]


@pytest.mark.timeout(60)
def test_headed_mode_without_a_display_runs_headless_and_says_so(
    web_demo_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    outcome = capture_web(
        WebCaptureOptions(run_dir=tmp_path / "run", base_url=web_demo_url, routes=["/about"], headless=False)
    )
    assert outcome.exit_code == 0
    assert outcome.manifest.extra["mode"] == "headless: headed mode was asked for, but there is no display"
