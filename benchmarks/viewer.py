"""The trace viewer over a large event index, each figure against its floor, measured in one run.

A temporary project gets ``--events`` events over ``--runs`` runs, written through the real
:class:`~orchestrator.events.EventBus` (so into each run's ``events.jsonl`` and the project's
SQLite index): each run starts, makes delegations (``conductor.worker.call``, the worker's
``worker.task.*`` with a model call with token usage and a tool call inside, then
``conductor.worker.result`` and ``conductor.capability.completed``/``failed``, all tied by
``call_id``/``task_id``/trace ids) and ends with ``conductor.task.completed`` or ``failed``. One
of the runs holds ``--detail-events`` events (the run whose page is drawn); the others share the
rest. The viewer (``create_app``, as ``orchestrate serve`` makes it) is then served on loopback.

1. ``events_api_ms``: ``GET /logs/events?run_id=…&limit=500`` through the server, one httpx
   client keeping its connection, a different run each time. Floor ``events_sql_ms``: in this
   process, on a read-only connection to the same database,
   ``SELECT line FROM events WHERE run_id=? ORDER BY seq LIMIT 500`` for the same run and every
   line parsed with ``orjson.loads`` (the rows the API answers with, as Python objects; no HTTP,
   no validation, no re-encoding). ``api_vs_sql`` is api / sql (target: at most 3). The HTTP
   round trip alone (``GET /health``, same server and client) is printed beside it.
2. ``runs_api_ms``: ``GET /runs?limit=50``, the list the page opens with (target: under 100).
3. ``detail_render_ms``: the system Chromium (headless, through Playwright) opens
   ``/#/runs/<the big run>`` in a new page until the trajectory grid is drawn (its
   ``svg.trace-traj-grid`` has cells, and two animation frames have passed so they are painted);
   the median of ``--loads`` loads (target: under 1,500). The detail API's own time is printed
   beside it.
4. ``stream_delay_ms``: ``/logs/stream`` read by httpx while a bus in this process emits
   ``--repeat`` events into a new run at random moments (0-200 ms apart, so the server's polling
   phase is sampled evenly); each event carries its emit time (``time.monotonic_ns``) and its
   delay is the arrival time minus that (target: under 500).

Figures 1-2 are medians of ``--repeat`` requests after a few warm-up ones. The last line is one
JSON object.

    python benchmarks/viewer.py [--events 1000000] [--runs 1000] [--repeat 50] [--detail-events 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from playwright.async_api import async_playwright

from orchestrator.asgi_server import AsgiServer
from orchestrator.chromium import launch_chromium
from orchestrator.config import ProjectConfig, load_config
from orchestrator.events import EventBus
from orchestrator.runs import RunDir, create_run, mark_run_finished
from orchestrator.scaffold import init_project
from orchestrator.viewer import create_app, stop_streams

DELEGATION = 10
"""Events of one delegation (see :func:`delegation`)."""
WARMUP = 3
_OBJECTIVE = "Evaluate the sign-up journey for keyboard traps and unlabeled fields."
_USAGE = {"input_tokens": 1200, "output_tokens": 300, "cached_input_tokens": 400, "total_tokens": 1500}

# What one emit takes: event type, payload, actor, correlation ids (besides run_id).
Draft = tuple[str, dict[str, Any], str, dict[str, str]]


def delegation(number: int) -> list[Draft]:
    """One delegation: the call, the worker's task with a model and a tool call, the outcome."""
    call_id, task_id, worker = f"c{number}", f"t{number}", f"w{number % 4}"
    failed = number % 7 == 6
    ids = {"call_id": call_id, "task_id": task_id}
    llm = {**ids, "trace_id": f"{task_id}-llm"}
    tool = {**ids, "tool_trace_id": f"{task_id}-tool"}
    kind = "ux-evaluator" if number % 3 else "a11y"
    base = {"worker_id": worker, "phase": "evaluate"}
    tool_result: dict[str, Any] = {"tool_name": "browser.click", "success": not failed, "duration_ms": 250.0}
    if failed:
        tool_result["error"] = "TimeoutError: no element matched"
    drafts: list[Draft] = [
        ("conductor.worker.call", {"worker_type": kind, "worker_objective": _OBJECTIVE}, "conductor", ids),
        ("worker.task.started", {**base, "objective": _OBJECTIVE}, worker, ids),
        ("llm.call.started", {"model": "m-1", "provider": "openai"}, worker, llm),
        (
            "llm.call.completed",
            {"model": "m-1", "provider": "openai", "duration_ms": 1800.0, "usage": _USAGE},
            worker,
            llm,
        ),
        ("worker.tool.call", {"tool_name": "browser.click", "args_summary": "#submit"}, worker, tool),
        ("worker.tool.result", tool_result, worker, tool),
        ("worker.task.progress", {**base, "message": "checked the form"}, worker, ids),
    ]
    capability = {"capability": kind, "lane": "control"}
    if failed:
        drafts += [
            ("worker.task.failed", {**base, "error": "the page did not load"}, worker, ids),
            (
                "conductor.worker.result",
                {"worker_type": kind, "success": False, "result_summary": "failed"},
                "conductor",
                {"call_id": call_id},
            ),
            (
                "conductor.capability.failed",
                {**capability, "error": "the page did not load", "failure_kind": "worker_error"},
                "conductor",
                {"call_id": call_id},
            ),
        ]
    else:
        drafts += [
            ("worker.task.completed", {**base, "summary": "1 finding"}, worker, ids),
            (
                "conductor.worker.result",
                {"worker_type": kind, "success": True, "result_summary": "1 finding"},
                "conductor",
                {"call_id": call_id},
            ),
            (
                "conductor.capability.completed",
                {**capability, "summary": "1 finding"},
                "conductor",
                {"call_id": call_id},
            ),
        ]
    assert len(drafts) == DELEGATION
    return drafts


