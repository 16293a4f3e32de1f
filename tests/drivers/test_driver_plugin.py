"""The example driver plugin installs like any package and is found and run through its entry point.

The package is pip-installed (from a copy, so the source tree gets no build files) into a
temporary target directory that is put on ``sys.path`` for this module only: the environment is
left exactly as it was.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from orchestrator.actors import Worker, spawn
from orchestrator.artifacts import read_jsonl
from orchestrator.errors import ConfigError
from orchestrator.events import EventBus
from orchestrator.gate import (
    CAPTURE,
    CaptureManifest,
    CaptureRequest,
    CaptureResult,
    CaptureTarget,
    NetworkFailure,
)
from orchestrator.messages import WorkRequest, WorkResult
from orchestrator.plugins import available_plugins, load_plugin
from orchestrator.policy.test_profiles import Profile
from tests.plugin_support import install_example_plugin

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "examples" / "driver-plugin"
PACKAGE = "orchestrate_example_driver"

INDEX = """<!doctype html>
<html>
<head><title>Home</title><link rel="stylesheet" href="/css/site.css"></head>
<body>
  <main>
    <img src="img/logo.png">
    <img src="img/divider.png" alt="">
    <button id="menu"></button>
    <button>Sign up</button>
    <button aria-label="Close"><span></span></button>
    <script src="js/missing.js"></script>
  </main>
</body>
</html>
"""
ABOUT = """<!doctype html>
<html lang="en"><body><p>About us<p>Still about us
<button><img src="/img/logo.png" alt="Search"></button></body></html>
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Install the example plugin into a fresh target dir and make it importable for this module."""
    target = install_example_plugin(tmp_path_factory.mktemp("plugin"))
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(target))
        yield target
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "site" / "img").mkdir(parents=True)
    (root / "site" / "css").mkdir()
    (root / "site" / "index.html").write_text(INDEX)
    (root / "site" / "about.html").write_text(ABOUT)
    (root / "site" / "img" / "logo.png").write_bytes(b"\x89PNG")
    (root / "site" / "img" / "divider.png").write_bytes(b"\x89PNG")
    (root / "site" / "css" / "site.css").write_text("body { margin: 0 }")
    return root


def capture_request(
    run_id: str, run_dir: Path, project: Path, routes: list[str], base_url: str | None
) -> WorkRequest:
    """A capture request built as the UI gate builds it for every driver."""
    return WorkRequest(
        run_id=run_id,
        task_id="task-1",
        call_id="call-1",
        capability="capture",
        objective=f"capture for run {run_id} with static-html",
        phase="capture",
        params=CaptureRequest(
            run_id=run_id,
            run_dir=run_dir,
            project_root=project,
            target=CaptureTarget(name="docs", base_url=base_url),
            profile_name="docs",
            profile=Profile(driver="static-html", routes=routes, checks=["axe_violations"], timeout_s=60),
            parallel=2,
        ).model_dump(mode="json"),
    )


def run_driver(bus: EventBus, request: WorkRequest, run_dir: Path) -> WorkResult:
    bus.open_run(request.run_id or "", run_dir / "events.jsonl")
    driver = spawn(load_plugin("orchestrate.drivers", "static-html"), events=bus, name="static-html-test")
    result = driver.ask(request, timeout=30)
    bus.close_run(request.run_id or "")
    assert isinstance(result, WorkResult)
    return result


@pytest.mark.timeout(120)
def test_the_installed_plugin_is_registered_by_its_entry_point(installed: Path) -> None:
    (entry,) = [e for e in entry_points(group="orchestrate.drivers") if e.name == "static-html"]
    assert entry.value == "orchestrate_example_driver:StaticHtmlDriver"
    assert entry.dist is not None and entry.dist.name == "orchestrate-example-driver"
    assert {"static-html", "mac", "command"} <= set(available_plugins("orchestrate.drivers"))
    driver_class = load_plugin("orchestrate.drivers", "static-html")
    assert issubclass(driver_class, Worker)
    assert Path(sys.modules[PACKAGE].__file__ or "").is_relative_to(installed)
    with pytest.raises(ConfigError, match=r"available: .*static-html"):
        load_plugin("orchestrate.drivers", "static-htm")


@pytest.mark.timeout(120)
def test_the_plugin_driver_follows_the_driver_contract(installed: Path, project: Path, bus: EventBus) -> None:
    run_dir = project / ".orchestrator" / "runs" / "docs-1"
    request = capture_request("docs-1", run_dir, project, ["/", "/about", "/missing", "/../escape"], "site")
    result = run_driver(bus, request, run_dir)

    assert not result.success
    assert CAPTURE.parse_result(result.data) == CaptureResult(
        exit_code=1, manifest="captures/static-html.json", captured=2, failed=2
    )
    assert (run_dir / "drivers" / "static-html" / "exit_code").read_text() == "1\n"
    manifest = CaptureManifest.model_validate_json((run_dir / "captures" / "static-html.json").read_text())
    assert manifest.driver == "static-html" and manifest.exit_code == 1
    assert [(c.kind, c.name, c.ok) for c in manifest.captures] == [
        ("route", "/", True),
        ("route", "/about", True),
        ("route", "/missing", False),
        ("route", "/../escape", False),
    ]
    for capture in manifest.captures:
        for path in (capture.axe, capture.network):
            if path is not None:
                assert not Path(path).is_absolute() and (run_dir / path).is_file()

    home, about = manifest.captures[:2]
    assert home.axe is not None and home.network is not None and about.axe is not None
    violations = json.loads((run_dir / home.axe).read_text())["violations"]
    found = {v["id"]: (v["impact"], [n["target"][0] for n in v["nodes"]]) for v in violations}
    assert found == {
        "button-name": ("critical", ["#menu"]),
        "html-has-lang": ("serious", ["html"]),
        "image-alt": ("critical", ["html > body > main:nth-of-type(1) > img:nth-of-type(1)"]),
    }
    assert json.loads((run_dir / about.axe).read_text())["violations"] == []
    missing = [NetworkFailure.model_validate(m) for m in json.loads((run_dir / home.network).read_text())]
    assert [(m.url, m.status, m.resource_type) for m in missing] == [("/js/missing.js", 404, "script")]

    events = read_jsonl(run_dir / "events.jsonl").records
    assert [e["event_type"] for e in events] == [
        "worker.task.started",
        "worker.task.progress",
        "worker.task.completed",
    ]


@pytest.mark.timeout(120)
def test_a_target_that_is_not_a_folder_is_exit_2(installed: Path, project: Path, bus: EventBus) -> None:
    run_dir = project / ".orchestrator" / "runs" / "docs-2"
    request = capture_request("docs-2", run_dir, project, [], "http://localhost:8000")
    result = run_driver(bus, request, run_dir)
    assert CAPTURE.parse_result(result.data).exit_code == 2 and not result.success
    assert "is not a folder" in result.summary

    run_dir = project / ".orchestrator" / "runs" / "docs-3"
    every_page = run_driver(
        bus, capture_request("docs-3", run_dir, project, [], (project / "site").as_uri()), run_dir
    )
    assert CAPTURE.parse_result(every_page.data) == CaptureResult(
        exit_code=0, manifest="captures/static-html.json", captured=2, failed=0
    )
