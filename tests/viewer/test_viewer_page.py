"""The trace viewer page in a real Chromium, against a fake API serving the contract's documents.

The fake API (a small Starlette app) serves the page's own static files plus the run list, the
run details from ``page_fixtures`` and a Server-Sent Events stream the test pushes events into,
so these tests pin the page alone: what it draws from a document, how its controls change the
drawing, and how it reacts to the stream.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, Route, async_playwright, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route as StarletteRoute

from orchestrator.chromium import launch_chromium
from orchestrator.events import EventBus
from orchestrator.viewer import inline_page
from tests.loopback import serve_app
from tests.viewer.page_fixtures import (
    HOSTILE_TEXT,
    long_detail,
    pack_loop_detail,
    run_summary,
    scenario_detail,
    seeded_detail,
    seeded_runs,
)
from tests.viewer.viewer_support import project, seed_story, serve

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "orchestrator" / "viewer" / "static"
SEEDED = "run-0003-seeded"
LONG = "run-0005-long"
SCENARIO = "run-0006-scenario"
PACK = "run-0002-pack"


@dataclass
class FakeApi:
    """The API's state: runs newest first, details by run id, and the open streams' queues."""

    runs: list[dict[str, Any]] = field(default_factory=seeded_runs)
    details: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            SEEDED: seeded_detail(SEEDED),
            LONG: long_detail(LONG),
            SCENARIO: scenario_detail(SCENARIO),
            PACK: pack_loop_detail(PACK),
        }
    )
    streams: list[asyncio.Queue[dict[str, Any]]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        async def index(request: Request) -> Response:
            return FileResponse(STATIC / "index.html")

        async def static(request: Request) -> Response:
            name = request.path_params["name"]
            if name not in {"app.js", "style.css"}:
                return JSONResponse({"detail": "no such file"}, status_code=404)
            return FileResponse(STATIC / name)

        async def runs(request: Request) -> Response:
            self.requests.append(str(request.url))
            kind, status = request.query_params.get("kind"), request.query_params.get("status")
            chosen = [
                r
                for r in self.runs
                if (not kind or r["kind"] == kind) and (not status or r["status"] == status)
            ]
            return JSONResponse({"runs": chosen, "next_before": None})

        async def detail(request: Request) -> Response:
            found = self.details.get(request.path_params["run_id"])
            if found is None:
                return JSONResponse({"detail": "unknown run"}, status_code=404)
            return JSONResponse(found)

        async def stream(request: Request) -> Response:
            queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            self.streams.append(queue)

            async def body() -> AsyncIterator[str]:
                yield ": connected\n\n"
                cursor = 0
                try:
                    while True:
                        event = await queue.get()
                        cursor += 1
                        yield f"id: {cursor}\nevent: event\ndata: {json.dumps(event)}\n\n"
                finally:
                    self.streams.remove(queue)

            return StreamingResponse(body(), media_type="text/event-stream")

        async def push(request: Request) -> Response:
            """Test-only: add or replace runs and details, then send one event to every stream."""
            sent = await request.json()
            for run in sent.get("runs", []):
                self.runs = [run] + [r for r in self.runs if r["run_id"] != run["run_id"]]
            self.details.update(sent.get("details", {}))
            for queue in self.streams:
                queue.put_nowait(sent["event"])
            return JSONResponse({"streams": len(self.streams)})

        return Starlette(
            routes=[
                StarletteRoute("/", index),
                StarletteRoute("/static/{name}", static),
                StarletteRoute("/runs", runs),
                StarletteRoute("/runs/{run_id}", detail),
                StarletteRoute("/logs/stream", stream),
                StarletteRoute("/_push", push, methods=["POST"]),
            ]
        )


@pytest.fixture
def api() -> Iterator[tuple[FakeApi, str]]:
    fake = FakeApi()
    with serve_app(fake.app()) as origin:
        yield fake, origin


def in_browser(test: Callable[[Page], Awaitable[None]]) -> None:
    """Run ``test`` on a fresh page of the system Chromium, then close the browser."""

    async def main() -> None:
        async with async_playwright() as playwright:
            browser, _ = await launch_chromium(playwright)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                await test(page)
            finally:
                await browser.close()

    asyncio.run(main())


async def push(page: Page, origin: str, event: dict[str, Any], **changes: Any) -> None:
    response = await page.request.post(f"{origin}/_push", data={"event": event, **changes})
    assert response.ok
    assert (await response.json())["streams"] >= 1, "the page has no stream open"


def stream_event(run_id: str, event_type: str, seq: int = 1) -> dict[str, Any]:
    return {
        "seq": seq,
        "event_id": f"live-{run_id}-{seq}",
        "timestamp": "2026-02-03T11:00:00.000000+00:00",
        "event_type": event_type,
        "actor": "conductor",
        "run_id": run_id,
        "task_id": None,
        "call_id": None,
        "trace_id": None,
        "tool_trace_id": None,
        "payload": {},
    }


async def radii(page: Page) -> list[float]:
    cells = page.locator(".trace-traj-grid .trace-traj-cell")
    return [float(r) for r in await cells.evaluate_all("cs => cs.map(c => c.getAttribute('r'))")]


async def ring_seqs(page: Page) -> list[str]:
    rings = page.locator(".trace-traj-grid .trace-traj-slow-ring")
    return list(await rings.evaluate_all("rs => rs.map(r => r.dataset.seq)"))


def slow_seqs(detail: dict[str, Any], threshold: float) -> list[str]:
    return [str(c["seq"]) for c in detail["grid"]["cells"] if (c["duration_ms"] or 0) > threshold]


@pytest.mark.timeout(60)
def test_the_run_list_shows_every_run_with_status_pills_and_filters(
    api: tuple[FakeApi, str], tmp_path: Path
) -> None:
    fake, origin = api

    async def check(page: Page) -> None:
        await page.goto(f"{origin}/#/")
        rows = page.locator(".trace-run-row")
        await expect(rows).to_have_count(len(fake.runs))
        for name in ("completed", "failed", "in-progress", "interrupted"):
            await expect(page.locator(f".trace-run-status--{name}")).to_have_count(
                sum(1 for r in fake.runs if r["status"].replace("_", "-") == name)
            )
        failed = page.locator(".trace-run-row", has=page.locator(".trace-run-status--failed"))
        await expect(failed.locator(".trace-run-toggle")).to_contain_text(SEEDED)
        await expect(failed.locator(".trace-pill").filter(has_text="4 worker calls")).to_be_visible()
        await expect(failed.locator(".trace-pill").filter(has_text="2 workers")).to_be_visible()
        await expect(failed.locator(".trace-pill").filter(has_text="12.8K tok")).to_be_visible()
        await expect(failed.locator(".trace-pill").filter(has_text="42.3s")).to_be_visible()
        await expect(page.locator(".trace-run-sparkline polyline")).to_have_count(len(fake.runs))
        await expect(page.locator("#app")).not_to_contain_text(re.compile(r"\bnull\b|undefined|NaN"))
        await page.screenshot(path=str(tmp_path / "viewer-run-list.png"), full_page=True)

        await page.locator(".trace-filter--kind").select_option("pack_loop")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("pack loop")
        await page.locator(".trace-filter--kind").select_option("")
        await page.locator(".trace-filter--status").select_option("interrupted")
        await expect(rows).to_have_count(1)
        await expect(rows.locator(".trace-run-status--interrupted")).to_be_visible()
        assert any("status=interrupted" in url for url in fake.requests)

        await page.locator(".trace-filter--status").select_option("")
        await page.locator(".trace-run-toggle", has_text=SEEDED).click()
        await expect(page).to_have_url(f"{origin}/#/runs/{SEEDED}")
        await expect(page.locator(".trace-traj-grid")).to_be_visible()

    in_browser(check)


@pytest.mark.timeout(60)
def test_the_run_detail_draws_every_element_and_modifier(api: tuple[FakeApi, str], tmp_path: Path) -> None:
    fake, origin = api
    detail = fake.details[SEEDED]

    async def check(page: Page) -> None:
        await page.goto(f"{origin}/#/runs/{SEEDED}")
        pills = page.locator(".trace-pills .trace-pill")
        for text in ("4 calls", "1 failure", "6.5K tok", "42.3s"):
            await expect(pills.filter(has_text=text)).to_have_count(1)

        bands = page.locator(".trace-delegation-timeline .trace-delegation-band")
        await expect(bands).to_have_count(len(detail["delegations"]))
        await expect(page.locator(".trace-delegation-band--failed")).to_contain_text("analyst")
        await expect(page.locator(".trace-delegation-band--blocked")).to_contain_text("fixer")
        first = bands.first
        await expect(first).to_contain_text("ui_evaluator")
        await expect(first).to_contain_text("completed")
        await expect(first).to_contain_text("9.0s")
        title = await first.get_attribute("title")
        assert title is not None
        assert len(title) <= 200
        assert title.startswith(HOSTILE_TEXT)

        await expect(page.locator("svg .trace-worker-node")).to_have_count(2)
        for status in ("completed", "failed", "blocked", "inflight"):
            await expect(
                page.locator(f".trace-agent-graph .trace-graph-edge--{status}").first
            ).to_be_attached()
        dash = await page.locator(".trace-graph-edge--blocked").first.evaluate(
            "e => getComputedStyle(e).strokeDasharray"
        )
        assert dash not in ("", "none")

        for kind in ("started", "progress", "completed", "failed", "finding", "learning"):
            await expect(page.locator(f".trace-lifecycle-chip--{kind}").first).to_be_visible()
        await page.locator(".trace-lifecycle-chip--finding").click()
        await expect(page.locator(".trace-lifecycle-detail-text").first).to_have_text(
            "the button has no label"
        )

        grid = page.locator(".trace-traj-grid")
        await expect(grid).to_be_visible()
        for status in ("completed", "failed", "inflight", "blocked"):
            await expect(grid.locator(f".trace-traj-cell--{status}").first).to_be_visible()
        await expect(grid.locator(".trace-traj-cell")).to_have_count(len(detail["grid"]["cells"]))
        await expect(grid.locator(".trace-traj-divider")).to_have_count(
            sum(c["loop_boundary"] for c in detail["grid"]["columns"])
        )
        labels = await grid.locator(".trace-traj-row-label").all_text_contents()
        assert labels == [row["key"] for row in detail["grid"]["rows"]]
        for mode in ("Status", "Duration", "Tokens"):
            await expect(page.locator(".trace-traj-mode", has_text=mode)).to_be_visible()

        await expect(page.locator(".trace-call-card")).to_have_count(
            len(detail["llm_calls"]) + len(detail["tool_calls"])
        )
        await expect(page.locator(".trace-call-card .trace-duration-bar").first).to_be_visible()
        await expect(page.locator(".trace-duration-bar--slow")).to_have_count(
            sum(1 for c in detail["llm_calls"] + detail["tool_calls"] if (c["duration_ms"] or 0) > 5000)
        )
        for segment in ("input", "output", "cached"):
            await expect(
                page.locator(f".trace-token-bar .trace-token-segment--{segment}").first
            ).to_be_visible()
        await expect(page.locator(".trace-call-card--tool")).to_have_count(len(detail["tool_calls"]))

        await expect(page.locator(".trace-finding")).to_contain_text(
            "The submit button has no accessible name."
        )
        # Run-dir files are served by the API's files route; a hostile path is no link at all.
        await expect(page.locator(".trace-job-trace a")).to_have_attribute(
            "href", f"{origin}/runs/{SEEDED}/files/artifacts/ui/trace-home.zip"
        )
        await expect(page.locator(".trace-job-trace")).to_have_count(len(detail["job"]["traces"]))
        await expect(page.locator(".trace-job-trace code")).to_have_count(len(detail["job"]["traces"]) - 1)
        assert await page.locator("a[href^='javascript']").count() == 0

        events = page.locator(".trace-event")
        await expect(events).to_have_count(len(detail["events"]))
        await page.locator(".trace-event-filter").fill("worker.task")
        await expect(events).to_have_count(
            sum(e["event_type"].startswith("worker.task") for e in detail["events"])
        )
        await page.locator(".trace-event-filter").fill("")
        await page.screenshot(path=str(tmp_path / "viewer-run-detail.png"), full_page=True)

    in_browser(check)


@pytest.mark.timeout(60)
def test_the_mode_pills_change_the_radii_and_the_threshold_moves_the_slow_rings(
    api: tuple[FakeApi, str],
) -> None:
    fake, origin = api
    detail = fake.details[SEEDED]

    async def check(page: Page) -> None:
        await page.goto(f"{origin}/#/runs/{SEEDED}")
        await expect(page.locator(".trace-traj-grid .trace-traj-cell").first).to_be_visible()
        status = await radii(page)
        assert len(set(status)) == 1, "Status mode draws every cell the same size"

        await page.locator(".trace-traj-mode", has_text="Duration").click()
        await expect(page.locator(".trace-traj-mode--active")).to_have_text("Duration")
        duration = await radii(page)
        assert len(set(duration)) > 2
        cells = detail["grid"]["cells"]
        longest = max(range(len(cells)), key=lambda i: cells[i]["duration_ms"] or 0)
        assert duration[longest] == max(duration)

        await page.locator(".trace-traj-mode", has_text="Tokens").click()
        await expect(page.locator(".trace-traj-mode--active")).to_have_text("Tokens")
        tokens = await radii(page)
        assert tokens != duration
        most = max(range(len(cells)), key=lambda i: cells[i]["tokens"] or 0)
        assert tokens[most] == max(tokens)

        assert sorted(await ring_seqs(page)) == sorted(slow_seqs(detail, 5000))
        threshold = page.locator(".trace-traj-threshold")
        await expect(threshold).to_have_value("5000")
        await threshold.fill("2000")
        await expect(page.locator(".trace-traj-slow-ring")).to_have_count(len(slow_seqs(detail, 2000)))
        assert sorted(await ring_seqs(page)) == sorted(slow_seqs(detail, 2000))
        await threshold.fill("8000")
        await expect(page.locator(".trace-traj-slow-ring")).to_have_count(len(slow_seqs(detail, 8000)))
        assert sorted(await ring_seqs(page)) == sorted(slow_seqs(detail, 8000))
        await expect(page.locator(".trace-duration-bar--slow")).to_have_count(0)

    in_browser(check)


@pytest.mark.timeout(60)
def test_a_long_run_buckets_its_columns_and_names_the_step_range(api: tuple[FakeApi, str]) -> None:
    fake, origin = api
    grid = fake.details[LONG]["grid"]
    assert grid["steps"] == 120

    async def check(page: Page) -> None:
        await page.goto(f"{origin}/#/runs/{LONG}")
        cells = page.locator(".trace-traj-grid .trace-traj-cell")
        await expect(cells.first).to_be_visible()
        columns = await cells.evaluate_all("cs => new Set(cs.map(c => c.getAttribute('cx'))).size")
        assert columns == math.ceil(120 / math.ceil(120 / 80)) <= 80
        failed = page.locator(".trace-traj-grid .trace-traj-cell--failed")
        await expect(failed).to_have_count(1)
        await expect(failed.locator("title")).to_contain_text("steps 6\u20137")
        await expect(page.locator(".trace-traj-grid .trace-traj-cell--blocked title")).to_contain_text(
            "steps 40\u201341"
        )
        await expect(page.locator(".trace-traj-bucket-note")).to_have_text("120 steps, 2 per column")
        # A run without a job panel or delegations draws no stray values.
        await expect(page.locator("#app")).not_to_contain_text(re.compile(r"\bnull\b|undefined|NaN"))

    in_browser(check)


@pytest.mark.timeout(60)
def test_clicking_a_cell_highlights_its_card(api: tuple[FakeApi, str]) -> None:
    fake, origin = api
    detail = fake.details[SEEDED]
    slow_llm = max(detail["llm_calls"], key=lambda c: c["duration_ms"] or 0)
    worker_cell = next(c for c in detail["grid"]["cells"] if c["row"] == "worker:w2")

    async def check(page: Page) -> None:
        await page.goto(f"{origin}/#/runs/{SEEDED}")
        await page.locator(f".trace-traj-cell[data-seq='{slow_llm['seq']}']").click()
        selected = page.locator(".trace-call-card--selected")
        await expect(selected).to_have_count(1)
        await expect(selected).to_have_attribute("data-seq", str(slow_llm["seq"]))
        await expect(selected).to_be_in_viewport()

        tool = detail["tool_calls"][1]
        await page.locator(f".trace-traj-cell[data-seq='{tool['seq']}']").click()
        await expect(selected).to_have_attribute("data-seq", str(tool["seq"]))
        await expect(selected).to_contain_text(tool["tool"])

        # A worker task has no call card: its event in the list is highlighted instead.
        await page.locator(f".trace-traj-cell[data-seq='{worker_cell['seq']}']").click()
        await expect(selected).to_have_count(0)
        await expect(page.locator(".trace-event--selected")).to_have_attribute(
            "data-seq", str(worker_cell["seq"])
        )

        # A delegation band scrolls to its worker's lifecycle strip.
        await page.locator(".trace-delegation-band--failed").click()
        focused = page.locator(".trace-lifecycle--focus")
        await expect(focused).to_have_attribute("data-call-id", "c2")
        await expect(focused).to_be_in_viewport()

    in_browser(check)


@pytest.mark.timeout(60)
def test_a_new_run_appears_live_and_an_open_run_refreshes(api: tuple[FakeApi, str]) -> None:
    fake, origin = api

    async def check(page: Page) -> None:
        await page.goto(f"{origin}/#/")
        await expect(page.locator(".trace-run-row")).to_have_count(len(fake.runs))
        await expect(page.locator("#trace-live")).to_be_visible()
        fresh = run_summary("run-0009-fresh", status="in_progress", kind="scenario")
        await push(page, origin, stream_event(fresh["run_id"], "conductor.task.started"), runs=[fresh])
        row = page.locator(".trace-run-row[data-run-id='run-0009-fresh']")
        await expect(row).to_be_visible(timeout=2000)
        await expect(row.locator(".trace-run-status--in-progress")).to_be_visible()

        live = seeded_detail("run-0009-fresh")
        live["run"]["status"] = "in_progress"
        await push(
            page,
            origin,
            stream_event("run-0009-fresh", "worker.task.progress", 2),
            details={live["run"]["run_id"]: live},
        )
        await row.locator(".trace-run-toggle").click()
        await expect(page.locator(".trace-detail-head .trace-run-status--in-progress")).to_be_visible()

        done = seeded_detail("run-0009-fresh")
        done["run"]["status"] = "completed"
        await push(
            page,
            origin,
            stream_event("run-0009-fresh", "conductor.task.completed", 3),
            details={"run-0009-fresh": done},
        )
        await expect(page.locator(".trace-detail-head .trace-run-status--completed")).to_be_visible(
            timeout=2000
        )

    in_browser(check)


@pytest.mark.timeout(60)
def test_an_export_renders_from_the_inlined_document_with_no_network(tmp_path: Path) -> None:
    detail = seeded_detail(SEEDED)
    html = inline_page(STATIC, json.dumps(detail))
    assert "/static/" not in html
    document_url = "http://export.invalid/trace.html"

    async def check(page: Page) -> None:
        refused: list[str] = []

        async def only_the_document(route: Route) -> None:
            if route.request.url == document_url:
                await route.fulfill(status=200, content_type="text/html", body=html)
            else:
                refused.append(route.request.url)
                await route.abort()

        await page.route("**/*", only_the_document)
        await page.goto(document_url)
        await expect(page.locator(".trace-detail-title")).to_have_text(SEEDED)
        await expect(page.locator(".trace-delegation-band")).to_have_count(len(detail["delegations"]))
        await expect(page.locator(".trace-traj-grid .trace-traj-cell")).to_have_count(
            len(detail["grid"]["cells"])
        )
        await expect(page.locator(".trace-call-card")).to_have_count(
            len(detail["llm_calls"]) + len(detail["tool_calls"])
        )
        await expect(page.locator(".trace-back")).to_have_count(0)
        # The finding's screenshot is a relative path: an export may ask for it, nothing else.
        assert [url for url in refused if not url.endswith("/home.png")] == []

    in_browser(check)


@pytest.mark.timeout(60)
def test_user_text_with_markup_shows_literally(api: tuple[FakeApi, str]) -> None:
    _, origin = api

    async def check(page: Page) -> None:
        await page.goto(f"{origin}/#/runs/{SEEDED}")
        learning = page.locator(".trace-lifecycle-chip--learning")
        await expect(learning).to_contain_text("<script>window.__viewerInjected")
        await learning.click()
        await expect(page.locator(".trace-lifecycle-detail-text").first).to_have_text(HOSTILE_TEXT)
        await expect(page.locator(".trace-finding strong")).to_have_text(HOSTILE_TEXT)
        assert await page.locator(".trace-app b, .trace-app script").count() == 0
        assert await page.evaluate("window.__viewerInjected === undefined")

    in_browser(check)


@pytest.mark.timeout(60)
def test_scenario_and_pack_loop_runs_show_their_job_panels(api: tuple[FakeApi, str]) -> None:
    fake, origin = api
    scenarios = fake.details[SCENARIO]["job"]["scenarios"]

    async def check(page: Page) -> None:
        await page.goto(f"{origin}/#/runs/{SCENARIO}")
        await expect(page.locator(".trace-scenario h3")).to_have_text([s["id"] for s in scenarios])
        refund = page.locator(".trace-scenario", has_text="refund-request")
        await expect(refund.locator(".trace-trajectory")).to_have_count(2)
        await expect(refund.locator(".trace-verdict--satisfactory")).to_have_text("satisfactory")
        chaos = refund.locator(".trace-trajectory", has=page.locator(".trace-chaos-badge"))
        await expect(chaos).to_contain_text("refund-request-1")
        await expect(chaos.locator(".trace-verdict--unsatisfactory")).to_have_text("unsatisfactory")
        await expect(
            page.locator(".trace-scenario", has_text="order-status").locator(".trace-verdict")
        ).to_have_text("no verdict")

        await page.goto(f"{origin}/#/runs/{PACK}")
        rows = page.locator(".trace-pack-iteration")
        await expect(rows).to_have_count(3)
        await expect(rows.nth(1)).to_contain_text("0.61")
        await expect(page.locator(".trace-pack-bar")).to_have_count(3)
        heights = await page.locator(".trace-pack-bar").evaluate_all(
            "bs => bs.map(b => Number(b.getAttribute('height')))"
        )
        assert heights[1] == max(heights)
        await expect(page.locator(".trace-pack-stop")).to_contain_text("plateau")
        await expect(page.locator(".trace-pack-stop")).to_contain_text("no gain over 0.02")

    in_browser(check)


@pytest.mark.timeout(60)
def test_the_page_draws_a_run_served_by_the_real_api(tmp_path: Path) -> None:
    config = project(tmp_path)
    bus = EventBus(config.events_db)
    try:
        run_id = seed_story(config, bus, terminal="failed", kind="ui")
        with serve(config) as served:

            async def check(page: Page) -> None:
                problems: list[str] = []
                page.on("pageerror", lambda error: problems.append(str(error)))
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                await page.goto(f"{served.url}/#/")
                row = page.locator(f".trace-run-row[data-run-id='{run_id}']")
                await expect(row.locator(".trace-run-status--failed")).to_be_visible()
                await row.locator(".trace-run-toggle").click()
                await expect(page.locator(".trace-delegation-band--failed")).to_have_count(1)
                await expect(page.locator(".trace-delegation-band--blocked")).to_have_count(1)
                await expect(page.locator("svg .trace-worker-node").first).to_be_visible()
                await expect(page.locator(".trace-lifecycle-chip--finding").first).to_be_visible()
                await expect(page.locator(".trace-traj-grid .trace-traj-cell--failed").first).to_be_visible()
                output = page.locator(".trace-token-bar .trace-token-segment--output")
                await expect(output.first).to_be_visible()
                assert problems == []

            in_browser(check)
    finally:
        bus.stop()
