"""The scenario benchmark's project and its floor: a copy of ``examples/integration`` and a bare loop.

:func:`fresh_project` copies the example (catalog, policy, ``sut.py``, ``orchestrate.toml``) into a
temporary folder without any run, report or events database, so the example itself is never
written to. :func:`run_pipeline` runs ``orchestrate run`` on it in this process
(:func:`~orchestrator.pipelines.scenarios.run_scenarios`, chaos off). :func:`bare_run` is the
floor: the same twins and the same system under test (``python sut.py`` as a subprocess, with the
environment ``[sut].env`` gives it), the same requests per trajectory, one JSON file per
trajectory, and nothing else: no actors, events, manifest, records or checks beyond the step
expectations.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jsonpath
import yaml

from orchestrator.config import load_config
from orchestrator.pipelines.scenarios import RunOptions, ScenarioRunResult, run_scenarios
from orchestrator.twins import TRAJECTORY_HEADER, RunningTwins, serve_twins

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "integration"
SCENARIO_ID = "slack-to-jira"
SCENARIO_FILE = Path(".scenarios/catalog/integrations/slack-to-jira.scenario.yaml")
MESSAGE_PATH = "/api/assistant/message"
SESSION_PATH = "/api/assistant/session/{session_id}"
_STATE_REFERENCE = re.compile(r"\{\{\s*context\.state\.([A-Za-z0-9_]+)\s*\}\}")
_RUN_STATE = (".scenarios/runs", ".scenarios/reports", ".orchestrator/runs", ".orchestrator/events.db")


def fresh_project() -> Path:
    """A copy of the example in a new temporary folder, without runs, reports or events."""
    target = Path(tempfile.mkdtemp(prefix="orchestrate-bench-")) / "integration"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", "events.db*"))
    for state in _RUN_STATE:
        path = target / state
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    return target


def remove_project(project: Path) -> None:
    shutil.rmtree(project.parent, ignore_errors=True)


def load_scenario(project: Path) -> dict[str, Any]:
    """The scenario's document; one with ``chaos:`` of its own is refused (the benchmark runs chaos off)."""
    document: dict[str, Any] = yaml.safe_load((project / SCENARIO_FILE).read_text())
    if "chaos" in document:
        raise SystemExit(f"{SCENARIO_FILE} has chaos: of its own; the benchmark measures runs without chaos")
    return document


def run_pipeline(project: Path, trajectories: int, parallel: int, *, seed: int = 1) -> ScenarioRunResult:
    """``orchestrate run slack-to-jira --count N --parallel P --chaos none`` on ``project``."""
    config = load_config(project)
    result = run_scenarios(
        config,
        RunOptions(
            scenario_ids=(SCENARIO_ID,),
            count=trajectories,
            chaos_profile="none",
            parallel=parallel,
            seed=seed,
        ),
    )
    errored = result.tally.total(result.tally.errored)
    if result.status != "completed" or errored or result.tally.total(result.tally.finished) != trajectories:
        raise SystemExit(
            f"the scenario run did not complete cleanly: status {result.status}, {errored} errored, "
            f"errors {result.errors}; see {result.run_dir}"
        )
    return result


# ------------------------------------------------------------------------------------------ floor


@contextmanager
def running_sut(project: Path, twins: RunningTwins, log_path: Path) -> Iterator[str]:
    """``python sut.py --port 0`` in the project, given what ``[sut].env`` gives it; its URL."""
    env = dict(os.environ)
    for name in ("okta", "slack", "jira"):
        env[f"{name.upper()}_URL"] = twins[name]
        env[f"{name.upper()}_TOKEN"] = twins.client(name).token or ""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "sut.py", "--port", "0"],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline().decode().strip()  # "Demo SUT on http://127.0.0.1:PORT"
            if not line.startswith("Demo SUT on "):
                raise SystemExit(f"sut.py did not start (its output is in {log_path})")
            yield line.rsplit(" ", 1)[-1]
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


def _filled(text: str, state: dict[str, Any]) -> str:
    return _STATE_REFERENCE.sub(lambda found: str(state[found.group(1)]), text)


def _check(expect: dict[str, Any] | None, response: httpx.Response) -> bool:
    if expect is None:
        return True
    if "status" in expect and response.status_code != expect["status"]:
        return False
    if "path" in expect:
        found = jsonpath.findall(expect["path"], response.json())
        return bool(found) and ("equals" not in expect or found[0] == expect["equals"])
    return True