def run_script(events: int, failed: bool) -> Iterator[Draft]:
    """Exactly ``events`` events of one run: its start, delegations, progress to fill, its end."""
    yield "conductor.task.started", {"status": "running"}, "conductor", {}
    middle = events - 2
    for number in range(middle // DELEGATION):
        yield from delegation(number)
    for n in range(middle % DELEGATION):
        payload = {"worker_id": "w0", "phase": "report", "message": f"writing the report ({n})"}
        yield "worker.task.progress", payload, "w0", {"task_id": "t-report"}
    if failed:
        end = {"status": "failed", "error_code": "worker_error", "error_message": "a capability failed"}
        yield "conductor.task.failed", end, "conductor", {}
    else:
        yield "conductor.task.completed", {"status": "completed"}, "conductor", {}


@dataclass
class Store:
    config: ProjectConfig
    run_ids: list[str]
    detail_run: str
    seconds: float


def write_run(bus: EventBus, config: ProjectConfig, events: int, failed: bool) -> str:
    """A scenario run dir with ``events`` events through ``bus``, closed and marked finished."""
    run: RunDir = create_run(config.scenario_runs_dir, "scenario")
    bus.open_run(run.run_id, run.events_path)
    for event_type, payload, actor, ids in run_script(events, failed):
        bus.emit(event_type, payload, actor=actor, correlation={"run_id": run.run_id, **ids})
    bus.close_run(run.run_id)
    mark_run_finished(run, "failed" if failed else "completed")
    return run.run_id


def seed(root: Path, events: int, runs: int, detail_events: int) -> Store:
    """The project and its index: ``events`` events over ``runs`` runs, one of ``detail_events``."""
    init_project(root)
    config = load_config(root, env={})
    rest = events - detail_events
    per_run, extra = divmod(rest, runs - 1)
    detail_at = runs // 2  # in the middle, so it is neither the newest nor the oldest run
    run_ids: list[str] = []
    detail_run = ""
    started = time.perf_counter()
    with EventBus(config.events_db) as bus:
        others = written = 0
        for index in range(runs):
            if index == detail_at:
                detail_run = write_run(bus, config, detail_events, failed=False)
                run_ids.append(detail_run)
                written += detail_events
            else:
                size = per_run + (1 if others < extra else 0)
                others += 1
                run_ids.append(write_run(bus, config, size, failed=index % 10 == 9))
                written += size
            if len(run_ids) % max(1, runs // 10) == 0:
                rate = written / (time.perf_counter() - started)
                print(
                    f"  seeded {len(run_ids)} of {runs} runs, {written:,} events ({rate:,.0f}/s)", flush=True
                )
    seconds = time.perf_counter() - started
    with sqlite3.connect(config.events_db) as conn:
        indexed = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    if indexed != events:
        raise SystemExit(f"the index holds {indexed} events, not {events}: the bus lost some")
    return Store(config, run_ids, detail_run, seconds)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bare_read(conn: sqlite3.Connection, sql: str, run_id: str) -> tuple[list[Any], float]:
    """The floor's rows (each line parsed) and the seconds they took."""
    began = time.perf_counter()
    rows = [orjson.loads(line) for (line,) in conn.execute(sql, (run_id,))]
    return rows, time.perf_counter() - began


def http_floor(client: httpx.Client, repeat: int) -> float:
    """Median ms of ``GET /health``: a round trip through the same server and client, no data."""
    times: list[float] = []
    for _ in range(repeat):
        began = time.perf_counter()
        client.get("/health").raise_for_status()
        times.append(time.perf_counter() - began)
    return median_ms(times)


def events_figures(client: httpx.Client, db: Path, run_ids: list[str], repeat: int) -> tuple[float, float]:
    """Median ms of the events API and of its SQL floor, over the same runs in the same order."""
    floor = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    sql = "SELECT line FROM events WHERE run_id=? ORDER BY seq LIMIT 500"
    chosen = random.Random(7).choices(run_ids, k=repeat + WARMUP)
    api_times: list[float] = []
    sql_times: list[float] = []
    try:
        for turn, run_id in enumerate(chosen):
            # Each connection has its own page cache: whichever reads a run first pays for it, so
            # the two take turns going first.
            if turn % 2:
                rows, read = bare_read(floor, sql, run_id)
            began = time.perf_counter()
            response = client.get("/logs/events", params={"run_id": run_id, "limit": 500})
            answered = time.perf_counter() - began
            response.raise_for_status()
            api_count = len(response.json()["events"])
            if not turn % 2:
                rows, read = bare_read(floor, sql, run_id)
            if api_count != len(rows):
                raise SystemExit(f"run {run_id}: the API sent {api_count} events, SQLite holds {len(rows)}")
            if turn >= WARMUP:
                api_times.append(answered)
                sql_times.append(read)
    finally:
        floor.close()
    return median_ms(api_times), median_ms(sql_times)


def runs_figure(client: httpx.Client, repeat: int) -> float:
    times: list[float] = []
    for turn in range(repeat + WARMUP):
        began = time.perf_counter()
        response = client.get("/runs", params={"limit": 50})
        elapsed = time.perf_counter() - began
        response.raise_for_status()
        if len(response.json()["runs"]) == 0:
            raise SystemExit("the run list is empty")
        if turn >= WARMUP:
            times.append(elapsed)
    return median_ms(times)


def detail_api_ms(client: httpx.Client, run_id: str, loads: int) -> float:
    """The detail document's own time (what the page waits for before it draws)."""
    times: list[float] = []
    for _ in range(loads):
        began = time.perf_counter()
        client.get(f"/runs/{run_id}").raise_for_status()
        times.append(time.perf_counter() - began)
    return median_ms(times)


async def render_times(url: str, run_id: str, loads: int) -> list[float]:
    """Seconds from navigation to the drawn grid, one fresh page per load (after one warm-up)."""
    times: list[float] = []
    painted = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    async with async_playwright() as playwright:
        browser, _ = await launch_chromium(playwright)
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 900})
            for turn in range(loads + 1):
                page = await context.new_page()
                began = time.perf_counter()
                await page.goto(f"{url}/#/runs/{run_id}")
                await page.wait_for_selector(
                    "svg.trace-traj-grid .trace-traj-cell", state="attached", timeout=120_000
                )
                await page.evaluate(painted)
                elapsed = time.perf_counter() - began
                await page.close()
                if turn > 0:
                    times.append(elapsed)
            await context.close()
        finally:
            await browser.close()
    return times


