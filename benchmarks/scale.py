"""What going past one machine costs on one machine: the Ray backend against local slots, and OTLP export.

1. ``local_traj_per_s`` and ``ray_traj_per_s``: ``--trajectories`` trajectories of scenario
   ``slack-to-jira`` of ``examples/integration`` (a fresh copy per run, chaos off, as
   ``benchmarks/scenarios.py`` runs it) at ``--slots`` slots through
   :func:`~orchestrator.pipelines.scenarios.run_scenarios`, per second of the whole call, on the
   local backend and on ``RunOptions(backend="ray")``. Ray is joined once (a local instance,
   ``ensure_ray``) before anything is timed, as a long-lived cluster would be; the slot actors
   start inside each timed run, as a user's run starts them (a Ray worker process per slot that
   imports the slot's code, then the slot's twins and ``python sut.py``). On one machine Ray can
   only add cost (a process per slot, every trajectory crossing Ray as JSON), so the figure is
   what the Ray code path costs, not what a cluster gains. ``ray_vs_local`` is the median of the
   rounds' local rate / Ray rate (target: at most 1.5). Ray is shut down before part 2.
2. ``bus_events_per_s`` and ``bus_otel_events_per_s``: ``--events`` realistic mixed events per
   round (a scenario run's trajectory steps and API calls, its delegations, and a model call and a
   tool call per trajectory: 23 events, 4 spans per trajectory), emitted from 4 threads, one run
   each, through a real :class:`~orchestrator.events.EventBus` into a run's JSONL and a fresh
   SQLite index, from the first emit until the bus's flush returns; once without a subscriber and
   once with :class:`~orchestrator.telemetry.OtlpExportProcess` subscribed as in a job, exporting to a real
   OTLP/HTTP collector (the test suite's receiver, which decodes every request) in a subprocess on
   loopback, as a collector is another process. ``otel_bus_ratio`` is the median of the rounds'
   with / without (target: at least 0.7). A line per round also gives how long the exporter took
   to have every span in the collector and how many spans it sent and dropped.

Rounds alternate which variant goes first. ``OTEL_EXPORTER_OTLP_*`` variables are removed from
this process's environment, so part 1 exports nothing. Without Ray installed, part 1 says so and
its figures are ``null``. ``--profile`` instead runs one bus round with OTLP export under cProfile
(every thread of this process, by CPU time; the collector's process is not seen) and prints where
the time goes. The last line is one JSON object.

    python benchmarks/scale.py [--trajectories 200] [--slots 2] [--events 100000] [--rounds 3] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Literal

from _profiling import profile_all_threads
from _scenario_project import REPO, SCENARIO_ID, fresh_project, load_scenario, remove_project

from orchestrator.config import load_config
from orchestrator.errors import UsageError
from orchestrator.events import EventBus
from orchestrator.logs import configure_logging
from orchestrator.pipelines.scenarios import RunOptions, run_scenarios
from orchestrator.ray_backend import ensure_ray, import_ray
from orchestrator.telemetry import ENDPOINT_VARIABLE, TRACES_ENDPOINT_VARIABLE, OtlpExportProcess

PRODUCERS = 4
"""Threads emitting in part 2, each into a run of its own."""
COLLECTOR_BANNER = "OTLP collector on"
DRAIN_TIMEOUT_S = 300.0

Backend = Literal["local", "ray"]
# One event as a producer emits it: event type, payload, actor, correlation ids.
Emit = tuple[str, dict[str, Any], str, dict[str, str]]

# ------------------------------------------------------------------------- part 1: backends


def timed_run(backend: Backend, trajectories: int, slots: int) -> float:
    """Wall seconds of one ``run_scenarios`` call on a fresh copy of the example."""
    project = fresh_project()
    try:
        load_scenario(project)
        config = load_config(project)
        options = RunOptions(
            scenario_ids=(SCENARIO_ID,),
            count=trajectories,
            chaos_profile="none",
            parallel=slots,
            seed=1,
            backend=backend,
        )
        started = time.perf_counter()
        result = run_scenarios(config, options)
        elapsed = time.perf_counter() - started
        errored = result.tally.total(result.tally.errored)
        if (
            result.status != "completed"
            or errored
            or result.tally.total(result.tally.finished) != trajectories
        ):
            raise SystemExit(
                f"the {backend} run did not complete cleanly: status {result.status}, {errored} errored, "
                f"errors {result.errors}; see {result.run_dir}"
            )
        return elapsed
    finally:
        remove_project(project)


def join_ray() -> bool:
    """Start a local Ray instance for this process; ``False`` (and a line saying so) without Ray."""
    try:
        import_ray()
    except UsageError as exc:
        print(f"Ray part skipped: {exc}", flush=True)
        return False
    ray = ensure_ray(None)
    cpus = ray.cluster_resources().get("CPU", 0)
    print(f"Ray {ray.__version__}: a local instance with {cpus:g} CPUs, joined before timing", flush=True)
    return True


def backend_rounds(trajectories: int, slots: int, rounds: int) -> dict[str, float | None]:
    """Part 1: local and Ray rates per round (alternating which goes first); medians and ratio."""
    with_ray = join_ray()
    rates: dict[str, list[float]] = {"local": [], "ray": [], "ratio": []}
    try:
        for round_number in range(1, rounds + 1):
            order: list[Backend] = ["local", "ray"] if round_number % 2 else ["ray", "local"]
            for backend in order:
                if backend == "ray" and not with_ray:
                    continue
                rates[backend].append(trajectories / timed_run(backend, trajectories, slots))
            line = f"round {round_number}: {trajectories} trajectories at {slots} slots: "
            line += f"local {rates['local'][-1]:.2f}/s"
            if with_ray:
                rates["ratio"].append(rates["local"][-1] / rates["ray"][-1])
                went = "second" if order[0] == "local" else "first"
                line += f", Ray {rates['ray'][-1]:.2f}/s (Ray went {went})"
                line += f"; local/Ray = {rates['ratio'][-1]:.3f}"
            print(line, flush=True)
    finally:
        if with_ray:
            import_ray().shutdown()  # its processes would otherwise share the CPUs with part 2
    return {
        "local_traj_per_s": round(statistics.median(rates["local"]), 2),
        "ray_traj_per_s": round(statistics.median(rates["ray"]), 2) if with_ray else None,
        "ray_vs_local": round(statistics.median(rates["ratio"]), 3) if with_ray else None,
    }


# ---------------------------------------------------------------------- part 2: the event bus

_REQUEST = json.dumps(
    {
        "fields": {
            "project": {"key": "OPS"},
            "summary": "Checkout page returns 500 for EU customers",
            "description": "From Slack #support, message by U01ALICE at 1700000002.000002:\n\n"
            "Checkout page returns 500 for EU customers\nSeen since the 14:00 deploy, about 1 in 5 orders.",
            "issuetype": {"name": "Task"},
            "labels": ["from-slack"],
        }
    }
)
_RESPONSE = '{"id":"10001","key":"OPS-1","self":"<twin:jira>/rest/api/2/issue/10001"}'
_API_CALLS = (
    ("okta", "GET", "/api/v1/users/me"),
    ("slack", "GET", "/api/conversations.history"),
    ("jira", "POST", "/rest/api/2/issue"),
    ("slack", "POST", "/api/chat.postMessage"),
)


def trajectory_events(run_id: str, producer: int, index: int) -> list[Emit]:
    """One trajectory's events as a scenario run writes them, plus a model call and a tool call."""
    call_id = f"{producer:02x}{index:014x}"
    task_id = f"t{call_id}"
    trajectory = f"{SCENARIO_ID}-p{producer}-{index:05d}"
    worker = f"trajectory-runner-{producer:08x}"
    summary = f"{trajectory}: completed: 4 of 4 steps passed; 4 API calls"
    objective = f"run trajectory {trajectory} of scenario {SCENARIO_ID}"
    conductor = {"run_id": run_id, "call_id": call_id}
    in_worker = {**conductor, "task_id": task_id}
    model = {**in_worker, "trace_id": f"llm-{call_id}"}
    tool = {**in_worker, "tool_trace_id": f"tool-{call_id}"}
    step = {**conductor, "task_id": trajectory}
    where = {"trajectory_id": trajectory, "scenario_id": SCENARIO_ID}
    events: list[Emit] = [
        (
            "conductor.worker.call",
            {
                "worker_type": "trajectory-runner",
                "worker_objective": objective,
                "capability": "run_trajectory",
            },
            "ScenarioConductor",
            conductor,
        ),
        (
            "worker.task.started",
            {"worker_id": worker, "phase": "run", "objective": objective},
            worker,
            in_worker,
        ),
        ("llm.call.started", {"model": "gpt-4o-mini", "provider": "openai"}, worker, model),
        (
            "llm.call.completed",
            {
                "model": "gpt-4o-mini",
                "provider": "openai",
                "duration_ms": 812.5,
                "usage": {"input_tokens": 1240, "output_tokens": 96, "total_tokens": 1336},
            },
            worker,
            model,
        ),
        (
            "worker.tool.call",
            {"tool_name": "jira.create_issue", "args_summary": _REQUEST[:200]},
            worker,
            tool,
        ),
        (
            "worker.tool.result",
            {"tool_name": "jira.create_issue", "success": True, "duration_ms": 3.2},
            worker,
            tool,
        ),
        (
            "worker.task.progress",
            {"worker_id": worker, "phase": "run", "message": summary, **where, "status": "completed"},
            worker,
            in_worker,
        ),
        (
            "worker.task.completed",
            {"worker_id": worker, "phase": "run", "summary": summary},
            worker,
            in_worker,
        ),
        (
            "conductor.worker.result",
            {"worker_type": "trajectory-runner", "success": True, "result_summary": summary},
            "ScenarioConductor",
            conductor,
        ),
        (
            "conductor.capability.completed",
            {"capability": "run_trajectory", "summary": summary, "lane": "control"},
            "ScenarioConductor",
            conductor,
        ),
    ]
    at_ms = 0.5

    def add(event_type: str, step_id: str | None, payload: dict[str, Any]) -> None:
        nonlocal at_ms
        at_ms += 7.25
        events.append(
            (event_type, {**where, "step_id": step_id, "at_ms": at_ms, **payload}, "ScenarioConductor", step)
        )

    twins = {
        "twins": ["jira", "okta", "slack"],
        "seed": index,
        "chaos": {"jira": None, "okta": None, "slack": None},
    }
    add(
        "trajectory.system_event",
        None,
        {"description": f"twins reset: jira, okta, slack (seed {index})", "detail": twins},
    )
    for message in ("ask", "confirm"):
        add(
            "trajectory.user_action",
            message,
            {
                "description": "user: Turn the latest message in #support into a Jira ticket, please.",
                "detail": {
                    "request": {"method": "POST", "path": "/api/assistant/message"},
                    "response": {"status": 200, "summary": _RESPONSE},
                },
            },
        )
        add(
            "trajectory.agent_action",
            message,
            {
                "description": "the system under test answered through slack_to_jira",
                "detail": {"route": "slack_to_jira"},
            },
        )
    for service, method, path in _API_CALLS:
        add(
            "trajectory.api_call",
            "ask",
            {
                "service": service,
                "method": method,
                "path": path,
                "route": None,
                "request_summary": _REQUEST if method == "POST" else "",
                "response_code": 200,
                "response_summary": _RESPONSE,
                "duration_ms": 0.37,
                "chaos": None,
            },
        )
    for change in ("created", "updated"):
        add(
            "trajectory.state_transition",
            None,
            {
                "description": f"jira issues OPS-1 {change}",
                "detail": {
                    "service": "jira",
                    "entity": "issues",
                    "id": "OPS-1",
                    "change": change,
                    "record": json.loads(_REQUEST)["fields"],
                },
            },
        )
    add("trajectory.system_event", "check", {"description": "twin jira: $.issues[0].labels[0] == from-slack"})
    add("trajectory.system_event", None, {"description": "trajectory completed: 4 of 4 steps passed"})
    return events


