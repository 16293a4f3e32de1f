"""The eval suite's jobs: one project that holds the three bundled examples, and the real jobs run in it.

The project's root has one ``orchestrate.toml`` whose web target is ``examples/webapp``, whose
system under test and scenario catalog are ``examples/integration``, and whose assistant is
``examples/assistant``, each copied into a folder of its own; so every job writes into the same
event index and the viewer sees them side by side. Jobs run as users run them: the CLI in a
subprocess (the gate and the scenario run), ``run_domain_job`` (a pack), ``run_job`` with a
conductor whose worker raises, and a job in a child process that gets SIGTERM mid-run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from orchestrator.actors import Conductor, Worker
from orchestrator.config import ProjectConfig
from orchestrator.errors import EscalationError
from orchestrator.jobs import run_job
from orchestrator.messages import RunOutcome, StartRun, WorkRequest, WorkResult
from tests.gate_support import environment as gate_environment
from tests.gate_support import orchestrate as gate_orchestrate

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PACK = Path("assistant") / "packs" / "inventory.pack.yaml"
SCENARIO = "slack-to-jira"
_IGNORED = shutil.ignore_patterns(".orchestrator", "artifacts", "runs", "issues", "events.db*", "__pycache__")

CONFIG = """\
[project]
name = "eval-suite"

[targets.web]
driver = "web"
base_url = "http://127.0.0.1:{port}"
start_command = ["python", "app.py", "--port", "{port}"]
cwd = "webapp"
health_path = "/health"
start_timeout_s = 30
profile = "smoke"

[issues]
backend = "local"

[sut]
base_url = "http://127.0.0.1:{port}"
start_command = ["python", "sut.py", "--port", "{port}"]
cwd = "integration"
health_path = "/health"

[sut.env]
OKTA_URL = "{twins.okta.url}"
OKTA_TOKEN = "{twins.okta.token}"
SLACK_URL = "{twins.slack.url}"
SLACK_TOKEN = "{twins.slack.token}"
JIRA_URL = "{twins.jira.url}"
JIRA_TOKEN = "{twins.jira.token}"

[assistant]
base_url = "http://127.0.0.1:{port}"
start_command = ["python", "app.py", "--port", "{port}"]
cwd = "assistant"
health_path = "/health"
timeout_s = 30
"""


def eval_project(root: Path) -> Path:
    """Write the project at ``root``: the three examples in their folders, their policy and catalog."""
    for name in ("webapp", "integration", "assistant"):
        shutil.copytree(EXAMPLES / name, root / name, ignore=_IGNORED)
    (root / "orchestrate.toml").write_text(CONFIG, encoding="utf-8")
    policy = root / ".orchestrator" / "policy"
    policy.mkdir(parents=True)
    shutil.copyfile(
        EXAMPLES / "webapp" / ".orchestrator" / "policy" / "test-profiles.yaml", policy / "test-profiles.yaml"
    )
    shutil.copyfile(
        EXAMPLES / "integration" / ".orchestrator" / "policy" / "satisfaction.yaml",
        policy / "satisfaction.yaml",
    )
    shutil.copytree(EXAMPLES / "integration" / ".scenarios", root / ".scenarios")
    return root


def _importable(extra: dict[str, str] | None) -> dict[str, str]:
    python_path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {"PYTHONPATH": python_path, **(extra or {})}


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The gate tests' environment (no ORCHESTRATE_ overrides), the repository importable, plus ``extra``."""
    return gate_environment(_importable(extra))


