"""Throughput of ``orchestrate pack`` on the example assistant, against a bare loop, in one run.

The assistant is ``examples/assistant`` (copied to a temporary folder, never written in place),
with every capability of ``capabilities.json`` switched on so that every route answers and every
placeholder finds its value. It is started once, as ``python app.py --port 0``, and both sides
ask that one warm server; ``[assistant] base_url`` of the copy points at it, with no
``start_command``. The pack is generated: ``--steps`` steps in scenarios of five (the last may be
shorter), each scenario built from the example's questions so that every route is taken: the
inventory list, an item of that list through the session's memory, the low-stock list, a reorder
of its first entry (a placeholder from that answer) and the order's status.

1. ``pack_steps_per_s``: steps per second of one :func:`~orchestrator.pipelines.pack.run_domain_job`
   call, as ``orchestrate pack PACK --parallel P`` makes it: the job's run dir and events, the
   conductor, a pool of domain runners (each one HTTP client), the six files per step and the
   scenario and pack files, the whole call included.
2. ``bare_steps_per_s`` (the floor): a plain loop in this process, no framework: per scenario a
   new assistant session, per step the same message POST and session GET with httpx (one
   client per worker, as each domain runner has), the placeholders filled from earlier answers
   and the session, the expectations checked, and the same files written with the same atomic
   writer (``atomic_write_json`` / ``atomic_write_text``): six per step plus the scenario's state
   after every step, the brief, manifest, summary, output and final status per scenario, and
   the pack's manifest, state, summary and final status. ``--parallel`` workers share the
   scenarios as the pack's runners do.
3. ``pack_overhead``: ``bare_steps_per_s / pack_steps_per_s`` (target: at most 1.3).

Both are medians of ``--rounds`` rounds, the two sides run in turns within a round (which goes
first alternates); ``pack_overhead`` is the median of the rounds' ratios. Each side writes into
a fresh folder per round. A line before the JSON gives this process's CPU milliseconds per step
of both, which other load on the machine hardly moves (the assistant's CPU is not counted).
``--profile`` instead runs the pack once under cProfile (every thread of this process, by CPU
time) and prints where the time goes. The last line is one JSON object.

    python benchmarks/pack.py [--steps 50] [--rounds 9] [--parallel 1] [--profile]
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonpath
import yaml
from _profiling import profile_all_threads

from orchestrator.artifacts import atomic_write_json, atomic_write_text
from orchestrator.config import ProjectConfig, load_config
from orchestrator.logs import configure_logging
from orchestrator.packs import load_pack
from orchestrator.pipelines.pack import run_domain_job

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "assistant"
PACK_ID = "bench-pack"
PACK_FILE = Path("packs") / "bench.pack.yaml"
MESSAGE_PATH = "/api/assistant/message"
SESSION_PATH = "/api/assistant/session/{session_id}"
TIMEOUT_S = 30.0
TEMPLATE: tuple[dict[str, Any], ...] = (
    {
        "id": "step_01_inventory",
        "question": "What's in stock?",
        "expect": [
            {"route": "inventory_list"},
            {"path": "$.entries[*]", "count": {"min": 6}},
            {"evidence": 1},
        ],
    },
    {
        "id": "step_02_item",
        "question": "Tell me about the second item of that list ({{semantic_memory.active_result_set_id}})",
        "expect": [{"route": "item_detail"}, {"path": "$.sku", "equals": "sku-1002"}, {"evidence": 1}],
    },
    {
        "id": "step_03_low",
        "question": "Which items are below their reorder level?",
        "expect": [{"route": "low_stock"}, {"path": "$.entries[*]", "count": {"min": 1}}],
    },
    {
        "id": "step_04_reorder",
        "question": "Reorder {{step_03_low.entries[0].item}} x 100",
        "expect": [{"route": "reorder"}, {"path": "$.order_id", "exists": True}, {"evidence": 1}],
    },
    {
        "id": "step_05_status",
        "question": "What's the status of that order?",
        "expect": [{"route": "order_status"}, {"contains": "PO-"}],
    },
)
"""One scenario's steps, from the example's questions: every route, placeholders from an answer and
from the session's memory."""
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
STEPS_PER_SCENARIO = len(TEMPLATE)
_BANNER = "Inventory assistant on "
_RUN_STATE = ("artifacts", ".orchestrator", "packs")


