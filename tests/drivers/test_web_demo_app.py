"""The bundled demo web app: its pages and their known defects, its command line, its project files."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace

import httpx
import pytest

from orchestrator.config import load_config
from orchestrator.policy.test_profiles import TestProfiles
from orchestrator.policyfiles import load_policy_model

DEMO = Path(__file__).resolve().parents[2] / "examples" / "webapp"


@pytest.fixture(scope="module")
def web_demo_client() -> Iterator[httpx.Client]:
    """The demo app run by its own command line on a port the OS picks, and a client for it."""
    process = subprocess.Popen(
        [sys.executable, str(DEMO / "app.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("Demo web app on http://127.0.0.1:"), line
        with httpx.Client(base_url=line.rsplit(" ", 1)[-1], timeout=10) as client:
            yield client
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    "route", ["/", "/about", "/pricing", "/blog", "/contact", "/gallery", "/checkout", "/team"]
)
def test_every_page_answers_with_a_titled_english_document(web_demo_client: httpx.Client, route: str) -> None:
    response = web_demo_client.get(route)
    assert response.status_code == 200
    assert response.text.startswith('<!doctype html><html lang="en">')
    assert "<title>" in response.text and "<main>" in response.text


def test_the_defects_are_where_the_docs_say(web_demo_client: httpx.Client) -> None:
    gallery = web_demo_client.get("/gallery").text
    assert '<img src="/static/sunset.svg" width="320" height="180">' in gallery
    assert '<button type="button" class="icon-button"><svg' in gallery
    assert web_demo_client.get("/static/sunset.svg").status_code == 200
    checkout = web_demo_client.get("/checkout").text
    assert '<script src="/static/checkout.js">' in checkout
    assert "throw new Error" in web_demo_client.get("/static/checkout.js").text
    team = web_demo_client.get("/team").text
    assert 'src="/static/team-photo.jpg"' in team
    assert web_demo_client.get("/static/team-photo.jpg").status_code == 404


def test_the_onboarding_wizard_has_nine_steps(web_demo_client: httpx.Client) -> None:
    start = web_demo_client.get("/onboarding")
    assert start.status_code == 302 and start.headers["location"] == "/onboarding/1"
    for step in range(1, 10):
        page = web_demo_client.get(f"/onboarding/{step}").text
        assert f"Step {step} of 9" in page
        expected = "/onboarding/done" if step == 9 else f"/onboarding/{step + 1}"
        assert f'action="{expected}"' in page
    assert web_demo_client.get("/onboarding/10").status_code == 404
    assert "all set" in web_demo_client.get("/onboarding/done").text
    assert web_demo_client.get("/health").text == "ok"


def test_the_project_files_declare_the_target_and_profiles() -> None:
    config = load_config(DEMO, env={})
    target = config.targets["web"]
    assert target.driver == "web"
    assert target.base_url == "http://127.0.0.1:{port}"
    assert target.start_command == ["python", "app.py", "--port", "{port}"]
    assert target.health_path == "/health"
    assert tomllib.loads((DEMO / "orchestrate.toml").read_text())["targets"]["web"]["cwd"] == "."

    policy = load_policy_model("test-profiles", TestProfiles, DEMO)
    assert policy.default_target == "web" and policy.targets == {"web": "smoke"}
    smoke, full, a11y, onboarding = (
        policy.profiles[name] for name in ("smoke", "full", "a11y", "onboarding")
    )
    assert {"/gallery", "/checkout", "/team"} <= set(smoke.routes)
    assert smoke.checks == ["axe_violations", "console_errors"]
    assert set(smoke.routes) <= set(full.routes) and set(full.routes) <= set(a11y.routes)
    for profile in (full, onboarding):
        (journey,) = profile.journeys
        assert journey.onboarding
        assert sum(step.action == "mark" for step in journey.steps) == 9
    assert onboarding.routes == []


def _demo_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("orchestrate_demo_webapp_backend", DEMO / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_slow_back_end_option_makes_every_page_and_nothing_else_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    demo = _demo_module()
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)

    # The app's only wait is its back end's; it is recorded here instead of slept.
    monkeypatch.setattr(demo, "asyncio", SimpleNamespace(sleep=record))

    async def get_all(app: object, paths: list[str]) -> list[int]:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            return [(await client.get(path)).status_code for path in paths]

    pages = ["/", "/gallery", "/onboarding/3"]
    assert asyncio.run(get_all(demo.create_app(backend_delay_s=0.3), pages)) == [200, 200, 200]
    assert waits == [0.3, 0.3, 0.3]
    waits.clear()
    assert asyncio.run(get_all(demo.create_app(backend_delay_s=0.3), ["/health", "/static/app.css"])) == [
        200,
        200,
    ]
    assert asyncio.run(get_all(demo.create_app(), pages)) == [200, 200, 200]
    assert waits == []


def test_the_slow_back_end_is_an_option_of_the_command_line_and_the_environment() -> None:
    demo = _demo_module()
    assert demo.BACKEND_DELAY_ENV == "DEMO_BACKEND_DELAY_MS"
    help_text = subprocess.run(
        [sys.executable, str(DEMO / "app.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert "--backend-delay-ms" in help_text and "$DEMO_BACKEND_DELAY_MS" in help_text
