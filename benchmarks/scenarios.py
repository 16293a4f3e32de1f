"""Throughput and memory of ``orchestrate run`` on the bundled example, against a bare loop, in one run.

The job is scenario ``slack-to-jira`` of ``examples/integration`` (copied to a temporary project
for every run, never written in place), chaos off, run in this process through
:func:`~orchestrator.pipelines.scenarios.run_scenarios` as ``orchestrate run`` does: a slot per
runner with its own twins and its own ``python sut.py`` process, a file and events per trajectory.

1. ``traj_per_s_p1``: ``--trajectories`` trajectories at ``--parallel 1``, per second of the whole
   call (slot start-up and shut-down, manifest, trajectory files, events included).
2. ``traj_per_s_p4``: the same at ``--parallel 4``.
3. ``bare_traj_per_s`` (the floor): a plain loop in this process, no framework: the same twins
   (``serve_twins``) and the same ``python sut.py`` subprocess with the same environment; per
   trajectory, reset each twin, send the scenario's requests (its two user messages in one
   session, with the trajectory header), wait for the Jira create in the journal, check the
   twin's state, read the session, the journals and the twins' state, and write one JSON file.
   Starting and stopping the twins and the SUT count, as they do for the pipeline.
4. ``overhead_p1``: ``bare_traj_per_s / traj_per_s_p1`` (target: at most 1.25).
5. ``rss_mb_100`` and ``rss_mb_2000``: the peak RSS of a fresh process running ``--rss-small``
   and then ``--rss-large`` trajectories at ``--rss-parallel`` (its own ``ru_maxrss``; the SUT
   processes are not counted), and ``rss_growth_mb`` between them (target: under 50 MB).

Figures 1-4 are medians of ``--rounds`` rounds, the three variants run in turns within a round;
``overhead_p1`` is the median of the rounds' ratios. A line before the JSON gives the process's
CPU milliseconds per trajectory of both, which other load on the machine hardly moves.
``--profile`` instead runs the pipeline once at parallel 1 under cProfile (every thread of this
process, by CPU time; the SUT process is not seen) and prints where the time goes. The last line is one JSON
object.

    python benchmarks/scenarios.py [--trajectories 200] [--rounds 3] [--rss-small 100] [--rss-large 2000]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _profiling import profile_all_threads
from _scenario_project import bare_run, fresh_project, load_scenario, remove_project, run_pipeline

from orchestrator.logs import configure_logging

WIDE = 4
"""The parallelism of the second pipeline figure."""


def timed_pipeline(trajectories: int, parallel: int) -> tuple[float, float]:
    """Wall and process-CPU seconds of one ``run_scenarios`` call on a fresh copy of the example."""
    project = fresh_project()
    try:
        load_scenario(project)
        wall, cpu = time.perf_counter(), time.process_time()
        run_pipeline(project, trajectories, parallel)
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        remove_project(project)


def timed_bare(trajectories: int) -> tuple[float, float, float]:
    """Wall seconds in all, wall seconds of the loop alone, process-CPU seconds of the floor."""
    project = fresh_project()
    try:
        cpu = time.process_time()
        wall, loop, failed = bare_run(project, trajectories)
        if failed:
            raise SystemExit(f"the bare loop saw {failed} failed steps; the floor is not doing the work")
        return wall, loop, time.process_time() - cpu
    finally:
        remove_project(project)


def peak_rss(trajectories: int, parallel: int) -> dict[str, float]:
    """A fresh process runs the pipeline; its own peak RSS and its largest child's, in MB."""
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--rss-child",
            str(trajectories),
            "--rss-parallel",
            str(parallel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the RSS run of {trajectories} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def rss_child(trajectories: int, parallel: int) -> None:
    """Run the pipeline once and print this process's peak RSS (and its children's) as JSON."""
    wall, _ = timed_pipeline(trajectories, parallel)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"rss_mb": round(own, 1), "child_rss_mb": round(children, 1), "wall_s": round(wall, 2)}))