def scenarios_for(steps: int) -> list[dict[str, Any]]:
    """``steps`` steps in scenarios of :data:`TEMPLATE`'s length, each a prefix of the template."""
    documents = []
    for index, start in enumerate(range(0, steps, STEPS_PER_SCENARIO), 1):
        count = min(STEPS_PER_SCENARIO, steps - start)
        documents.append(
            {
                "id": f"bench-{index:03d}",
                "brief": "A manager lists the stock, looks at an item, finds what is low and reorders it.",
                "persona": {
                    "role": "store manager",
                    "expertise": "novice",
                    "goals": ["keep things in stock"],
                },
                "steps": [dict(step) for step in TEMPLATE[:count]],
            }
        )
    return documents


def fresh_project(base_url: str | None, scenarios: list[dict[str, Any]]) -> Path:
    """A copy of the example with every capability on, the generated pack, and ``base_url`` set."""
    target = Path(tempfile.mkdtemp(prefix="orchestrate-bench-pack-")) / "assistant"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", *_RUN_STATE))
    switches = json.loads((EXAMPLE / "capabilities.json").read_text())
    (target / "capabilities.json").write_text(json.dumps(dict.fromkeys(switches, True), indent=2))
    (target / PACK_FILE).parent.mkdir()
    pack = {"id": PACK_ID, "domain": "inventory", "scenarios": scenarios}
    (target / PACK_FILE).write_text(yaml.safe_dump(pack, sort_keys=False))
    url = base_url or "http://127.0.0.1:1"
    (target / "orchestrate.toml").write_text(
        f'[project]\nname = "bench-assistant"\n\n[assistant]\nbase_url = "{url}"\ntimeout_s = 30\n'
    )
    return target


