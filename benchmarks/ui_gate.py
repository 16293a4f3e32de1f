"""Wall time of the UI gate's smoke profile on the demo app, against a bare Playwright script.

CPU-bound figures, all whole processes timed from start to exit on a fresh copy of
``examples/webapp``:

- ``gate_s``: ``orchestrate test --target web --profile smoke`` with ``--parallel`` at its default
  (the number of cores);
- ``sequential_s``: the same with ``--parallel 1``;
- ``bare_script_s`` (the floor): this file run with ``--bare``: it starts the demo app the same way,
  launches the same Chromium, visits the same routes one after another in one page and takes the
  same screenshot, ARIA snapshot and axe run per route, then stops the app. No events, no
  evaluation, no issues.

I/O-bound figures, in the same run: the demo app started with a slow back end (every page waits
300 ms on its data call, ``DEMO_BACKEND_DELAY_MS=300``), as real apps wait on databases and APIs:

- ``gate_io_s`` and ``sequential_io_s``: the same gate with ``--parallel 4`` and ``--parallel 1``;
- ``capture_io_s`` and ``capture_sequential_io_s``: the capture phase of those runs (the web
  driver's browser session, from its ``worker.tool.result`` event), the part parallel browser
  contexts change; the same captures in both;
- ``parallel_speedup_io``: ``capture_sequential_io_s / capture_io_s`` (target: at least 2.0 on
  2 cores), and ``parallel_speedup_io_wall`` the same for whole runs.

And ``routes_auto_s``: what ``routes: auto`` costs on the demo app: the crawl alone, in a browser
already running, with the number of routes it found (``routes_auto_count``).

Each figure is the median of ``--rounds`` rounds (run in turns). The last line is JSON with all
of them and ``sequential_vs_bare`` and ``parallel_speedup`` (``sequential_s / gate_s``).

    python benchmarks/ui_gate.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "webapp"
SLOW_BACKEND = {"DEMO_BACKEND_DELAY_MS": "300"}
IO_PARALLEL = 4


def smoke_routes(project: Path) -> list[str]:
    from orchestrator.policy.test_profiles import TestProfiles
    from orchestrator.policyfiles import load_policy_model

    return load_policy_model("test-profiles", TestProfiles, project).profiles["smoke"].routes


def fresh_project() -> Path:
    target = Path(tempfile.mkdtemp(prefix="orchestrate-bench-")) / "webapp"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".orchestrator/runs", "__pycache__"))
    for state in ("runs", "events.db", "events.db-wal", "events.db-shm", "issues", "metrics"):
        path = target / ".orchestrator" / state
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    return target


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


def capture_seconds(project: Path) -> float:
    """The web driver's browser session in the project's one run, from its ``worker.tool.result``."""
    (events,) = (project / ".orchestrator" / "runs").glob("*/events.jsonl")
    for line in events.read_text().splitlines():
        event = json.loads(line)
        payload = event.get("payload") or {}
        if event["event_type"] == "worker.tool.result" and payload.get("tool_name") == "chromium":
            return float(payload["duration_ms"]) / 1000
    raise SystemExit(f"no browser session recorded in {events}")


def gate(parallel: int | None, env: dict[str, str] | None = None) -> tuple[float, float]:
    """One whole gate run: its wall time and its capture phase, in seconds."""
    project = fresh_project()
    argv = [sys.executable, "-m", "orchestrator.cli", "-C", str(project), "test", "--target", "web"]
    argv += ["--profile", "smoke", "--triage", "skip"]
    if parallel is not None:
        argv += ["--parallel", str(parallel)]
    try:
        return timed(argv, REPO, env), capture_seconds(project)
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)


def crawl() -> tuple[float, int]:
    """``routes: auto`` on the demo app: the crawl alone (browser already running) and its routes."""
    from playwright.async_api import async_playwright

    from orchestrator.drivers.web import Crawler, CrawlLimits, Timeouts, default_parallel, launch_chromium

    app = subprocess.Popen(
        [sys.executable, str(EXAMPLE / "app.py"), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert app.stdout is not None
        base_url = app.stdout.readline().strip().rsplit(" ", 1)[-1]

        async def run() -> tuple[float, int]:
            async with async_playwright() as playwright:
                browser, _ = await launch_chromium(playwright)
                crawler = Crawler(
                    browser, base_url, CrawlLimits(), parallel=default_parallel(), timeouts=Timeouts()
                )
                start = time.perf_counter()
                await crawler.run()
                elapsed = time.perf_counter() - start
                await browser.close()
                return elapsed, len(crawler.found)

        return asyncio.run(run())
    finally:
        app.terminate()
        app.wait(timeout=10)


def bare() -> float:
    project = fresh_project()
    try:
        return timed([sys.executable, str(Path(__file__).resolve()), "--bare", str(project)], REPO)
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)


def bare_script(project: Path) -> None:
    """The floor: start the app, one browser, routes in turn, screenshot + ARIA + axe each."""
    import httpx
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    from orchestrator.config import load_config
    from orchestrator.pipelines.test import running_target

    config = load_config(project)
    out = project / "bare"
    out.mkdir()
    with running_target("web", config.targets["web"], root=project, log_path=out / "app.log") as target:
        assert target.base_url is not None
        httpx.get(target.base_url + "/health").raise_for_status()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or None,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            page = browser.new_page()
            axe = Axe()
            for number, route in enumerate(smoke_routes(project)):
                page.goto(target.base_url + route, wait_until="load")
                page.screenshot(path=str(out / f"{number}.png"), full_page=True)
                (out / f"{number}.aria.yaml").write_text(page.locator("body").aria_snapshot())
                (out / f"{number}.axe.json").write_text(json.dumps(axe.run(page).response))
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare is not None:
        bare_script(args.bare)
        return

    gates: list[float] = []
    sequentials: list[float] = []
    bares: list[float] = []
    walls_io: list[float] = []
    sequential_walls_io: list[float] = []
    captures_io: list[float] = []
    sequential_captures_io: list[float] = []
    crawls: list[float] = []
    found = 0
    for round_no in range(1, args.rounds + 1):
        gates.append(gate(None)[0])
        sequentials.append(gate(1)[0])
        bares.append(bare())
        wall, capture = gate(IO_PARALLEL, SLOW_BACKEND)
        walls_io.append(wall)
        captures_io.append(capture)
        wall, capture = gate(1, SLOW_BACKEND)
        sequential_walls_io.append(wall)
        sequential_captures_io.append(capture)
        crawl_s, found = crawl()
        crawls.append(crawl_s)
        print(
            f"round {round_no}: gate {gates[-1]:.2f} s, sequential {sequentials[-1]:.2f} s, "
            f"bare script {bares[-1]:.2f} s; slow back end: parallel {IO_PARALLEL} {walls_io[-1]:.2f} s "
            f"(capture {captures_io[-1]:.2f} s), sequential {sequential_walls_io[-1]:.2f} s "
            f"(capture {sequential_captures_io[-1]:.2f} s); routes: auto {crawls[-1]:.2f} s ({found} routes)",
            flush=True,
        )
    gate_s = statistics.median(gates)
    sequential_s = statistics.median(sequentials)
    bare_s = statistics.median(bares)
    gate_io_s = statistics.median(walls_io)
    sequential_io_s = statistics.median(sequential_walls_io)
    capture_io_s = statistics.median(captures_io)
    capture_sequential_io_s = statistics.median(sequential_captures_io)
    print(
        json.dumps(
            {
                "gate_s": round(gate_s, 3),
                "sequential_s": round(sequential_s, 3),
                "bare_script_s": round(bare_s, 3),
                "sequential_vs_bare": round(sequential_s / bare_s, 3),
                "parallel_speedup": round(sequential_s / gate_s, 3),
                "gate_io_s": round(gate_io_s, 3),
                "sequential_io_s": round(sequential_io_s, 3),
                "capture_io_s": round(capture_io_s, 3),
                "capture_sequential_io_s": round(capture_sequential_io_s, 3),
                "parallel_speedup_io": round(capture_sequential_io_s / capture_io_s, 3),
                "parallel_speedup_io_wall": round(sequential_io_s / gate_io_s, 3),
                "routes_auto_s": round(statistics.median(crawls), 3),
                "routes_auto_count": found,
            }
        )
    )


if __name__ == "__main__":
    main()