def _call_matcher(method: str, path: str) -> Callable[[dict[str, Any]], bool]:
    def matches(entry: dict[str, Any]) -> bool:
        return entry.get("method") == method and entry.get("path") == path

    return matches


def _one_trajectory(
    client: httpx.Client,
    sut_url: str,
    twins: RunningTwins,
    scenario: dict[str, Any],
    trajectory_id: str,
    seed: int,
) -> dict[str, Any]:
    """Reset the twins, make the scenario's requests, read journals and state: the record."""
    context = scenario["context"]
    services: list[str] = context["services"]
    data: dict[str, Any] = context.get("data") or {}
    runtimes = twins.runtimes
    for name in services:
        runtimes[name].reset(data.get(name), seed=seed)
    headers = {TRAJECTORY_HEADER: trajectory_id}
    session_id: str | None = None
    steps: list[dict[str, Any]] = []
    for step in scenario["steps"]:
        if "user" in step:
            body: dict[str, Any] = {"message": _filled(step["user"], context.get("state") or {})}
            if session_id is not None:
                body = {"session_id": session_id, **body}
            response = client.post(sut_url + MESSAGE_PATH, json=body, headers=headers)
            answer = response.json()
            session_id = session_id or answer.get("session_id")
            passed = _check(step.get("expect"), response)
            steps.append({"id": step["id"], "status": response.status_code, "answer": answer, "ok": passed})
        elif "http" in step:
            http = step["http"]
            response = client.request(
                http["method"], sut_url + http["path"], json=http.get("json"), headers=headers
            )
            passed = _check(step.get("expect"), response)
            steps.append({"id": step["id"], "status": response.status_code, "ok": passed})
        elif "wait_for" in step and "api_call" in step["wait_for"]:
            call: dict[str, Any] = step["wait_for"]["api_call"]
            seen = runtimes[call["service"]].journal.wait_for(
                _call_matcher(call["method"], call["path"]),
                timeout=step["wait_for"].get("timeout_ms", 5000) / 1000,
            )
            steps.append({"id": step["id"], "ok": seen is not None})
        elif "twin" in step and "assert" in step["twin"]:
            check = step["twin"]["assert"]
            found = jsonpath.findall(check["path"], runtimes[step["twin"]["service"]].state.dump())
            steps.append({"id": step["id"], "ok": bool(found) and found[0] == check.get("equals", found[0])})
        else:
            raise SystemExit(f"the floor does not know step {step.get('id')!r} of {SCENARIO_FILE}")
    session = None
    if session_id is not None:
        session = client.get(sut_url + SESSION_PATH.format(session_id=session_id), headers=headers).json()
    return {
        "id": trajectory_id,
        "seed": seed,
        "steps": steps,
        "journals": {
            name: runtime.journal.entries(trajectory=trajectory_id) for name, runtime in runtimes.items()
        },
        "state": {name: runtimes[name].state.dump() for name in services},
        "session": session,
    }


def bare_run(project: Path, trajectories: int) -> tuple[float, float, int]:
    """The floor: wall seconds in all, seconds of the trajectory loop alone, and steps that failed.

    The whole figure counts starting and stopping the twins and the system under test, as the
    pipeline's does for its slot.
    """
    scenario = load_scenario(project)
    context = scenario["context"]
    out = Path(tempfile.mkdtemp(prefix="orchestrate-bench-bare-"))
    failed = 0
    tls = ssl.create_default_context()
    try:
        started = time.perf_counter()
        with (
            serve_twins(context["services"], project_root=project, data=context.get("data")) as twins,
            running_sut(project, twins, out / "sut.log") as sut_url,
        ):
            loop_started = time.perf_counter()
            for index in range(1, trajectories + 1):
                trajectory_id = f"{SCENARIO_ID}-{index:03d}"
                # A connection per trajectory, as the runner has (the demo SUT answers a kept-alive
                # connection's later requests about 40 ms late), without building an SSL context
                # per client (about 15 ms of CPU each).
                with httpx.Client(timeout=30.0, trust_env=False, verify=tls) as client:
                    record = _one_trajectory(client, sut_url, twins, scenario, trajectory_id, seed=index)
                failed += sum(1 for step in record["steps"] if not step["ok"])
                (out / f"{trajectory_id}.json").write_text(json.dumps(record))
            loop_s = time.perf_counter() - loop_started
        return time.perf_counter() - started, loop_s, failed
    finally:
        shutil.rmtree(out, ignore_errors=True)