def profile_pipeline(trajectories: int) -> None:
    """cProfile over one run at parallel 1, every thread of this process; top functions printed."""
    _, wall = profile_all_threads(lambda: timed_pipeline(trajectories, 1))
    print(json.dumps({"profiled_traj_per_s": round(trajectories / wall, 2), "trajectories": trajectories}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trajectories", type=int, default=200, help="trajectories per throughput run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rss-small", type=int, default=100, help="trajectories of the first RSS run")
    parser.add_argument("--rss-large", type=int, default=2000, help="trajectories of the second RSS run")
    parser.add_argument("--rss-parallel", type=int, default=WIDE, help="parallelism of the RSS runs")
    parser.add_argument("--profile", action="store_true", help="profile one run at parallel 1 instead")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_logging()  # as the CLI does: our INFO lines and foreign warnings, on stderr
    if args.rss_child is not None:
        rss_child(args.rss_child, args.rss_parallel)
        return
    if args.profile:
        profile_pipeline(args.trajectories)
        return

    n = args.trajectories
    rates: dict[str, list[float]] = {"p1": [], "p4": [], "bare": [], "bare_loop": [], "overhead": []}
    cpu_ms: dict[str, list[float]] = {"p1": [], "p4": [], "bare": []}
    runs: list[tuple[str, Callable[[], tuple[float, ...]]]] = [
        ("p1", lambda: timed_pipeline(n, 1)),
        ("p4", lambda: timed_pipeline(n, WIDE)),
        ("bare", lambda: timed_bare(n)),
    ]
    for round_number in range(1, args.rounds + 1):
        for name, run in runs:
            figures = run()
            rates[name].append(n / figures[0])
            cpu_ms[name].append(figures[-1] * 1000 / n)
            if name == "bare":
                rates["bare_loop"].append(n / figures[1])
        rates["overhead"].append(rates["bare"][-1] / rates["p1"][-1])
        print(
            f"round {round_number}: {n} trajectories: parallel 1 {rates['p1'][-1]:.2f}/s, "
            f"parallel {WIDE} {rates['p4'][-1]:.2f}/s, bare loop {rates['bare'][-1]:.2f}/s "
            f"(loop alone {rates['bare_loop'][-1]:.2f}/s); bare/p1 = {rates['overhead'][-1]:.3f}",
            flush=True,
        )
    p1_cpu, bare_cpu = statistics.median(cpu_ms["p1"]), statistics.median(cpu_ms["bare"])
    print(
        f"CPU of this process per trajectory (load-independent): parallel 1 {p1_cpu:.1f} ms, "
        f"parallel {WIDE} {statistics.median(cpu_ms['p4']):.1f} ms, bare loop {bare_cpu:.1f} ms "
        f"(ratio {p1_cpu / bare_cpu:.3f}); the SUT process's CPU is not counted",
        flush=True,
    )
    small = peak_rss(args.rss_small, args.rss_parallel)
    print(
        f"peak RSS, {args.rss_small} trajectories at parallel {args.rss_parallel}: {small['rss_mb']:.1f} MB "
        f"(largest child {small['child_rss_mb']:.1f} MB, {small['wall_s']:.1f} s)",
        flush=True,
    )
    large = peak_rss(args.rss_large, args.rss_parallel)
    print(
        f"peak RSS, {args.rss_large} trajectories at parallel {args.rss_parallel}: {large['rss_mb']:.1f} MB "
        f"(largest child {large['child_rss_mb']:.1f} MB, {large['wall_s']:.1f} s)",
        flush=True,
    )
    result = {
        "traj_per_s_p1": round(statistics.median(rates["p1"]), 2),
        "traj_per_s_p4": round(statistics.median(rates["p4"]), 2),
        "bare_traj_per_s": round(statistics.median(rates["bare"]), 2),
        "overhead_p1": round(statistics.median(rates["overhead"]), 3),
        "rss_mb_100": small["rss_mb"],
        "rss_mb_2000": large["rss_mb"],
        "rss_growth_mb": round(large["rss_mb"] - small["rss_mb"], 1),
        "rss_trajectories": [args.rss_small, args.rss_large],
        "bare_loop_traj_per_s": round(statistics.median(rates["bare_loop"]), 2),
        "cpu_ms_per_traj_p1": round(p1_cpu, 2),
        "bare_cpu_ms_per_traj": round(bare_cpu, 2),
        "trajectories": n,
        "rounds": args.rounds,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
