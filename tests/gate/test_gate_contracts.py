"""The gate's capability contracts: every join between the gate's conductor and its workers is typed.

A misspelt key in a capture, evaluate or reconcile request is refused by the worker before any
work (never silently dropped); a result that lacks a key is an ``invalid_result`` failure, and
through ``orchestrate test`` a framework error (exit 2), never zero findings and exit 0. An
untyped five-line driver plugin still runs: the conductor checks its answer against the contract.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from orchestrator.actors import Capability, Conductor, Worker, run_conductor
from orchestrator.agents.issue_reconciler import IssueReconciler
from orchestrator.agents.ux_evaluator import UxEvaluator
from orchestrator.drivers.command import CommandDriver
from orchestrator.errors import EscalationError
from orchestrator.gate import (
    CAPTURE,
    EVALUATE,
    RECONCILE,
    CaptureRequest,
    CaptureTarget,
    EvaluateRequest,
    ReconcileRequest,
)
from orchestrator.messages import RunOutcome, StartRun, WorkRequest, WorkResult
from orchestrator.policy.test_profiles import Profile
from orchestrator.testing import CapturedEvents, capture_events
from tests.gate.test_gate_pipeline import events, orchestrate


class ForgetfulDriver(Worker):
    """An untyped driver whose answer renamed ``failed`` to ``failures``."""

    worker_type = "forgetful-driver"

    def perform(self, request: WorkRequest) -> WorkResult:
        data = {"exit_code": 0, "manifest": "captures/forgetful.json", "captured": 1, "failures": 0}
        return self.result(request, summary="captured", data=data)


class OneDelegation(Conductor):
    """Delegates ``start.params["params"]`` to a worker: by capability name (raw) or typed."""

    workers: ClassVar[dict[str, type[Worker]]] = {
        "command": CommandDriver,
        "evaluator": UxEvaluator,
        "reconciler": IssueReconciler,
        "forgetful": ForgetfulDriver,
    }
    capabilities: ClassVar[dict[str, Capability[Any, Any]]] = {
        "capture": CAPTURE,
        "evaluate": EVALUATE,
        "reconcile": RECONCILE,
    }

    def conduct(self, start: StartRun) -> RunOutcome:
        worker = self.start_worker(self.workers[str(start.params["worker"])], max_restarts=0)
        capability = self.capabilities[str(start.params["capability"])]
        params = start.params["params"]
        assert isinstance(params, dict)
        if start.params.get("typed"):
            self.delegate(worker, capability, "typed", params=capability.request.model_validate(params))
        else:
            self.delegate(worker, capability.name, "raw", params=params)
        return RunOutcome(run_id=start.run_id, status="completed", summary="done")


def delegate(tmp_path: Path, **params: Any) -> tuple[CapturedEvents, EscalationError | None]:
    error: EscalationError | None = None
    with capture_events() as captured:
        try:
            run_conductor(
                OneDelegation,
                events=captured,
                run_id="contracts-1",
                events_path=tmp_path / "events.jsonl",
                objective="one delegation",
                params=params,
                timeout=60,
            )
        except EscalationError as exc:
            error = exc
    return captured, error


def requests(tmp_path: Path) -> dict[str, BaseModel]:
    profile = Profile(driver="command", command=["true"], checks=["console_errors"])
    common: dict[str, Any] = {"run_dir": tmp_path / "run", "project_root": tmp_path, "profile": profile}
    return {
        "capture": CaptureRequest(
            run_id="contracts-1", target=CaptureTarget(name="unit"), profile_name="unit", **common
        ),
        "evaluate": EvaluateRequest(profile_name="unit", **common),
        "reconcile": ReconcileRequest(run_id="contracts-1", run_dir=tmp_path / "run", project_root=tmp_path),
    }


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("worker", "capability", "key", "misspelt"),
    [
        ("command", "capture", "changed_files", "changed_file"),
        ("evaluator", "evaluate", "profile_name", "profile_nmae"),
        ("reconciler", "reconcile", "dry_run", "dryrun"),
    ],
)
def test_a_misspelt_request_key_is_refused_before_any_work(
    tmp_path: Path, worker: str, capability: str, key: str, misspelt: str
) -> None:
    params = requests(tmp_path)[capability].model_dump(mode="json")
    params[misspelt] = params.pop(key)
    captured, error = delegate(tmp_path, worker=worker, capability=capability, params=params)

    assert error is not None and error.failure.kind == "refused"  # type: ignore[attr-defined]
    (failed,) = captured.payloads("conductor.capability.failed")
    assert failed["failure_kind"] == "refused" and failed["capability"] == capability
    # The shared explainer: the field, what is wrong with it, and a fix.
    assert f"params.{misspelt}" in failed["error"] and "Fix:" in failed["error"]
    assert not (tmp_path / "run").exists(), "a refused request must do no work"


@pytest.mark.timeout(60)
def test_a_result_missing_a_key_is_an_invalid_result(tmp_path: Path) -> None:
    params = requests(tmp_path)["capture"].model_dump(mode="json")
    captured, error = delegate(tmp_path, worker="forgetful", capability="capture", params=params, typed=True)

    assert error is not None and error.failure.kind == "invalid_result"  # type: ignore[attr-defined]
    (failed,) = captured.payloads("conductor.capability.failed")
    assert failed["failure_kind"] == "invalid_result"
    assert "forgetful-driver answered 'capture' with an invalid CaptureResult" in failed["error"]
    # Beside the missing "failed" the explainer names the unknown key: it is usually the same, misspelt.
    assert "data.failures: " in failed["error"] and "Fix:" in failed["error"]
    assert captured.payloads("conductor.worker.result")[0]["success"] is False
    assert captured.types("conductor.capability") == ["conductor.capability.failed"]


PLUGIN = '''\
"""Two untyped driver plugins: five lines of Worker each, no capability declared."""

import json
from pathlib import Path

from orchestrator import Worker


def write_manifest(run_dir, driver):
    """An empty but valid capture: nothing to evaluate, exit 0."""
    (Path(run_dir) / "captures").mkdir(parents=True, exist_ok=True)
    (Path(run_dir) / "captures" / f"{driver}.json").write_text(json.dumps({"driver": driver, "exit_code": 0}))
    return f"captures/{driver}.json"


class RenamedKeyDriver(Worker):
    worker_type = "renamed-key-driver"

    def perform(self, request):
        manifest = write_manifest(request.params["run_dir"], "renamed")
        data = {"exit_code": 0, "manifest": manifest, "captured": 0, "failures": 0}
        return self.result(request, summary="captured", data=data)


class FiveLineDriver(Worker):
    worker_type = "five-line-driver"

    def perform(self, request):
        manifest = write_manifest(request.params["run_dir"], "five-line")
        data = {"exit_code": 0, "manifest": manifest, "captured": 0, "failed": 0}
        return self.result(request, summary="captured", data=data)
'''

ENTRY_POINTS = """\
[orchestrate.drivers]
renamed = untyped_drivers:RenamedKeyDriver
five-line = untyped_drivers:FiveLineDriver
"""


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A package with two entry points in ``orchestrate.drivers``, importable from this folder."""
    site = tmp_path / "site"
    dist_info = site / "untyped_drivers-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (site / "untyped_drivers.py").write_text(PLUGIN)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: untyped-drivers\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