EVENTS_PER_TRAJECTORY = len(trajectory_events("r", 0, 0))


def producer_events(run_id: str, producer: int, events: int) -> list[Emit]:
    """A run's events: its start, whole trajectories up to about ``events``, its end."""
    run = {"run_id": run_id}
    emits: list[Emit] = [("conductor.task.started", {"status": "running"}, "ScenarioConductor", run)]
    for index in range(1, max(1, (events - 2) // EVENTS_PER_TRAJECTORY) + 1):
        emits.extend(trajectory_events(run_id, producer, index))
    emits.append(("conductor.task.completed", {"status": "completed"}, "ScenarioConductor", run))
    return emits


def bus_round(root: Path, events: int, collector: str | None) -> dict[str, float]:
    """Events/s through the bus (with the exporter subscribed when ``collector`` is given)."""
    bus = EventBus(root / "events.db")
    exporter = OtlpExportProcess(collector + "/v1/traces") if collector else None
    runs = [f"bench-{producer}" for producer in range(PRODUCERS)]
    try:
        if exporter is not None:
            bus.subscribe_lines(exporter.on_line)  # as a job subscribes it
        for run_id in runs:
            (root / run_id).mkdir()
            bus.open_run(run_id, root / run_id / "events.jsonl")
            if exporter is not None:
                exporter.describe_run(run_id, kind="scenario")
        work = [producer_events(run_id, n, events // PRODUCERS) for n, run_id in enumerate(runs)]
        ready = threading.Barrier(PRODUCERS + 1)

        def produce(emits: list[Emit]) -> None:
            emit = bus.emit
            ready.wait()
            for event_type, payload, actor, correlation in emits:
                emit(event_type, payload, actor=actor, correlation=correlation)

        threads = [threading.Thread(target=produce, args=(emits,)) for emits in work]
        for thread in threads:
            thread.start()
        ready.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        bus.flush()
        bus_s = time.perf_counter() - started
        drain_s = bus_s
        if exporter is not None and not exporter.flush(timeout=DRAIN_TIMEOUT_S):
            raise SystemExit(
                f"the exporter did not get its spans to the collector within {DRAIN_TIMEOUT_S:g} s"
            )
        drain_s = time.perf_counter() - started
        for run_id in runs:
            bus.close_run(run_id)
    finally:
        bus.stop()
        stats = exporter.close() if exporter is not None else None
    emitted = sum(len(emits) for emits in work)
    with sqlite3.connect(root / "events.db") as conn:
        (indexed,) = conn.execute("SELECT count(*) FROM events").fetchone()
    if indexed != emitted:
        raise SystemExit(f"the bus indexed {indexed} of {emitted} events")
    figures = {"events": emitted, "events_per_s": emitted / bus_s, "drain_events_per_s": emitted / drain_s}
    if stats is not None:
        figures.update(
            sent=stats.sent, dropped_spans=stats.dropped_spans, dropped_events=stats.dropped_events
        )
    return figures


class Collector:
    """The test suite's OTLP/HTTP receiver in a subprocess (``--otlp-collector``); its base URL."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--otlp-collector"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().strip()  # the receiver prints its banner once it serves
        if not first.startswith(COLLECTOR_BANNER):
            self.process.kill()
            raise SystemExit(f"the OTLP collector did not start: {first!r}")
        self.url = first.rsplit(" ", 1)[-1]

    def stop(self) -> dict[str, int]:
        """Stop it; the spans and requests it received."""
        out, _ = self.process.communicate(timeout=60)  # closing its stdin tells it to stop
        received: dict[str, int] = json.loads(out.strip().splitlines()[-1])
        return received


def serve_collector() -> None:
    """``--otlp-collector``: serve the receiver until stdin closes, then print what it received."""
    sys.path.insert(0, str(REPO))
    from tests.telemetry.otlp_receiver import otlp_receiver

    with otlp_receiver() as receiver:
        print(f"{COLLECTOR_BANNER} {receiver.url}", flush=True)
        sys.stdin.read()
        print(json.dumps({"spans": len(receiver.spans), "requests": receiver.requests}), flush=True)


def bus_rounds(events: int, rounds: int) -> dict[str, float]:
    """Part 2: the bus without and with the OTLP exporter, alternating which goes first."""
    collector = Collector()
    rates: dict[str, list[float]] = {"plain": [], "otel": [], "ratio": []}
    sent = 0
    try:
        for round_number in range(1, rounds + 1):
            order = [None, collector.url] if round_number % 2 else [collector.url, None]
            figures: dict[str, dict[str, float]] = {}
            for url in order:
                with tempfile.TemporaryDirectory(prefix="orchestrate-bench-bus-") as tmp:
                    figures["otel" if url else "plain"] = bus_round(Path(tmp), events, url)
            plain, otel = figures["plain"], figures["otel"]
            rates["plain"].append(plain["events_per_s"])
            rates["otel"].append(otel["events_per_s"])
            rates["ratio"].append(otel["events_per_s"] / plain["events_per_s"])
            sent += int(otel["sent"])
            print(
                f"round {round_number}: {plain['events']:,.0f} events from {PRODUCERS} threads: "
                f"bus {plain['events_per_s']:,.0f} ev/s, with OTLP export {otel['events_per_s']:,.0f} ev/s "
                f"(export went {'second' if order[0] is None else 'first'}); with/without = "
                f"{rates['ratio'][-1]:.3f}; every span in the collector after "
                f"{otel['events'] / otel['drain_events_per_s']:.2f} s "
                f"({otel['drain_events_per_s']:,.0f} ev/s), "
                f"{otel['sent']:,.0f} spans sent, {otel['dropped_spans']:,.0f} spans and "
                f"{otel['dropped_events']:,.0f} events dropped",
                flush=True,
            )
    finally:
        received = collector.stop()
    if received["spans"] != sent:
        raise SystemExit(f"the exporter sent {sent} spans but the collector received {received['spans']}")
    print(
        f"the collector received {received['spans']:,} spans in {received['requests']:,} requests", flush=True
    )
    return {
        "bus_events_per_s": round(statistics.median(rates["plain"])),
        "bus_otel_events_per_s": round(statistics.median(rates["otel"])),
        "otel_bus_ratio": round(statistics.median(rates["ratio"]), 3),
    }


def profile_bus(events: int) -> None:
    """cProfile over one bus round with the exporter subscribed, every thread of this process."""
    collector = Collector()
    try:
        with tempfile.TemporaryDirectory(prefix="orchestrate-bench-bus-") as tmp:
            figures, _ = profile_all_threads(lambda: bus_round(Path(tmp), events, collector.url))
    finally:
        collector.stop()
    print(json.dumps({"profiled_bus_otel_events_per_s": round(figures["events_per_s"]), "events": events}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trajectories", type=int, default=200, help="trajectories per backend run")
    parser.add_argument("--slots", type=int, default=2, help="slots (parallel runners) of a backend run")
    parser.add_argument("--events", type=int, default=100_000, help="events per bus round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--profile", action="store_true", help="profile one bus round with OTLP export instead"
    )
    parser.add_argument("--otlp-collector", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.otlp_collector:
        serve_collector()
        return
    configure_logging()  # as the CLI does: our INFO lines and foreign warnings, on stderr
    if args.profile:
        profile_bus(args.events)
        return
    for variable in (ENDPOINT_VARIABLE, TRACES_ENDPOINT_VARIABLE):
        os.environ.pop(variable, None)

    result: dict[str, Any] = {}
    result.update(backend_rounds(args.trajectories, args.slots, args.rounds))
    result.update(bus_rounds(args.events, args.rounds))
    result.update(trajectories=args.trajectories, slots=args.slots, events=args.events, rounds=args.rounds)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
