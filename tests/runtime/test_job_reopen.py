"""Going on with a finished run: ``open_job(reopen=...)`` and the bus continuing an events file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from orchestrator import Conductor, RunOutcome, StartRun, load_config
from orchestrator.config import ProjectConfig
from orchestrator.errors import UsageError
from orchestrator.events import EventStore
from orchestrator.jobs import open_job, run_job
from orchestrator.runs import reopen_run


class Note(Conductor):
    """Reports progress once and finishes."""

    def conduct(self, start: StartRun) -> RunOutcome:
        self.progress("noted", word=str(start.params.get("word")))
        return RunOutcome(run_id=start.run_id, status="completed", summary="noted")


@pytest.fixture
def config(tmp_path: Path) -> ProjectConfig:
    root = tmp_path / "project"
    root.mkdir()
    (root / "orchestrate.toml").write_text('[project]\nname = "reopen"\n')
    return load_config(root, env={})


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (path / "events.jsonl").read_text().splitlines()]


@pytest.mark.timeout(60)
def test_a_reopened_run_continues_its_events_with_the_next_seq(config: ProjectConfig) -> None:
    first = run_job(config, Note, kind="scenario", objective="first", params={"word": "one"})
    before = events(first.run_dir.path)
    with open_job(config, "scenario", reopen=first.run_dir.path) as job:
        assert job.run_id == first.run_dir.run_id
        job.run(Note, objective="second", params={"word": "two"})
    after = events(first.run_dir.path)
    assert after[: len(before)] == before  # nothing rewritten
    assert [event["seq"] for event in after] == list(range(1, len(after) + 1))
    assert sum(event["event_type"] == "conductor.task.completed" for event in after) == 2
    manifest = json.loads((first.run_dir.path / "run.json").read_text())
    assert manifest["status"] == "completed" and len(manifest["reopened_at"]) == 1
    assert manifest["owner"]["pid"] == os.getpid()
    with EventStore(config.events_db) as store:
        assert len(store.query(run_id=first.run_dir.run_id, limit=1000)) == len(after)


@pytest.mark.timeout(60)
def test_a_torn_last_line_is_cut_off_before_more_events_are_appended(config: ProjectConfig) -> None:
    first = run_job(config, Note, kind="scenario", objective="first", params={})
    path = first.run_dir.path / "events.jsonl"
    complete = path.read_bytes()
    path.write_bytes(complete + b'{"seq": 99, "event_ty')  # a crash in the middle of a write
    with open_job(config, "scenario", reopen=first.run_dir.path) as job:
        job.run(Note, objective="second", params={})
    lines = [json.loads(line) for line in path.read_text().splitlines()]  # every line parses
    assert [event["seq"] for event in lines] == list(range(1, len(lines) + 1))


@pytest.mark.timeout(60)
def test_a_run_that_is_still_running_cannot_be_reopened(config: ProjectConfig) -> None:
    with open_job(config, "scenario") as job, pytest.raises(UsageError, match="still running"):
        reopen_run(job.path)
