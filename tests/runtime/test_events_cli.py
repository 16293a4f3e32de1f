"""`orchestrate events`: a damaged file skips one run, not the rebuild; bounded options; literal text.

Projects are real (``init_project``), runs are made by ``create_run`` and their events go through
a real ``EventBus`` into ``events.jsonl`` and SQLite. Commands run through ``main()``, the
console-script entry point, so exit codes and stderr are what a user gets.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog

from orchestrator.config import ProjectConfig, load_config
from orchestrator.correlation import correlation_scope
from orchestrator.events import EventBus, EventStore
from orchestrator.runs import create_run
from orchestrator.scaffold import init_project
from tests.cli_support import run_main


@dataclass(frozen=True)
class Project:
    config: ProjectConfig
    run_ids: list[str]

    @property
    def root(self) -> Path:
        return self.config.root

    def events_file(self, run_id: str) -> Path:
        return self.config.scenario_runs_dir / run_id / "events.jsonl"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ORCHESTRATE_* settings from the outside; logging set back after each CLI call."""
    for name in list(os.environ):
        if name.upper().startswith("ORCHESTRATE_"):
            monkeypatch.delenv(name)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Three scenario runs of three events each, written through a real bus."""
    root = tmp_path / "proj"
    init_project(root)
    config = load_config(root, env={})
    run_ids: list[str] = []
    with EventBus(config.events_db) as bus:
        for actor in ("first", "second [bold]third[/bold] [/x]", "third"):
            run = create_run(config.scenario_runs_dir, "scenario")
            bus.open_run(run.run_id, run.events_path)
            with correlation_scope(run_id=run.run_id, task_id="t1"):
                bus.emit("conductor.task.started", {"status": "running"}, actor=actor)
                progress = {"worker_id": "w1", "phase": "p", "message": "[red]half[/red] way"}
                bus.emit("worker.task.progress", progress, actor=actor)
                bus.emit("conductor.task.completed", {"status": "completed"}, actor=actor)
            bus.close_run(run.run_id)
            run_ids.append(run.run_id)
    return Project(config, run_ids)


def damage_second_line(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(
        "\n".join([lines[0], lines[1][: len(lines[1]) // 2], *lines[2:]]) + "\n", encoding="utf-8"
    )


# --- reindex with a damaged file -----------------------------------------------------------------


def test_a_damaged_line_skips_that_run_indexes_the_others_and_exits_1(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged = project.events_file(project.run_ids[1])
    damage_second_line(damaged)
    with EventStore(project.config.events_db) as store:
        before = store.dump_rows()
        store.rebuild([])  # an empty index: what the others get must come from their files
    outcome = run_main(monkeypatch, "-C", str(project.root), "events", "reindex")
    assert outcome.code == 1, outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert f"{damaged.resolve()}, line 2: not an event" in " ".join(outcome.stderr.split())
    assert "Indexed 6 event(s) of 2 run(s)" in outcome.stdout
    with EventStore(project.config.events_db) as store:
        after = store.dump_rows()
    assert after[0] == [row for row in before[0] if row[0] != project.run_ids[1]]
    assert {row[0] for row in after[1]} == {project.run_ids[0], project.run_ids[2]}


def test_a_damaged_run_keeps_what_the_index_had_for_it(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    damage_second_line(project.events_file(project.run_ids[0]))
    with EventStore(project.config.events_db) as store:
        before = store.dump_rows()
    outcome = run_main(monkeypatch, "-C", str(project.root), "events", "reindex", "--json")
    assert outcome.code == 1
    document = json.loads(outcome.stdout)
    assert (document["runs"], document["events"]) == (2, 6)
    assert document["skipped"] == [
        {
            "file": str(project.events_file(project.run_ids[0]).resolve()),
            "line": 2,
            "reason": document["skipped"][0]["reason"],
        }
    ]
    assert document["skipped"][0]["reason"].startswith("not an event (Invalid JSON")
    with EventStore(project.config.events_db) as store:
        assert store.dump_rows() == before


def test_reindex_without_damage_exits_0_and_reports_nothing_skipped(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = run_main(monkeypatch, "-C", str(project.root), "events", "reindex", "--json")
    assert outcome.code == 0, outcome.stderr
    assert json.loads(outcome.stdout)["skipped"] == []


# --- bounded query options -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--limit", "99999999999999999999"),
        ("--limit", "100001"),
        ("--since-seq", "99999999999999999999"),
        ("--since-seq", str(2**63)),
    ],
)
def test_huge_query_options_are_a_clear_exit_2(
    project: Project, monkeypatch: pytest.MonkeyPatch, option: str, value: str
) -> None:
    outcome = run_main(monkeypatch, "-C", str(project.root), "events", "query", option, value)
    assert outcome.code == 2
    assert "Traceback" not in outcome.stderr
    assert "OverflowError" not in outcome.stderr
    message = " ".join(outcome.stderr.replace("│", " ").split())
    assert f"Invalid value for '{option}'" in message
    assert "less than or equal to" in message
    assert outcome.stdout == ""


def test_the_largest_query_options_are_accepted(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["-C", str(project.root), "events", "query", "--json"]
    outcome = run_main(monkeypatch, *args, "--limit", "100000", "--since-seq", str(2**63 - 1))
    assert outcome.code == 0, outcome.stderr
    assert json.loads(outcome.stdout) == []
    everything = run_main(monkeypatch, *args, "--limit", "100000", "--since-seq", "0")
    assert len(json.loads(everything.stdout)) == 9


# --- user text is printed as it is ---------------------------------------------------------------


def test_markup_in_an_unknown_run_id_is_printed_literally(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    for run_id in ("[/x]", "[bold]run[/bold]"):
        outcome = run_main(monkeypatch, "-C", str(project.root), "events", "query", "--run", run_id)
        assert outcome.code == 2
        assert "Traceback" not in outcome.stderr
        assert f"no run {run_id!r}" in outcome.stderr


def test_markup_in_events_is_printed_literally(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = project.run_ids[1]
    table = run_main(monkeypatch, "-C", str(project.root), "events", "query", "--run", run_id)
    assert table.code == 0, table.stderr
    assert "second [bold]third[/bold] [/x]" in table.stdout
    assert "message=[red]half[/red] way" in table.stdout
    timeline = run_main(monkeypatch, "-C", str(project.root), "events", "timeline", run_id)
    assert timeline.code == 0, timeline.stderr
    assert "second [bold]third[/bold] [/x]" in timeline.stdout


def test_markup_in_a_damaged_file_s_path_is_printed_literally(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = project.events_file(project.run_ids[2])
    odd = events.parent.with_name("2000-01-01-[bold]x[red]")
    events.parent.rename(odd)
    damage_second_line(odd / "events.jsonl")
    outcome = run_main(monkeypatch, "-C", str(project.root), "events", "reindex")
    assert outcome.code == 1, outcome.stderr
    assert f"{(odd / 'events.jsonl').resolve()}, line 2" in " ".join(outcome.stderr.split())
