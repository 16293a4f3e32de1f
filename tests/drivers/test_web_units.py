"""The web driver's pure parts: artifact names, route selection by changed files, browser lookup."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.drivers.web import (
    CHROMIUM_ENV,
    WebDriver,
    artifact_name,
    browser_candidates,
    select_for_changes,
)
from orchestrator.drivers.web._driver import _project_relative
from orchestrator.drivers.web._naming import inside
from orchestrator.drivers.web._page_capture import join_url
from orchestrator.drivers.web._redact import redact_har_entry, redact_trace
from orchestrator.drivers.web._select import matches
from orchestrator.errors import ArtifactError
from orchestrator.plugins import load_plugin
from orchestrator.policy.test_profiles import JourneySpec


@pytest.mark.parametrize(
    ("route", "expected"),
    [("/gallery", "gallery"), ("about", "about"), ("/team.v2", "team.v2")],
)
def test_faithful_route_names_stay_readable(route: str, expected: str) -> None:
    assert artifact_name(route) == expected


@pytest.mark.parametrize(
    "route", ["/", "/../../etc", "/a b/ü?x=1#frag", "/Gallery", "..", "/onboarding/1", ""]
)
def test_lossy_route_names_get_a_stable_hash(route: str) -> None:
    name = artifact_name(route)
    assert name == artifact_name(route)
    assert "/" not in name and ".." not in name and not name.startswith(".")
    assert len(name.rsplit("-", 1)[-1]) == 8


def test_names_that_would_collide_do_not() -> None:
    routes = ["/", "/root", "/gallery", "/Gallery", "/a-b", "/a/b", "/a b", "/../../etc", "/etc"]
    names = [artifact_name(route) for route in routes]
    assert len(set(names)) == len(names)


@given(st.text(max_size=300))
def test_any_name_stays_inside_the_run_dir(name: str) -> None:
    run_dir = Path("/tmp/orchestrate-run-dir-check")
    path = inside(run_dir, f"web/routes/{artifact_name(name)}")
    assert run_dir.resolve() in path.parents
    assert path.parent == (run_dir / "web" / "routes").resolve()


def test_inside_refuses_escaping_paths(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="outside the run dir"):
        inside(tmp_path, "web/../../elsewhere")


def test_join_url_keeps_the_base_path_and_absolute_routes() -> None:
    assert join_url("http://h:1/app/", "/x") == "http://h:1/app/x"
    assert join_url("http://h:1", "x/y") == "http://h:1/x/y"
    assert join_url("http://h:1", "https://other/z") == "https://other/z"


# --- selection by changed files --------------------------------------------------------------

ROUTES = ["/", "/gallery", "/checkout", "/team"]
MAP = {
    "static/checkout.js": ["/checkout"],
    "templates/**/*.html": ["/", "/team"],
    "static/*.svg": ["/gallery"],
}
JOURNEY = JourneySpec.model_validate({"name": "signup", "steps": [{"goto": "/team"}, {"mark": "Team"}]})


def test_without_changed_files_or_a_map_everything_is_visited() -> None:
    assert select_for_changes(ROUTES, [JOURNEY], changed_files=None, changed_paths=MAP).routes == ROUTES
    unmapped = select_for_changes(ROUTES, [JOURNEY], changed_files=["x.py"], changed_paths={})
    assert unmapped.routes == ROUTES and unmapped.reason is None


def test_changed_files_limit_routes_to_the_mapped_ones() -> None:
    selection = select_for_changes(
        ROUTES, [JOURNEY], changed_files=["./static/checkout.js"], changed_paths=MAP
    )
    assert selection.routes == ["/checkout"]
    assert selection.skipped_routes == ["/", "/gallery", "/team"]
    assert selection.journeys == []
    assert selection.skipped_journeys == ["signup"]
    assert selection.reason is not None
    assert "1 changed file map to 1 of 4 routes" in selection.reason
    assert "skipped routes: /, /gallery, /team" in selection.reason


def test_a_journey_is_kept_when_one_of_its_pages_is_mapped() -> None:
    selection = select_for_changes(
        ROUTES, [JOURNEY], changed_files=["templates/team.html"], changed_paths=MAP
    )
    assert selection.routes == ["/", "/team"]
    assert [journey.name for journey in selection.journeys] == ["signup"]


def test_nothing_mapped_means_nothing_visited() -> None:
    selection = select_for_changes(ROUTES, [], changed_files=["README.md"], changed_paths=MAP)
    assert selection.routes == []
    assert selection.skipped_routes == ROUTES


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("src/app.ts", "src/**/*.ts", True),
        ("src/a/b/app.ts", "src/**/*.ts", True),
        ("src/app.py", "src/**/*.ts", False),
        ("static\\x.svg", "static/*.svg", True),
        ("other/x.svg", "static/*.svg", False),
    ],
)
def test_glob_matching(path: str, pattern: str, expected: bool) -> None:
    assert matches(path, pattern) is expected


# --- browser lookup --------------------------------------------------------------------------


def test_override_replaces_the_system_lookup_and_the_managed_browser_comes_last(tmp_path: Path) -> None:
    candidates = browser_candidates({CHROMIUM_ENV: "/opt/my/chrome", "PATH": str(tmp_path)})
    assert [c.path for c in candidates] == ["/opt/my/chrome", None]
    assert candidates[0].label == f"{CHROMIUM_ENV}=/opt/my/chrome"


def test_system_chromium_is_tried_first_then_path(tmp_path: Path) -> None:
    fake = tmp_path / "chromium-browser"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    candidates = browser_candidates({"PATH": str(tmp_path)})
    assert candidates[0].path == "/usr/bin/chromium"
    assert str(fake) in [c.path for c in candidates]
    assert candidates[-1].path is None
    assert len({os.path.realpath(c.path) for c in candidates if c.path}) == len(candidates) - 1


def test_the_driver_is_found_through_its_entry_point() -> None:
    assert load_plugin("orchestrate.drivers", "web") is WebDriver
    assert WebDriver.worker_type == "web"


# --- redaction -------------------------------------------------------------------------------


def _entry() -> dict[str, Any]:
    return {
        "request": {
            "headers": [{"name": "Authorization", "value": "Bearer tok"}, {"name": "Accept", "value": "*/*"}],
            "cookies": [{"name": "sid", "value": "abc"}],
        },
        "response": {"headers": [{"name": "set-cookie", "value": "sid=abc"}], "cookies": []},
    }


def test_har_entries_lose_credentials_but_keep_their_names() -> None:
    entry = _entry()
    redact_har_entry(entry)
    assert entry["request"]["headers"] == [
        {"name": "Authorization", "value": "[redacted]"},
        {"name": "Accept", "value": "*/*"},
    ]
    assert entry["request"]["cookies"] == [{"name": "sid", "value": "[redacted]"}]
    assert entry["response"]["headers"] == [{"name": "set-cookie", "value": "[redacted]"}]


def test_trace_network_records_are_redacted_in_place(tmp_path: Path) -> None:
    trace = tmp_path / "t.zip"
    with zipfile.ZipFile(trace, "w") as archive:
        archive.writestr("trace.trace", '{"type":"before"}\n')
        archive.writestr(
            "trace.network", json.dumps({"type": "resource-snapshot", "snapshot": _entry()}) + "\n"
        )
        archive.writestr("resources/a.css", "body{}")
    redact_trace(trace)
    with zipfile.ZipFile(trace) as archive:
        assert sorted(archive.namelist()) == ["resources/a.css", "trace.network", "trace.trace"]
        network = archive.read("trace.network")
        assert b"Bearer tok" not in network and b"abc" not in network
        assert json.loads(network)["snapshot"]["request"]["headers"][1] == {"name": "Accept", "value": "*/*"}
        assert archive.read("resources/a.css") == b"body{}"


def test_changed_files_are_made_relative_to_the_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    changed = [str(project / "static" / "a.js"), "static/b.js", str(tmp_path / "elsewhere.txt")]
    assert _project_relative(changed, project) == [
        "static/a.js",
        "static/b.js",
        str(tmp_path / "elsewhere.txt"),
    ]
    assert _project_relative(None, project) is None
