"""Wall time of the UI gate's smoke profile on the demo app, against a bare Playwright script.

All three are whole processes, timed from start to exit, on a fresh copy of ``examples/webapp``:

- ``gate_s``: ``orchestrate test --target web --profile smoke`` with ``--parallel`` at its default
  (the number of cores);
- ``sequential_s``: the same with ``--parallel 1``;
- ``bare_script_s`` (the floor): this file run with ``--bare``: it starts the demo app the same way,
  launches the same Chromium, visits the same routes one after another in one page and takes the
  same screenshot, ARIA snapshot and axe run per route, then stops the app. No events, no
  evaluation, no issues.

Each figure is the median of ``--rounds`` rounds (run in turns). The last line is JSON:
``{"gate_s", "sequential_s", "bare_script_s", "sequential_vs_bare", "parallel_speedup"}``.

    python benchmarks/ui_gate.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "webapp"


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


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


def gate(parallel: int | None) -> float:
    project = fresh_project()
    argv = [sys.executable, "-m", "orchestrator.cli", "-C", str(project), "test", "--target", "web"]
    argv += ["--profile", "smoke", "--triage", "skip"]
    if parallel is not None:
        argv += ["--parallel", str(parallel)]
    try:
        return timed(argv, REPO)
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)


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

    gates, sequentials, bares = [], [], []
    for round_no in range(1, args.rounds + 1):
        gates.append(gate(None))
        sequentials.append(gate(1))
        bares.append(bare())
        print(
            f"round {round_no}: gate {gates[-1]:.2f} s, sequential {sequentials[-1]:.2f} s, "
            f"bare script {bares[-1]:.2f} s",
            flush=True,
        )
    gate_s = statistics.median(gates)
    sequential_s = statistics.median(sequentials)
    bare_s = statistics.median(bares)
    print(
        json.dumps(
            {
                "gate_s": round(gate_s, 3),
                "sequential_s": round(sequential_s, 3),
                "bare_script_s": round(bare_s, 3),
                "sequential_vs_bare": round(sequential_s / bare_s, 3),
                "parallel_speedup": round(sequential_s / gate_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
