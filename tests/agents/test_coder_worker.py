"""The coder actor through a conductor: the typed join, correlated tool events, how ends are reported."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import ClassVar

from orchestrator.actors import Conductor, Done, run_conductor
from orchestrator.agents.coder import CODE_BACKLOG, Coder, CoderDone, CoderRequest
from orchestrator.messages import RunOutcome, StartRun
from orchestrator.testing import CapturedEvents, capture_events

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "assistant"


class CoderConductor(Conductor):
    """Hands each request to one coder worker, one delegation each."""

    requests: ClassVar[list[CoderRequest]] = []
    answers: ClassVar[list[Done[CoderDone]]] = []

    def conduct(self, start: StartRun) -> RunOutcome:
        worker = self.start_worker(Coder, max_restarts=0)
        for request in self.requests:
            self.answers.append(self.delegate(worker, CODE_BACKLOG, "code the backlog", params=request))
        return RunOutcome(run_id=start.run_id, status="completed", summary="coded")


def conduct(tmp_path: Path, *requests: CoderRequest) -> CapturedEvents:
    CoderConductor.requests = list(requests)
    CoderConductor.answers = []
    with capture_events() as captured:
        run_conductor(
            CoderConductor,
            events=captured,
            run_id="r1",
            events_path=tmp_path / "events.jsonl",
            objective="improve",
        )
    return captured


def coder_request(
    tmp_path: Path, repo: Path, command: list[str], iteration: int = 1, timeout_s: float = 30
) -> CoderRequest:
    backlog, analysis = tmp_path / "backlog.md", tmp_path / "analysis.json"
    backlog.write_text("- [route] restock/low-items: the low_stock capability is missing\n", "utf-8")
    analysis.write_text(json.dumps({"backlog": []}), "utf-8")
    return CoderRequest(
        command=command,
        repo=str(repo),
        backlog=str(backlog),
        analysis=str(analysis),
        iteration=iteration,
        output_dir=str(tmp_path / f"iteration-{iteration}"),
        timeout_s=timeout_s,
    )


def test_the_actor_runs_the_demo_coder_and_reports_the_change(tmp_path: Path) -> None:
    repo = tmp_path / "assistant"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__"))
    command = [sys.executable, str(repo / "coder.py"), "--backlog", "{backlog}", "--repo", "{repo}"]
    captured = conduct(tmp_path, coder_request(tmp_path, repo, command))

    (done,) = CoderConductor.answers
    assert done.success and done.result.ok
    assert done.result.changed_paths == ["capabilities.json"]
    assert done.summary == "coder: exit 0, 1 changed path (capabilities.json)"
    assert (tmp_path / "iteration-1" / "coder.json").is_file()

    started = captured.of_type("worker.task.started")[0]
    (tool,) = captured.of_type("worker.tool.result")
    assert tool.payload["tool_name"] == "coder" and tool.payload["success"] is True
    assert tool.actor == started.actor and tool.actor.startswith("coder-")
    assert (tool.run_id, tool.task_id, tool.call_id) == ("r1", started.task_id, started.call_id)
    assert captured.types("conductor.capability") == ["conductor.capability.completed"]
    assert captured.types("conductor.task")[-1] == "conductor.task.completed"


def test_missing_is_blocked_hanging_is_unsuccessful_and_any_exit_is_an_answer(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    missing = coder_request(tmp_path, repo, ["no-such-coding-agent-xyz"], iteration=1)
    failing = coder_request(tmp_path, repo, [sys.executable, "-c", "raise SystemExit(3)"], iteration=2)
    hanging = coder_request(
        tmp_path, repo, [sys.executable, "-c", "import time; time.sleep(60)"], iteration=3, timeout_s=1
    )
    captured = conduct(tmp_path, missing, failing, hanging)

    blocked, exited, timed_out = CoderConductor.answers
    assert not blocked.success and blocked.result.outcome == "not_found"
    assert blocked.blocked_reason is not None and "no-such-coding-agent-xyz" in blocked.blocked_reason
    assert exited.success and (exited.result.exit_code, exited.result.ok) == (3, False)
    assert exited.summary == "coder: exit 3, 0 changed paths"
    assert not timed_out.success and timed_out.blocked_reason is None
    assert timed_out.result.outcome == "timed_out"
    assert captured.types("conductor.capability") == [
        "conductor.capability.blocked",
        "conductor.capability.completed",
        "conductor.capability.failed",
    ]