def orchestrate(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``orchestrate -C root ARGS...`` in a subprocess (the gate tests' helper), the repository importable."""
    return gate_orchestrate(root, *args, env=_importable(env), timeout=240)


def run_id_of(stdout: str) -> str:
    """The run id a gate's first line names (``... run_id=<id> ...``)."""
    return stdout.splitlines()[0].split("run_id=")[1].split()[0]


def run_gate(root: Path) -> str:
    """``orchestrate test --target web --profile smoke`` on the demo app; its run id."""
    done = orchestrate(root, "test", "--target", "web", "--profile", "smoke", "--triage", "skip")
    # The demo app has four known defects: the gate exits 1 with its findings.
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    return run_id_of(done.stdout)


def run_scenarios(root: Path, judge_url: str) -> dict[str, Any]:
    """``orchestrate validate`` of one scenario, judged by the openai twin at ``judge_url``; its summary."""
    env = {
        "ORCHESTRATE_LLM__MODEL": "gpt-4o-mini",
        "ORCHESTRATE_LLM__BASE_URL": judge_url,
        "ORCHESTRATE_LLM__API_KEY_ENV": "JUDGE_KEY",
        "JUDGE_KEY": "sk-twin-valid",
    }
    args = ("validate", SCENARIO, "--chaos-profile", "gentle", "--count", "2", "--seed", "5", "--json")
    done = orchestrate(root, *args, env=env)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


# --- a run whose worker fails ------------------------------------------------------------------


class RaisingWorker(Worker):
    """Raises on every request: the delegation fails and the run with it."""

    worker_type = "inventory-auditor"

    def perform(self, request: WorkRequest) -> WorkResult:
        self.progress("opening the ledger")
        with self.tool_call("read_ledger", summary="ledger.csv"):
            pass
        raise RuntimeError(f"the ledger is corrupt: cannot {request.objective}")


class AuditConductor(Conductor):
    """Delegates one audit to a :class:`RaisingWorker` with no restarts."""

    def conduct(self, start: StartRun) -> RunOutcome:
        worker = self.start_worker(RaisingWorker, max_restarts=0)
        result = self.delegate(worker, "audit", "audit the stock ledger", timeout=30)
        return RunOutcome(run_id=start.run_id, status="completed", summary=result.summary)


def run_failing(config: ProjectConfig) -> str:
    """A custom job whose only worker raises; its run id (the job raises the escalation)."""
    started: list[str] = []

    def params(run_dir: Any) -> dict[str, Any]:
        started.append(run_dir.run_id)
        return {}

    try:
        run_job(config, AuditConductor, kind="ui", objective="audit", target="ledger", params=params)
    except EscalationError:
        pass
    else:
        raise AssertionError("the failing worker's job did not fail")
    return started[0]


# --- a run stopped by SIGTERM ------------------------------------------------------------------

WAITING_JOB = textwrap.dedent(
    """
    import sys, threading
    from orchestrator.actors import Conductor, Worker
    from orchestrator.jobs import open_job
    from orchestrator.messages import RunOutcome

    started = threading.Event()

    class Waiter(Worker):
        worker_type = "long-runner"

        def perform(self, request):
            self.progress("waiting for the stop")
            started.set()
            while not self.cancelled.is_set():
                self.cancelled.wait(0.05)
            return self.result(request, summary="stopped")

    class Waiting(Conductor):
        def conduct(self, start):
            worker = self.start_worker(Waiter, max_restarts=0)
            self.delegate(worker, "wait", "wait until stopped", timeout=120)
            return RunOutcome(run_id=start.run_id, status="completed", summary="not reached")

    def announce(job):
        started.wait(60)
        print(job.run_id, flush=True)

    with open_job(sys.argv[1], "ui", target="long") as job:
        threading.Thread(target=announce, args=(job,), daemon=True).start()
        job.run(Waiting, objective="wait")
    """
)


def run_sigterm(root: Path) -> tuple[str, int]:
    """A job in a child process, sent SIGTERM once its worker is busy: its run id and exit code."""
    process = subprocess.Popen(
        [sys.executable, "-c", WAITING_JOB, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
        cwd=root,
    )
    try:
        assert process.stdout is not None
        run_id = process.stdout.readline().strip()
        assert run_id, process.stderr.read() if process.stderr else ""
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    return run_id, process.returncode


SMALL_JOB = textwrap.dedent(
    """
    import sys
    from orchestrator.actors import Conductor, Worker
    from orchestrator.jobs import run_job
    from orchestrator.messages import RunOutcome

    class Greeter(Worker):
        worker_type = "greeter"

        def perform(self, request):
            return self.result(request, summary="hello")

    class Greeting(Conductor):
        def conduct(self, start):
            worker = self.start_worker(Greeter)
            result = self.delegate(worker, "greet", "say hello", timeout=30)
            return RunOutcome(run_id=start.run_id, status="completed", summary=result.summary)

    result = run_job(sys.argv[1], Greeting, kind="ui", objective="greet", target="live")
    print(result.run_dir.run_id, flush=True)
    """
)


def start_small_job(root: Path) -> subprocess.Popen[str]:
    """Start a small real job in a child process (it prints its run id when done)."""
    return subprocess.Popen(
        [sys.executable, "-c", SMALL_JOB, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
        cwd=root,
    )