@contextmanager
def running_assistant(project: Path) -> Iterator[str]:
    """``python app.py --port 0`` in the project; its base URL from the banner it prints."""
    with (project / "assistant.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "app.py", "--port", "0"], cwd=project, stdout=subprocess.PIPE, stderr=log
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline().decode().strip()
            if not line.startswith(_BANNER):
                raise SystemExit(f"app.py did not start (its output is in {project / 'assistant.log'})")
            yield line.removeprefix(_BANNER)
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


# ------------------------------------------------------------------------------------------ floor


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(path: Path, document: dict[str, Any]) -> None:
    atomic_write_json(path, {"schema_version": 1, **document})


def _filled(question: str, answers: dict[str, Any], session: Any) -> str:
    """The question with each ``{{step.path}}`` from that step's answer data, else from the session."""

    def value(found: re.Match[str]) -> str:
        name = found.group(1)
        root = re.split(r"[.\[]", name, maxsplit=1)[0]
        if root in answers:
            matches = jsonpath.findall("$" + name[len(root) :], answers[root].get("data"))
        else:
            matches = jsonpath.findall("$." + name, session)
        if not matches:
            raise SystemExit(f"the floor could not fill {{{{{name}}}}}")
        return matches[0] if isinstance(matches[0], str) else json.dumps(matches[0])

    return _PLACEHOLDER.sub(value, question)


def _met(item: dict[str, Any], raw: dict[str, Any]) -> bool:
    if "route" in item:
        return bool(raw.get("route") == item["route"])
    if "evidence" in item:
        return len(raw.get("sources") or []) >= int(item["evidence"])
    if "contains" in item:
        return str(item["contains"]).casefold() in str(raw.get("answer") or "").casefold()
    found = jsonpath.findall(item["path"], raw.get("data"))
    if "count" in item:
        return bool(item["count"].get("min", 0) <= len(found) <= item["count"].get("max", len(found)))
    if "exists" in item:
        return bool(found) is item["exists"]
    return bool(found) and found[0] == item["equals"]


def bare_scenario(
    client: httpx.Client, base_url: str, scenario: dict[str, Any], directory: Path
) -> list[str]:
    """One scenario in a new session, its files written; the status of each step."""
    steps: list[dict[str, Any]] = scenario["steps"]
    manifest = {"scenario_id": scenario["id"], "steps": [step["id"] for step in steps], "started_at": _now()}
    atomic_write_text(directory / "scenario_brief.md", f"# {scenario['id']}\n\n{scenario['brief']}\n")
    _json(directory / "scenario_manifest.json", {**manifest, "status": "running"})
    answers: dict[str, Any] = {}
    session: Any = None
    session_id: str | None = None
    statuses: list[str] = []
    lines: list[str] = []
    for step in steps:
        started_at, started = _now(), time.monotonic()
        question = _filled(step["question"], answers, session)
        body: dict[str, Any] = {"message": question}
        if session_id is not None:
            body = {"session_id": session_id, **body}
        response = client.post(base_url + MESSAGE_PATH, json=body, timeout=TIMEOUT_S)
        answer_ms = (time.monotonic() - started) * 1000
        raw = response.json()
        session_id = session_id or raw["session_id"]
        met = [_met(item, raw) for item in step["expect"]]
        started = time.monotonic()
        session = client.get(base_url + SESSION_PATH.format(session_id=session_id), timeout=TIMEOUT_S).json()
        session_ms = (time.monotonic() - started) * 1000
        answers[step["id"]] = raw
        status = "accepted" if response.status_code == 200 and all(met) else "partial"
        statuses.append(status)
        folder = directory / "steps" / step["id"]
        output = (
            f"# {step['id']}: {status}\n\n**Question:**\n\n> {question}\n\n**Answer:**\n\n> {raw['answer']}\n"
        )
        lines.append(output)
        atomic_write_text(folder / "output.md", output)
        timings = {"answer_ms": round(answer_ms, 3), "session_ms": round(session_ms, 3)}
        _json(folder / "debug.json", {"step": step["id"], "started_at": started_at, "timings": timings})
        turn = {"step": step["id"], "question": question, "request": body, "session_id": session_id}
        _json(folder / "turn.json", turn)
        _json(folder / "session.json", {"session_id": session_id, "session": session, "error": None})
        _json(folder / "assistant_response.json", {"http_status": response.status_code, "body": raw})
        values = {key: raw.get(key) for key in ("answer", "data", "route", "sources", "session_id")}
        _json(
            folder / "step_state.json", {"step": step["id"], "status": status, "met": met, "values": values}
        )
        state = {"status": "running", "session_id": session_id, "carried": answers, "session_memory": session}
        _json(directory / "scenario_state.json", state)
    worst = "accepted" if all(status == "accepted" for status in statuses) else "partial"
    state = {"status": worst, "session_id": session_id, "carried": answers, "session_memory": session}
    _json(directory / "scenario_state.json", state)
    table = "".join(f"| `{step['id']}` | {status} |\n" for step, status in zip(steps, statuses, strict=True))
    atomic_write_text(directory / "scenario_summary.md", f"# {scenario['id']}: {worst}\n\n{table}")
    atomic_write_text(directory / "scenario_output.md", "\n".join(lines))
    atomic_write_text(directory / "final_status.md", f"# {worst}\n\n{len(steps)} step(s)\n")
    _json(directory / "scenario_manifest.json", {**manifest, "status": worst, "finished_at": _now()})
    return statuses


def bare_run(
    base_url: str, scenarios: list[dict[str, Any]], directory: Path, *, parallel: int, pack_id: str
) -> int:
    """The floor: every scenario by ``parallel`` workers (each its own client); unmet steps."""
    manifest = {"pack_id": pack_id, "scenarios": [s["id"] for s in scenarios], "started_at": _now()}
    _json(directory / "pack_manifest.json", {**manifest, "status": "running"})
    todo: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
    for scenario in scenarios:
        todo.put(scenario)
    done: dict[str, list[str]] = {}

    def worker() -> None:
        with httpx.Client(follow_redirects=False) as client:
            while True:
                try:
                    scenario = todo.get_nowait()
                except queue.Empty:
                    return
                folder = directory / "scenarios" / scenario["id"]
                done[scenario["id"]] = bare_scenario(client, base_url, scenario, folder)

    if parallel == 1:
        worker()
    else:
        with ThreadPoolExecutor(parallel) as pool:
            for future in [pool.submit(worker) for _ in range(parallel)]:
                future.result()
    statuses = {scenario["id"]: done[scenario["id"]] for scenario in scenarios}
    failed = sum(status != "accepted" for steps in statuses.values() for status in steps)
    worst = "accepted" if not failed else "partial"
    _json(directory / "pack_state.json", {"pack_id": pack_id, "status": worst, "scenarios": statuses})
    rows = "".join(f"| `{name}` | {len(steps)} |\n" for name, steps in statuses.items())
    atomic_write_text(directory / "pack_summary.md", f"# {pack_id}: {worst}\n\n{rows}")
    atomic_write_text(directory / "final_status.md", f"# {worst}\n\n{len(statuses)} scenario(s)\n")
    _json(directory / "pack_manifest.json", {**manifest, "status": worst, "finished_at": _now()})
    return failed


# ------------------------------------------------------------------------------------------ runs


def timed_pack(config: ProjectConfig, parallel: int, steps: int) -> tuple[float, float]:
    """Wall and process-CPU seconds of one ``orchestrate pack`` job, into a cleared artifacts folder."""
    shutil.rmtree(config.domain_runs_dir / PACK_ID, ignore_errors=True)
    pack = load_pack(config.root / PACK_FILE)
    wall, cpu = time.perf_counter(), time.process_time()
    result = run_domain_job(
        config, list(pack.scenarios), pack_id=pack.id, source=config.root / PACK_FILE, parallel=parallel
    )
    figures = time.perf_counter() - wall, time.process_time() - cpu
    if result.status != "accepted" or result.result is None or result.result.steps != steps:
        counts = result.result.counts() if result.result is not None else None
        raise SystemExit(f"the pack did not pass cleanly: {result.status} {counts}; see {result.directory}")
    return figures


def timed_bare(base_url: str, scenarios: list[dict[str, Any]], parallel: int) -> tuple[float, float]:
    """Wall and process-CPU seconds of the floor, into a fresh folder removed afterwards."""
    out = Path(tempfile.mkdtemp(prefix="orchestrate-bench-pack-bare-"))
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        failed = bare_run(base_url, scenarios, out / PACK_ID, parallel=parallel, pack_id=PACK_ID)
        figures = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if failed:
        raise SystemExit(f"the bare loop saw {failed} unmet expectations; the floor is not doing the work")
    return figures


def profile_pack(config: ProjectConfig, parallel: int, steps: int) -> None:
    """cProfile over one pack job, every thread of this process by its CPU clock; top functions printed."""
    (wall, _), _ = profile_all_threads(lambda: timed_pack(config, parallel, steps))
    print(json.dumps({"profiled_steps_per_s": round(steps / wall, 2), "steps": steps}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=50, help="steps of the generated pack")
    parser.add_argument(
        "--rounds", type=int, default=9, help="rounds (medians; a round is short, so odd and many)"
    )
    parser.add_argument("--parallel", type=int, default=1, help="domain runners (and bare workers)")
    parser.add_argument("--profile", action="store_true", help="profile one pack job instead")
    args = parser.parse_args()
    if args.steps < 1 or args.rounds < 1 or args.parallel < 1:
        parser.error("--steps, --rounds and --parallel must be at least 1")
    configure_logging()  # as the CLI does: our INFO lines and foreign warnings, on stderr
    n = args.steps
    scenarios = scenarios_for(n)
    server_project = fresh_project(None, scenarios)
    try:
        with running_assistant(server_project) as base_url:
            project = fresh_project(base_url, scenarios)
            try:
                config = load_config(project)
                timed_pack(config, args.parallel, n)  # warm-up: imports, the server's first answers
                timed_bare(base_url, scenarios, args.parallel)
                if args.profile:
                    profile_pack(config, args.parallel, n)
                    return
                measure(config, base_url, scenarios, args)
            finally:
                shutil.rmtree(project.parent, ignore_errors=True)
    finally:
        shutil.rmtree(server_project.parent, ignore_errors=True)


def measure(config: ProjectConfig, base_url: str, scenarios: list[dict[str, Any]], args: Any) -> None:
    n, parallel = args.steps, args.parallel
    rates: dict[str, list[float]] = {"pack": [], "bare": [], "overhead": []}
    cpu_ms: dict[str, list[float]] = {"pack": [], "bare": []}
    for round_number in range(1, args.rounds + 1):
        order = ("pack", "bare") if round_number % 2 else ("bare", "pack")
        for side in order:
            if side == "pack":
                wall, cpu = timed_pack(config, parallel, n)
            else:
                wall, cpu = timed_bare(base_url, scenarios, parallel)
            rates[side].append(n / wall)
            cpu_ms[side].append(cpu * 1000 / n)
        rates["overhead"].append(rates["bare"][-1] / rates["pack"][-1])
        print(
            f"round {round_number}: {n} steps at parallel {parallel} ({' then '.join(order)}): "
            f"pack {rates['pack'][-1]:.1f}/s ({cpu_ms['pack'][-1]:.2f} ms CPU/step), "
            f"bare loop {rates['bare'][-1]:.1f}/s ({cpu_ms['bare'][-1]:.2f} ms CPU/step); "
            f"bare/pack = {rates['overhead'][-1]:.3f}",
            flush=True,
        )
    pack_cpu, bare_cpu = statistics.median(cpu_ms["pack"]), statistics.median(cpu_ms["bare"])
    print(
        f"CPU of this process per step (load-independent): pack {pack_cpu:.2f} ms, bare loop "
        f"{bare_cpu:.2f} ms (ratio {pack_cpu / bare_cpu:.3f}); the assistant's CPU is not counted",
        flush=True,
    )
    result = {
        "pack_steps_per_s": round(statistics.median(rates["pack"]), 2),
        "bare_steps_per_s": round(statistics.median(rates["bare"]), 2),
        "pack_overhead": round(statistics.median(rates["overhead"]), 3),
        "pack_cpu_ms_per_step": round(pack_cpu, 2),
        "bare_cpu_ms_per_step": round(bare_cpu, 2),
        "steps": n,
        "scenarios": len(scenarios),
        "parallel": parallel,
        "rounds": args.rounds,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
