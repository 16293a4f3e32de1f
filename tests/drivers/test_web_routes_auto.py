"""``routes: auto`` in a real Chromium against a real site: exactly the routes it should visit.

The site (Starlette on loopback, port 0) has a handful of linked pages, a page only its
``sitemap.xml`` lists, a link a script adds, a chain of pages deeper than ``max_depth``, a
redirect, a fragment and a query-only duplicate, an off-origin link, logout links, a PDF by
extension and one by Content-Type, and a JSON resource. It counts the requests it serves, so a
test can prove the crawl never even asked for a logout or a PDF link.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from orchestrator.drivers.web import (
    Crawler,
    CrawlLimits,
    Discovery,
    Timeouts,
    WebCaptureOptions,
    capture_web,
    launch_chromium,
)
from tests.loopback import serve_app

pytestmark = [pytest.mark.browser]

DEMO = Path(__file__).resolve().parents[2] / "examples" / "webapp"

EXPECTED = [
    "/",
    "/about",
    "/products",
    "/deep/1",
    "/missing",
    "/from-js",
    "/hidden",
    "/products/widget",
    "/deep/2",
    "/deep/3",
]
"""Breadth-first: the home page, its links in document order (the script's last), the sitemap's
page, then depth 2 and 3. /missing answers 404 in plain text, and is kept: a broken link is what
the capture must show. Not: /deep/4 (depth 4), the logout links, the PDFs, the JSON, the
redirect to /about, the fragment and query variants, the other origin."""


DEMO_ROUTES = [
    "/",
    "/about",
    "/pricing",
    "/blog",
    "/contact",
    "/gallery",
    "/checkout",
    "/team",
    "/onboarding/1",
]
"""The demo crawled: its navigation in order; /onboarding redirects to the wizard's first step, whose
later steps are behind form buttons, not links."""


def _page(title: str, links: list[tuple[str, str]], script: str = "") -> HTMLResponse:
    anchors = "".join(f'<li><a href="{href}">{text}</a></li>' for href, text in links)
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><title>{title}</title></head><body><main>'
        f"<h1>{title}</h1><ul>{anchors}</ul></main>{script}</body></html>"
    )


HOME_LINKS = [
    ("/about", "About"),
    ("/products", "Products"),
    ("/about#team", "Our team"),
    ("/products?sort=price", "Cheapest first"),
    ("/logout", "Log out"),
    ("/account/end-session", "Sign out"),
    ("/files/guide.pdf", "Guide (PDF)"),
    ("/report", "Report"),
    ("/data", "Data"),
    ("https://example.org/elsewhere", "Elsewhere"),
    ("mailto:team@example.org", "Mail us"),
    ("/deep/1", "Deep"),
    ("/missing", "A page that is gone"),
    ("/old-about", "About (old address)"),
]
ADD_LINK = (
    "<script>const a = document.createElement('a'); a.href = '/from-js'; a.textContent = 'Added';"
    "document.querySelector('main').append(a);</script>"
)


class _Site:
    """The site's app and the count of requests per path."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.app = Starlette(routes=[Route("/{path:path}", self._serve)])

    async def _serve(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        self.hits[path] += 1
        if path == "/":
            return _page("Home", HOME_LINKS, ADD_LINK)
        if path in ("/about", "/from-js", "/hidden"):
            return _page(path, [("/", "Home")])
        if path == "/products":
            return _page("Products", [("/products/widget", "Widget"), ("/", "Home")])
        if path == "/products/widget":
            return _page("Widget", [("/products", "All products")])
        if path.startswith("/deep/"):
            number = int(path.rsplit("/", 1)[1])
            return _page(f"Deep {number}", [(f"/deep/{number + 1}", "Deeper")])
        if path == "/old-about":
            return RedirectResponse("/about", status_code=301)
        if path == "/sitemap.xml":
            locations = ["/", "/hidden", "/files/manual.pdf"]
            entries = "".join(
                f"<url><loc>{request.base_url}{loc.lstrip('/')}</loc></url>" for loc in locations
            )
            entries += "<url><loc>https://example.org/sitemap-only</loc></url>"
            body = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
            return Response(body, media_type="application/xml")
        if path in ("/report", "/files/guide.pdf", "/files/manual.pdf"):
            return Response(b"%PDF-1.4\n%%EOF\n", media_type="application/pdf")
        if path == "/data":
            return JSONResponse({"items": []})
        return Response("gone", status_code=404)  # /missing; /logout and friends are never asked for


@pytest.fixture
def site() -> Iterator[tuple[_Site, str]]:
    state = _Site()
    with serve_app(state.app) as url:
        yield state, url


def crawl(base_url: str, limits: CrawlLimits, parallel: int = 2) -> Discovery:
    async def go() -> Discovery:
        async with async_playwright() as playwright:
            browser, _ = await launch_chromium(playwright)
            try:
                crawler = Crawler(browser, base_url, limits, parallel=parallel, timeouts=Timeouts(10, 5))
                await crawler.run()
                return crawler.discovery()
            finally:
                await browser.close()

    return asyncio.run(go())


@pytest.mark.timeout(120)
def test_the_crawl_visits_exactly_the_sites_pages(site: tuple[_Site, str]) -> None:
    state, url = site
    found = crawl(url, CrawlLimits(max_routes=25, max_depth=3))

    assert found.routes == EXPECTED
    assert {f.route: (f.depth, f.via) for f in found.found} == {
        "/": (0, "base"),
        "/about": (1, "/"),
        "/products": (1, "/"),
        "/deep/1": (1, "/"),
        "/missing": (1, "/"),
        "/from-js": (1, "/"),
        "/hidden": (1, "sitemap"),
        "/products/widget": (2, "/products"),
        "/deep/2": (2, "/deep/1"),
        "/deep/3": (3, "/deep/2"),
    }
    assert found.sitemap == "4 URLs" and found.stopped is None
    assert {f.route: f.status for f in found.found}["/missing"] == 404
    skipped = dict(found.skipped)
    assert skipped[f"{url}/logout"] == "a logout link"
    assert skipped[f"{url}/account/end-session"] == "a logout link"
    assert skipped[f"{url}/files/guide.pdf"] == "not a page (.pdf)"
    assert skipped[f"{url}/files/manual.pdf"] == "not a page (.pdf) (in sitemap.xml)"
    assert skipped[f"{url}/report"].startswith("not a page (")
    assert skipped[f"{url}/data"] == "not a page (application/json)"
    assert skipped[f"{url}/old-about"] == "the same page as /about"
    assert skipped["https://example.org/elsewhere"] == "another origin (https://example.org)"
    # Never asked for: logout links, PDFs by extension, anything deeper than max_depth.
    for never in ("/logout", "/account/end-session", "/files/guide.pdf", "/files/manual.pdf", "/deep/4"):
        assert state.hits[never] == 0, never


@pytest.mark.timeout(120)
def test_the_limits_cut_the_crawl_the_same_way_every_time(site: tuple[_Site, str]) -> None:
    _, url = site
    assert crawl(url, CrawlLimits(max_routes=4, max_depth=3), parallel=3).routes == EXPECTED[:4]
    assert crawl(url, CrawlLimits(max_routes=4, max_depth=3), parallel=1).routes == EXPECTED[:4]
    assert crawl(url, CrawlLimits(max_routes=25, max_depth=0)).routes == ["/"]
    assert crawl(url, CrawlLimits(max_routes=25, max_depth=1)).routes == EXPECTED[:7]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_driver_captures_the_routes_it_found_and_records_them(
    site: tuple[_Site, str], tmp_path: Path
) -> None:
    _, url = site
    progress: list[tuple[str, dict[str, Any]]] = []
    outcome = capture_web(
        WebCaptureOptions(run_dir=tmp_path / "run", base_url=url, routes="auto", parallel=2),
        on_progress=lambda message, details: progress.append((message, dict(details))),
    )
    manifest = outcome.manifest
    assert manifest.exit_code == 0, manifest.error
    assert [capture.name for capture in manifest.captures] == EXPECTED
    assert all(capture.ok and capture.kind == "route" for capture in manifest.captures)
    recorded = json.loads((tmp_path / "run" / manifest.extra["discovered_routes"]).read_text())
    assert [entry["route"] for entry in recorded["routes"]] == EXPECTED
    assert (recorded["max_routes"], recorded["max_depth"]) == (25, 3)
    (discovered,) = [details for message, details in progress if message.startswith("discovered ")]
    assert discovered["routes"] == EXPECTED


def _load_demo() -> Any:
    spec = importlib.util.spec_from_file_location("orchestrate_demo_webapp_auto", DEMO / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(120)
def test_the_demo_app_crawled_gives_its_content_pages_and_the_wizards_first_step() -> None:
    with serve_app(_load_demo().create_app()) as url:
        found = crawl(url, CrawlLimits())
    assert found.routes == DEMO_ROUTES
    assert not any(reason == "a logout link" for _, reason in found.skipped)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_gate_with_the_shipped_smoke_profile_finds_the_demos_defects_on_its_own(tmp_path: Path) -> None:
    # The demo with its own routes taken out: the shipped smoke profile (routes: auto) decides.
    project = tmp_path / "webapp"
    shutil.copytree(DEMO, project, ignore=shutil.ignore_patterns(".orchestrator", "__pycache__"))
    policy = project / ".orchestrator" / "policy"
    policy.mkdir(parents=True)
    (policy / "test-profiles.yaml").write_text("default_target: web\ntargets:\n  web: smoke\n")
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "-C", str(project), "test", "--triage", "skip", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    run_dir = project / ".orchestrator" / "runs" / summary["run_id"]
    lines = (run_dir / "findings.jsonl").read_text().splitlines()[1:]
    found = {(f["severity"], f["checkId"], f["scope"]) for f in map(json.loads, lines)}
    assert found == {
        ("critical", "image-alt", "/gallery"),
        ("critical", "button-name", "/gallery"),
        ("high", "uncaught-exception", "/checkout"),
        ("medium", "http-404", "network"),
    }
    manifest = json.loads((run_dir / "captures" / "web.json").read_text())
    visited = [capture["name"] for capture in manifest["captures"]]
    assert visited == DEMO_ROUTES
    recorded = json.loads((run_dir / manifest["extra"]["discovered_routes"]).read_text())
    assert [entry["route"] for entry in recorded["routes"]] == DEMO_ROUTES
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    progress = [e for e in events if e["event_type"] == "worker.task.progress"]
    (discovered,) = [e["payload"] for e in progress if e["payload"]["message"].startswith("discovered ")]
    assert discovered["routes"] == DEMO_ROUTES


@pytest.mark.timeout(120)
def test_since_narrows_the_routes_found_to_those_the_changes_map_to(
    site: tuple[_Site, str], tmp_path: Path
) -> None:
    _, url = site
    outcome = capture_web(
        WebCaptureOptions(
            run_dir=tmp_path / "run",
            base_url=url,
            routes="auto",
            crawl=CrawlLimits(max_routes=25, max_depth=1),
            changed_files=["src/products.py"],
            changed_paths={"src/products.py": ["/products", "/products/widget"], "src/about.py": ["/about"]},
            parallel=2,
        )
    )
    manifest = outcome.manifest
    assert manifest.exit_code == 0, manifest.error
    # Found at depth 1: /products is; /products/widget (depth 2) is not, so it is not visited.
    assert [capture.name for capture in manifest.captures] == ["/products"]
    recorded = json.loads((tmp_path / "run" / manifest.extra["discovered_routes"]).read_text())
    assert [entry["route"] for entry in recorded["routes"]] == EXPECTED[:7]
    selection = json.loads((tmp_path / "run" / manifest.extra["selection"]).read_text())
    assert selection["routes"] == ["/products"]
    assert set(selection["skipped_routes"]) == set(EXPECTED[:7]) - {"/products"}