def gate_project(root: Path, driver: str) -> Path:
    (root / ".orchestrator" / "policy").mkdir(parents=True)
    (root / "orchestrate.toml").write_text(f'[targets.plug]\ndriver = "{driver}"\n')
    (root / ".orchestrator" / "policy" / "test-profiles.yaml").write_text(
        textwrap.dedent(
            f"""\
            default_target: plug
            targets: {{plug: plug}}
            profiles:
              plug: {{driver: {driver}, checks: [console_errors], timeout_s: 60}}
            """
        )
    )
    return root


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_renamed_result_key_fails_the_gate_with_exit_2(tmp_path: Path, plugin_path: Path) -> None:
    project = gate_project(tmp_path / "project", "renamed")
    done = orchestrate(project, "test", "--json", env={"PYTHONPATH": str(plugin_path)})

    # Before the contracts, the missing "failed" read as 0 and the gate said: 0 findings, exit 0.
    assert done.returncode == 2, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["driver_exit_codes"] == {"renamed": 2}
    (error,) = [e for e in summary["errors"] if e.startswith("capture (renamed):")]
    assert "invalid_result" in error and "invalid CaptureResult: data.failures" in error
    recorded = events(Path(summary["run_dir"]))
    failed = [e["payload"] for e in recorded if e["event_type"] == "conductor.capability.failed"]
    assert [(p["capability"], p["failure_kind"]) for p in failed] == [("capture", "invalid_result")]
    assert recorded[-1]["event_type"] == "conductor.task.failed"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_an_untyped_five_line_driver_still_runs(tmp_path: Path, plugin_path: Path) -> None:
    project = gate_project(tmp_path / "project", "five-line")
    done = orchestrate(project, "test", "--json", env={"PYTHONPATH": str(plugin_path)})

    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["driver_exit_codes"] == {"five-line": 0}
    assert summary["errors"] == [] and summary["findings"] == 0
    recorded = events(Path(summary["run_dir"]))
    calls = [e["payload"]["worker_type"] for e in recorded if e["event_type"] == "conductor.worker.call"]
    assert calls == ["five-line-driver", "ux-evaluator", "issue-reconciler"]
    assert recorded[-1]["event_type"] == "conductor.task.completed"