class StreamListener:
    """Reads ``/logs/stream`` on its own thread; records each stamped event's delay in seconds."""

    def __init__(self, url: str, run_id: str, expected: int) -> None:
        self.url = url
        self.run_id = run_id
        self.expected = expected
        self.delays: list[float] = []
        self.opened = threading.Event()
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._listen, name="stream-listener", daemon=True)

    def _listen(self) -> None:
        try:
            with (
                httpx.Client(base_url=self.url, timeout=httpx.Timeout(60.0)) as client,
                client.stream("GET", "/logs/stream") as response,
            ):
                response.raise_for_status()
                self.opened.set()
                for line in response.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    arrived = time.monotonic_ns()
                    event = orjson.loads(line[6:])
                    message = str(event["payload"].get("message", ""))
                    if event["run_id"] != self.run_id or not message.startswith("sent "):
                        continue
                    self.delays.append((arrived - int(message[5:])) / 1e9)
                    if len(self.delays) == self.expected:
                        return
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            self.opened.set()
            self.finished.set()


def stream_delays(url: str, config: ProjectConfig, count: int) -> list[float]:
    """Delays of ``count`` events from their emit in this process to their arrival on the stream."""
    run = create_run(config.scenario_runs_dir, "scenario")
    pacing = random.Random(11)
    with EventBus(config.events_db) as bus:
        bus.open_run(run.run_id, run.events_path)
        ids = {"run_id": run.run_id, "task_id": "t-live"}
        bus.emit("conductor.task.started", {"status": "running"}, actor="conductor", correlation=ids)
        bus.flush()
        listener = StreamListener(url, run.run_id, count)
        listener.thread.start()
        if not listener.opened.wait(30) or listener.error is not None:
            raise SystemExit(f"the stream did not open: {listener.error!r}")
        for _ in range(count):
            # A random gap between events (the wait ends early only if the listener failed).
            if listener.finished.wait(pacing.uniform(0.0, 0.2)):
                break
            payload = {"worker_id": "w0", "phase": "live", "message": f"sent {time.monotonic_ns()}"}
            bus.emit("worker.task.progress", payload, actor="w0", correlation=ids)
        arrived = listener.finished.wait(60)
        bus.emit("conductor.task.completed", {"status": "completed"}, actor="conductor", correlation=ids)
        bus.close_run(run.run_id)
    listener.thread.join(5)
    if not arrived or listener.error is not None or len(listener.delays) != count:
        raise SystemExit(
            f"the stream delivered {len(listener.delays)} of {count} events ({listener.error!r})"
        )
    return listener.delays


def check_sizes(args: argparse.Namespace) -> None:
    if args.runs < 2:
        raise SystemExit("--runs must be at least 2 (one run is the big one drawn in the browser)")
    if args.detail_events < DELEGATION + 2:
        raise SystemExit(f"--detail-events must be at least {DELEGATION + 2} (one delegation)")
    if args.events - args.detail_events < 2 * (args.runs - 1):
        raise SystemExit("--events must leave at least 2 events per run beside --detail-events")
    if args.repeat < 1 or args.loads < 1:
        raise SystemExit("--repeat and --loads must be at least 1")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the index, all runs")
    parser.add_argument("--runs", type=int, default=1_000, help="runs in the index")
    parser.add_argument("--repeat", type=int, default=50, help="requests per API figure, stream events")
    parser.add_argument("--detail-events", type=int, default=5_000, help="events of the run drawn")
    parser.add_argument("--loads", type=int, default=5, help="page loads of the drawn run")
    args = parser.parse_args()
    check_sizes(args)

    with tempfile.TemporaryDirectory(prefix="orchestrate-bench-") as tmp:
        store = seed(Path(tmp) / "proj", args.events, args.runs, args.detail_events)
        print(
            f"seeded {args.events:,} events over {args.runs:,} runs through the bus in {store.seconds:.1f} s "
            f"({args.events / store.seconds:,.0f} events/s)",
            flush=True,
        )
        app = create_app(store.config, port=0)
        server = AsgiServer(app, name="viewer")
        url = server.start(timeout=30)
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                others = [run_id for run_id in store.run_ids if run_id != store.detail_run]
                events_api, events_sql = events_figures(client, store.config.events_db, others, args.repeat)
                print(
                    f"/logs/events?limit=500: api {events_api:.2f} ms, "
                    f"bare SQLite + orjson {events_sql:.2f} ms (x{events_api / events_sql:.2f})",
                    flush=True,
                )
                health = http_floor(client, args.repeat)
                print(f"/health (the HTTP round trip alone): {health:.2f} ms", flush=True)
                runs_api = runs_figure(client, args.repeat)
                print(f"/runs?limit=50: {runs_api:.2f} ms", flush=True)
                delays = stream_delays(url, store.config, args.repeat)
                print(
                    f"stream: median {median_ms(delays):.1f} ms, max {max(delays) * 1000:.1f} ms "
                    f"over {len(delays)} events",
                    flush=True,
                )
                detail_api = detail_api_ms(client, store.detail_run, args.loads)
            renders = asyncio.run(render_times(url, store.detail_run, args.loads))
            print(
                f"detail of a {args.detail_events:,}-event run: drawn in {median_ms(renders):.0f} ms "
                f"(min {min(renders) * 1000:.0f}, max {max(renders) * 1000:.0f}); "
                f"GET /runs/<id> alone {detail_api:.0f} ms",
                flush=True,
            )
        finally:
            stop_streams(app)
            server.stop()

    result = {
        "events_api_ms": round(events_api, 3),
        "events_sql_ms": round(events_sql, 3),
        "api_vs_sql": round(events_api / events_sql, 3),
        "runs_api_ms": round(runs_api, 3),
        "detail_render_ms": round(median_ms(renders), 1),
        "stream_delay_ms": round(median_ms(delays), 1),
        "detail_api_ms": round(detail_api, 1),
        "health_api_ms": round(health, 3),
        "seed_s": round(store.seconds, 1),
        "events": args.events,
        "runs": args.runs,
        "detail_events": args.detail_events,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
