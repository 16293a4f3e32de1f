"""The `init`, `runs` and `events` commands, on real projects with real runs, events and SQLite.

Runs are made the way the product makes them: a run dir from ``create_run``, events emitted
through a real ``EventBus`` into its ``events.jsonl`` and the project's index. Successful
commands go through typer's ``CliRunner``; error paths go through ``main()`` (what the console
script runs), so the exit code and the message on stderr are the real ones; a few tests run the
console script in a subprocess to prove exit codes and that ``--json`` stdout is pure JSON.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from orchestrator import __version__
from orchestrator.cli import app
from orchestrator.config import ProjectConfig, load_config
from orchestrator.events import EventBus, EventStore
from orchestrator.logs import OUR_LOGGER, QUIET_LOGGERS
from orchestrator.runs import RunKind, create_run, mark_run_finished
from orchestrator.scaffold import init_project
from tests.cli_support import Outcome, run_main

NOW = datetime.now(UTC)

# (event type, payload, actor, extra correlation): a UI run with two workers, one of which fails.
UI_EVENTS: list[tuple[str, dict[str, Any], str, dict[str, str]]] = [
    ("conductor.task.started", {"status": "running"}, "conductor", {}),
    ("conductor.worker.call", {"worker_type": "driver", "worker_objective": "capture", "call_id": "c1"},
     "conductor", {}),
    ("worker.task.started", {"task_id": "t1", "worker_id": "w1", "call_id": "c1", "phase": "capture",
                             "objective": "capture routes"}, "driver", {}),
    ("worker.tool.call", {"tool_trace_id": "tt1", "tool_name": "screenshot", "args_summary": "route=/"},
     "driver", {"task_id": "t1"}),
    ("worker.tool.result", {"tool_trace_id": "tt1", "tool_name": "screenshot", "success": True,
                            "duration_ms": 12.5}, "driver", {"task_id": "t1"}),
    ("llm.call.completed", {"trace_id": "tr1", "model": "m", "provider": "p", "duration_ms": 40.0,
                            "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}},
     "evaluator", {}),
    ("worker.task.completed", {"task_id": "t1", "worker_id": "w1", "phase": "capture", "summary": "ok"},
     "driver", {}),
    ("worker.task.started", {"task_id": "t2", "worker_id": "w2", "call_id": "c2", "phase": "evaluate",
                             "objective": "apply rubric"}, "evaluator", {}),
    ("worker.task.failed", {"task_id": "t2", "worker_id": "w2", "phase": "evaluate", "error": "boom"},
     "evaluator", {}),
    ("conductor.worker.result", {"worker_type": "driver", "success": True, "result_summary": "captured"},
     "conductor", {}),
    ("conductor.task.completed", {"status": "completed"}, "conductor", {}),
]  # fmt: skip
UI_COUNTS = {"conductor_decisions": 3, "agent_objectives": 2, "agent_conduct": 3, "agent_results": 3}

SCENARIO_EVENTS: list[tuple[str, dict[str, Any], str, dict[str, str]]] = [
    ("conductor.task.started", {"status": "running"}, "conductor", {}),
    ("trajectory.api_call", {"service": "stripe", "method": "POST", "path": "/v1/charges",
                             "request_summary": "amount=5", "response_code": 503,
                             "response_summary": "unavailable", "duration_ms": 3.0,
                             "chaos": {"mode": "error_503", "probability": 0.2, "seed": 7}}, "runner", {}),
    ("trajectory.error", {"error": "payment failed"}, "runner", {}),
    ("conductor.task.failed", {"status": "failed", "error_code": "worker_failed",
                               "error_message": "trajectory failed"}, "conductor", {}),
]  # fmt: skip


@dataclass(frozen=True)
class Project:
    config: ProjectConfig
    ui_run: str  # completed, 11 events, created 3 h ago
    scenario_run: str  # failed, 4 events, created 2 h ago
    live_run: str  # still running, 1 event, created 1 h ago

    @property
    def root(self) -> Path:
        return self.config.root


def _record_run(
    bus: EventBus,
    config: ProjectConfig,
    kind: RunKind,
    created: datetime,
    events: list[tuple[str, dict[str, Any], str, dict[str, str]]],
    *,
    final: str | None,
) -> str:
    root = config.ui_runs_dir if kind == "ui" else config.scenario_runs_dir
    run = create_run(root, kind, target="web" if kind == "ui" else None, now=created)
    bus.open_run(run.run_id, run.events_path)
    for event_type, payload, actor, correlation in events:
        bus.emit(event_type, payload, actor=actor, correlation={"run_id": run.run_id, **correlation})
    bus.flush()
    bus.close_run(run.run_id)
    if final is not None:
        mark_run_finished(run, final)
    return run.run_id


def build_project(root: Path) -> Project:
    """A project with three runs whose events went through a real bus into JSONL and SQLite."""
    init_project(root)
    config = load_config(root, env={})
    # Durations are measured against the real clock when runs finish, so "now" is taken here,
    # when the project is built, not when this module was imported.
    now = datetime.now(UTC)
    with EventBus(config.events_db) as bus:
        ui = _record_run(bus, config, "ui", now - timedelta(hours=3), UI_EVENTS, final="completed")
        scenario = _record_run(
            bus, config, "scenario", now - timedelta(hours=2), SCENARIO_EVENTS, final="failed"
        )
        live = _record_run(bus, config, "ui", now - timedelta(hours=1), UI_EVENTS[:1], final=None)
    return Project(config=config, ui_run=ui, scenario_run=scenario, live_run=live)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ORCHESTRATE_* settings from the outside; logging set back after each CLI call."""
    for name in list(os.environ):
        if name.upper().startswith("ORCHESTRATE_"):
            monkeypatch.delenv(name)
    loggers = [logging.getLogger(name) for name in ("", OUR_LOGGER, *QUIET_LOGGERS)]
    saved = [(logger, logger.handlers[:], logger.level) for logger in loggers]
    yield
    structlog.reset_defaults()
    for logger, handlers, level in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project only read from (tests that change a project build their own)."""
    return build_project(tmp_path_factory.mktemp("shared") / "proj")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return build_project(tmp_path / "proj")


def invoke(*args: str) -> Outcome:
    """Run the app through typer's CliRunner; stdout and stderr are kept apart."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ORCHESTRATE_")}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


# --- root, help ----------------------------------------------------------------------------------


def test_version() -> None:
    outcome = invoke("--version")
    assert outcome.code == 0
    assert outcome.stdout.strip() == f"orchestrate {__version__}"


COMMANDS = [
    ["init"],
    ["test"],
    ["runs"],
    ["runs", "list"],
    ["runs", "show"],
    ["runs", "prune"],
    ["events"],
    ["events", "query"],
    ["events", "timeline"],
    ["events", "reindex"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    outcome = invoke(*command, "--help")
    assert outcome.code == 0
    assert "Usage:" in outcome.stdout
    if len(command) == 2 or command == ["init"]:
        assert f"Example: orchestrate {' '.join(command)}" in outcome.stdout


def test_root_help_lists_the_groups() -> None:
    outcome = invoke("--help")
    assert outcome.code == 0
    for name in ("init", "runs", "events"):
        assert name in outcome.stdout


# --- init ----------------------------------------------------------------------------------------


def test_init_twice_keeps_everything(tmp_path: Path) -> None:
    root = tmp_path / "new"
    first = invoke("init", str(root))
    assert first.code == 0
    assert f"Initialised the project at {root}" in first.stdout
    assert "created orchestrate.toml" in first.stdout
    assert "created .orchestrator/policy/retention.yaml" in first.stdout
    (root / "orchestrate.toml").write_text("[project]\nname = 'mine'\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}

    second = invoke("init", str(root), "--json")
    assert second.code == 0
    document = json.loads(second.stdout)
    assert document["created"] == []
    assert document["root"] == str(root)
    assert document["kept"] == [
        str(root / name)
        for name in (
            ".orchestrator/policy",
            ".scenarios/catalog",
            ".scenarios/twins",
            "orchestrate.toml",
            ".scenarios/catalog/example",
            ".scenarios/catalog/example/ask-for-help.scenario.yaml",
            ".orchestrator/policy/test-profiles.yaml",
            ".orchestrator/policy/retention.yaml",
        )
    ]
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before

    third = invoke("init", str(root))
    assert "already initialised; nothing was changed" in third.stdout
    assert "kept    orchestrate.toml" in third.stdout


def test_init_next_steps_name_commands_that_exist(tmp_path: Path) -> None:
    outcome = invoke("init", str(tmp_path / "new"))
    assert outcome.code == 0
    steps = outcome.stdout.split("Next:\n", 1)[1].splitlines()
    assert steps[0].startswith("  1. Fill in [targets.web] in orchestrate.toml: base_url")
    commands = re.findall(r"`orchestrate ([a-z -]+)`", "\n".join(steps))
    assert commands == ["test", "runs list", "issues list", "catalog", "validate"]
    for command in commands:
        helped = invoke(*command.split(), "--help")
        assert helped.code == 0, command
        assert "Usage: orchestrate " + command in " ".join(helped.stdout.split())
    document = json.loads(invoke("init", str(tmp_path / "other"), "--json").stdout)
    assert document["next"][1].startswith("Run `orchestrate test`")


def test_init_uses_the_project_option(tmp_path: Path) -> None:
    outcome = invoke("-C", str(tmp_path), "init")
    assert outcome.code == 0
    assert (tmp_path / "orchestrate.toml").is_file()


def test_init_where_a_file_is_in_the_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".scenarios").write_text("not a dir", encoding="utf-8")
    outcome = run_main(monkeypatch, "init", str(tmp_path))
    assert outcome.code == 2
    assert ".scenarios" in outcome.stderr
    assert "is in the way" in outcome.stderr


# --- runs list -----------------------------------------------------------------------------------


def test_runs_list_json_newest_first_with_event_counts(shared: Project) -> None:
    outcome = invoke("-C", str(shared.root), "runs", "list", "--json")
    assert outcome.code == 0
    runs = json.loads(outcome.stdout)
    assert [r["run_id"] for r in runs] == [shared.live_run, shared.scenario_run, shared.ui_run]
    by_id = {r["run_id"]: r for r in runs}
    assert by_id[shared.ui_run]["kind"] == "ui"
    assert by_id[shared.ui_run]["status"] == "completed"
    assert by_id[shared.ui_run]["event_count"] == len(UI_EVENTS)
    assert by_id[shared.ui_run]["duration_ms"] >= 3 * 3600 * 1000 - 1000
    assert by_id[shared.scenario_run]["kind"] == "scenario"
    assert by_id[shared.scenario_run]["indexed_status"] == "failed"
    assert by_id[shared.live_run]["status"] == "running"
    assert by_id[shared.live_run]["duration_ms"] is None


def test_runs_list_table_and_kind_filter(shared: Project) -> None:
    outcome = invoke("-C", str(shared.root), "runs", "list")
    lines = outcome.stdout.splitlines()
    assert lines[0].split() == ["run", "kind", "status", "created", "duration", "events"]
    assert lines[1].startswith(shared.live_run)
    assert lines[2].split()[:3] == [shared.scenario_run, "scenario", "failed"]
    assert lines[2].split()[-1] == str(len(SCENARIO_EVENTS))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lines[2].split()[3])
    assert lines[2].split()[4] == "2h00m"  # created 2 h before it was finished

    only_scenarios = json.loads(
        invoke("-C", str(shared.root), "runs", "list", "--kind", "scenario", "--json").stdout
    )
    assert [r["run_id"] for r in only_scenarios] == [shared.scenario_run]
    only_ui = json.loads(invoke("-C", str(shared.root), "runs", "list", "--kind", "ui", "--json").stdout)
    assert [r["run_id"] for r in only_ui] == [shared.live_run, shared.ui_run]


def test_runs_list_without_an_index_leaves_counts_blank_and_creates_nothing(project: Project) -> None:
    for path in project.root.joinpath(".orchestrator").glob("events.db*"):
        path.unlink()
    before = tree(project.root)
    runs = json.loads(invoke("-C", str(project.root), "runs", "list", "--json").stdout)
    assert len(runs) == 3
    assert {r["event_count"] for r in runs} == {None}
    table = invoke("-C", str(project.root), "runs", "list").stdout
    scenario_row = table.splitlines()[2].split()
    # run, kind, status, created, duration; the events cell is blank
    assert scenario_row[:3] == [project.scenario_run, "scenario", "failed"]
    assert len(scenario_row) == 5
    assert tree(project.root) == before


def test_runs_list_in_an_empty_project(tmp_path: Path) -> None:
    assert invoke("-C", str(tmp_path), "runs", "list").stdout == "No runs yet.\n"
    assert json.loads(invoke("-C", str(tmp_path), "runs", "list", "--json").stdout) == []
    assert list(tmp_path.iterdir()) == []


# --- runs show -----------------------------------------------------------------------------------


def test_runs_show_json(shared: Project) -> None:
    outcome = invoke("-C", str(shared.root), "runs", "show", shared.ui_run, "--json")
    assert outcome.code == 0
    document = json.loads(outcome.stdout)
    assert document["manifest"]["run_id"] == shared.ui_run
    assert document["manifest"]["status"] == "completed"
    assert document["path"] == str(shared.config.ui_runs_dir / shared.ui_run)
    assert document["index"]["event_count"] == len(UI_EVENTS)
    assert document["index"]["status"] == "completed"
    assert document["timeline"]["counts"] == UI_COUNTS
    assert document["timeline"]["worker_count"] == 2
    assert document["timeline"]["worker_failures"] == 1


def test_runs_show_text(shared: Project) -> None:
    outcome = invoke("-C", str(shared.root), "runs", "show", shared.scenario_run)
    assert outcome.code == 0
    text = outcome.stdout
    assert f"Run {shared.scenario_run}" in text
    assert f"dir:      {shared.config.scenario_runs_dir / shared.scenario_run}" in text
    assert f"events:   {len(SCENARIO_EVENTS)} indexed, status failed" in text
    assert "conductor_decisions 2, agent_objectives 0, agent_conduct 2, agent_results 0" in text
    assert "error:    worker_failed trajectory failed" in text
    assert "Manifest (run.json):" in text
    assert "  kind: scenario" in text


def test_runs_show_unknown_run_names_close_ids(shared: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    typo = shared.ui_run[:-2]
    outcome = run_main(monkeypatch, "-C", str(shared.root), "runs", "show", typo)
    assert outcome.code == 2
    assert outcome.stdout == ""
    assert f"no run {typo!r}" in outcome.stderr
    assert "Close ids:" in outcome.stderr
    assert shared.ui_run in outcome.stderr


# --- runs prune ----------------------------------------------------------------------------------


def _aged_runs(root: Path) -> dict[str, str]:
    """Runs created 40 and 10 days ago (finished) and 40 days ago (never finished)."""
    config = load_config(root, env={})
    made = {}
    for name, days, final in (("old", 40, "completed"), ("recent", 10, "completed"), ("stale", 40, None)):
        run = create_run(config.ui_runs_dir, "ui", target=name, now=NOW - timedelta(days=days))
        if final is not None:
            mark_run_finished(run, final)
        made[name] = run.run_id
    return made


def test_prune_dry_run_deletes_nothing(project: Project) -> None:
    aged = _aged_runs(project.root)
    before = tree(project.root)
    outcome = invoke("-C", str(project.root), "runs", "prune")
    assert outcome.code == 0
    assert "Dry run: 2 run(s) older than 30d (retention policy) would be deleted" in outcome.stdout
    assert "Pass --yes" in outcome.stdout
    assert aged["old"] in outcome.stdout
    assert aged["stale"] in outcome.stdout
    assert aged["recent"] not in outcome.stdout
    assert tree(project.root) == before


def test_prune_yes_deletes_only_old_runs(project: Project) -> None:
    aged = _aged_runs(project.root)
    outcome = invoke("-C", str(project.root), "runs", "prune", "--yes", "--json")
    assert outcome.code == 0
    document = json.loads(outcome.stdout)
    assert document["dry_run"] is False
    assert document["older_than"] == "30d"
    assert document["older_than_source"] == "retention policy"
    assert document["deleted"] == 2
    assert sorted(r["run_id"] for r in document["runs"]) == sorted([aged["old"], aged["stale"]])
    left = sorted(p.name for p in project.config.ui_runs_dir.iterdir())
    assert left == sorted([aged["recent"], project.ui_run, project.live_run])


def test_prune_honours_the_project_retention_policy(project: Project) -> None:
    aged = _aged_runs(project.root)
    (project.config.policy_dir / "retention.yaml").write_text("retention_days: 5\n", encoding="utf-8")
    outcome = invoke("-C", str(project.root), "runs", "prune", "--json")
    document = json.loads(outcome.stdout)
    assert document["older_than"] == "5d"
    assert document["dry_run"] is True
    assert document["deleted"] == 0
    assert sorted(r["run_id"] for r in document["runs"]) == sorted(aged.values())
    assert all((project.config.ui_runs_dir / run_id).is_dir() for run_id in aged.values())


def test_prune_older_than_option(project: Project) -> None:
    outcome = invoke("-C", str(project.root), "runs", "prune", "--older-than", "90m", "--yes")
    assert outcome.code == 0
    # The 3 h old UI run and the 2 h old scenario run go; the live run is 1 h old and stays.
    assert "Deleted 2 run(s) older than 90m (--older-than)." in outcome.stdout
    assert not (project.config.ui_runs_dir / project.ui_run).exists()
    assert not (project.config.scenario_runs_dir / project.scenario_run).exists()
    assert (project.config.ui_runs_dir / project.live_run).is_dir()
    assert (
        "No runs older than 1000000000w"
        in invoke("-C", str(project.root), "runs", "prune", "--older-than", "1000000000w").stdout
    )


def test_prune_bad_age_is_exit_2(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree(project.root)
    outcome = run_main(monkeypatch, "-C", str(project.root), "runs", "prune", "--older-than", "30 days")
    assert outcome.code == 2
    assert "--older-than" in outcome.stderr
    assert "invalid age '30 days'" in outcome.stderr
    assert "for example 30d" in outcome.stderr
    assert tree(project.root) == before


def test_prune_bad_retention_policy_names_file_and_field(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = project.config.policy_dir / "retention.yaml"
    policy.write_text("retention_days: 0\n", encoding="utf-8")
    outcome = run_main(monkeypatch, "-C", str(project.root), "runs", "prune", "--yes")
    assert outcome.code == 2
    assert str(policy) in outcome.stderr
    assert "retention_days" in outcome.stderr
    assert (project.config.ui_runs_dir / project.ui_run).is_dir()


# --- bad configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["runs", "list"], ["runs", "prune", "--yes"], ["events", "reindex"], ["events", "query"]],
    ids=" ".join,
)
def test_invalid_config_is_exit_2_naming_file_and_field_and_writes_nothing(
    project: Project, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    config_file = project.root / "orchestrate.toml"
    config_file.write_text("[events]\nbatch_size = 0\n", encoding="utf-8")
    db = project.config.events_db
    before = tree(project.root)
    db_bytes = db.read_bytes()
    outcome = run_main(monkeypatch, "-C", str(project.root), *command)
    assert outcome.code == 2
    assert outcome.stdout == ""
    assert str(config_file) in outcome.stderr
    assert "events.batch_size" in outcome.stderr
    assert tree(project.root) == before
    assert db.read_bytes() == db_bytes


def test_missing_project_dir_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = run_main(monkeypatch, "-C", str(tmp_path / "nowhere"), "runs", "list")
    assert outcome.code == 2
    assert "does not exist" in outcome.stderr
    assert not (tmp_path / "nowhere").exists()


# --- events query --------------------------------------------------------------------------------


def query(project: Project, *args: str) -> list[dict[str, Any]]:
    outcome = invoke("-C", str(project.root), "events", "query", "--json", *args)
    assert outcome.code == 0, outcome.stderr
    events = json.loads(outcome.stdout)
    assert isinstance(events, list)
    return events


def test_query_everything_is_every_indexed_event(shared: Project) -> None:
    events = query(shared)
    assert len(events) == len(UI_EVENTS) + len(SCENARIO_EVENTS) + 1
    first = events[0]
    assert set(first) >= {"seq", "event_id", "timestamp", "event_type", "actor", "run_id", "payload"}
    assert (first["run_id"], first["seq"], first["event_type"]) == (
        shared.ui_run,
        1,
        "conductor.task.started",
    )


def test_query_filters(shared: Project) -> None:
    ui_run = query(shared, "--run", shared.ui_run)
    assert [e["seq"] for e in ui_run] == list(range(1, len(UI_EVENTS) + 1))
    assert [e["event_type"] for e in ui_run] == [t for t, *_ in UI_EVENTS]

    workers = query(shared, "--type-prefix", "worker.task.")
    assert [e["event_type"] for e in workers] == [
        "worker.task.started",
        "worker.task.completed",
        "worker.task.started",
        "worker.task.failed",
    ]
    conductor = query(shared, "--type-prefix", "conductor.task.", "--run", shared.scenario_run)
    assert [e["event_type"] for e in conductor] == ["conductor.task.started", "conductor.task.failed"]

    since = query(shared, "--run", shared.ui_run, "--since-seq", "8")
    assert [e["seq"] for e in since] == [9, 10, 11]

    limited = query(shared, "--run", shared.ui_run, "--since-seq", "2", "--limit", "3")
    assert [e["seq"] for e in limited] == [3, 4, 5]
    assert len(query(shared, "--limit", "2")) == 2
    assert query(shared, "--type-prefix", "nothing.") == []


def test_query_default_limit_is_100(project: Project) -> None:
    with EventBus(project.config.events_db) as bus:
        _record_run(bus, project.config, "ui", NOW, UI_EVENTS[:1] * 150, final="completed")
    assert len(query(project)) == 100
    assert len(query(project, "--limit", "500")) == 150 + len(UI_EVENTS) + len(SCENARIO_EVENTS) + 1


def test_query_table(shared: Project) -> None:
    outcome = invoke("-C", str(shared.root), "events", "query", "--run", shared.scenario_run)
    lines = outcome.stdout.splitlines()
    assert lines[0].split() == ["seq", "time", "type", "actor", "run", "payload"]
    assert len(lines) == 1 + len(SCENARIO_EVENTS)
    api_call = lines[2]
    assert api_call.split()[0] == "2"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", api_call.split()[1])
    assert "trajectory.api_call" in api_call
    assert shared.scenario_run in api_call
    assert "service=stripe method=POST" in api_call
    failed = invoke("-C", str(shared.root), "events", "query", "--type-prefix", "nothing.")
    assert failed.stdout == "No events match.\n"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--limit", "0"], "--limit"),
        (["--since-seq", "-1"], "--since-seq"),
        (["--limit", "many"], "--limit"),
    ],
)
def test_query_bad_options_are_exit_2(
    shared: Project, monkeypatch: pytest.MonkeyPatch, args: list[str], expected: str
) -> None:
    outcome = run_main(monkeypatch, "-C", str(shared.root), "events", "query", *args)
    assert outcome.code == 2
    assert expected in outcome.stderr
    assert outcome.stdout == ""


def test_query_unknown_run_names_close_ids(shared: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    typo = shared.scenario_run.replace("-0", "-9")
    outcome = run_main(monkeypatch, "-C", str(shared.root), "events", "query", "--run", typo)
    assert outcome.code == 2
    assert f"no run {typo!r}" in outcome.stderr
    assert shared.scenario_run in outcome.stderr


def test_query_and_timeline_without_an_index_say_how_to_fix(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in project.root.joinpath(".orchestrator").glob("events.db*"):
        path.unlink()
    before = tree(project.root)
    for command in (["events", "query"], ["events", "timeline", project.ui_run]):
        outcome = run_main(monkeypatch, "-C", str(project.root), *command)
        assert outcome.code == 2
        assert "no events indexed yet" in outcome.stderr
        assert "orchestrate events reindex" in outcome.stderr
    assert tree(project.root) == before


# --- events timeline -----------------------------------------------------------------------------


def test_timeline_json_categories(shared: Project) -> None:
    outcome = invoke("-C", str(shared.root), "events", "timeline", shared.ui_run, "--json")
    assert outcome.code == 0
    timeline = json.loads(outcome.stdout)
    assert timeline["run_id"] == shared.ui_run
    summary = timeline["summary"]
    assert summary["status"] == "completed"
    assert summary["counts"] == UI_COUNTS
    assert (summary["worker_count"], summary["worker_failures"]) == (2, 1)
    assert summary["event_count"] == len(UI_EVENTS)
    assert summary["duration_ms"] >= 0
    categories = [(entry["event"]["event_type"], entry["category"]) for entry in timeline["events"]]
    assert categories == [
        ("conductor.task.started", "conductor_decisions"),
        ("conductor.worker.call", "conductor_decisions"),
        ("worker.task.started", "agent_objectives"),
        ("worker.tool.call", "agent_conduct"),
        ("worker.tool.result", "agent_conduct"),
        ("llm.call.completed", "agent_conduct"),
        ("worker.task.completed", "agent_results"),
        ("worker.task.started", "agent_objectives"),
        ("worker.task.failed", "agent_results"),
        ("conductor.worker.result", "agent_results"),
        ("conductor.task.completed", "conductor_decisions"),
    ]


def test_timeline_text(shared: Project) -> None:
    outcome = invoke("-C", str(shared.root), "events", "timeline", shared.scenario_run)
    assert outcome.code == 0
    lines = outcome.stdout.splitlines()
    assert lines[0] == f"Run {shared.scenario_run}: failed"
    assert "  error:    worker_failed trajectory failed" in lines
    assert "  counts:   conductor_decisions 2, agent_objectives 0, agent_conduct 2, agent_results 0" in lines
    header = next(i for i, line in enumerate(lines) if line.startswith("seq"))
    rows = [line.split()[:4] for line in lines[header + 1 :]]
    assert [(r[0], r[2], r[3]) for r in rows] == [
        ("1", "conductor_decisions", "conductor.task.started"),
        ("2", "agent_conduct", "trajectory.api_call"),
        ("3", "agent_conduct", "trajectory.error"),
        ("4", "conductor_decisions", "conductor.task.failed"),
    ]


def test_timeline_of_a_run_not_indexed_says_reindex(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = create_run(project.config.ui_runs_dir, "ui", target="unindexed")
    outcome = run_main(monkeypatch, "-C", str(project.root), "events", "timeline", run.run_id)
    assert outcome.code == 2
    assert f"the events of run {run.run_id!r} are not indexed yet" in outcome.stderr
    assert "orchestrate events reindex" in outcome.stderr

    missing = run_main(monkeypatch, "-C", str(project.root), "events", "timeline", "no-such-run")
    assert missing.code == 2
    assert "no run 'no-such-run'" in missing.stderr


# --- events reindex ------------------------------------------------------------------------------


def test_reindex_rebuilds_the_same_rows_as_the_live_index(project: Project) -> None:
    with EventStore(project.config.events_db) as store:
        live = store.dump_rows()
    assert len(live[0]) == len(UI_EVENTS) + len(SCENARIO_EVENTS) + 1
    for path in project.root.joinpath(".orchestrator").glob("events.db*"):
        path.unlink()

    outcome = invoke("-C", str(project.root), "events", "reindex")
    assert outcome.code == 0
    assert outcome.stdout == (
        f"Indexed {len(live[0])} event(s) of 3 run(s) into {project.config.events_db}.\n"
    )
    with EventStore(project.config.events_db) as store:
        assert store.dump_rows() == live

    again = json.loads(invoke("-C", str(project.root), "events", "reindex", "--json").stdout)
    assert again == {
        "db": str(project.config.events_db),
        "runs": 3,
        "events": len(live[0]),
        "torn_lines": [],
        "skipped": [],
    }
    with EventStore(project.config.events_db) as store:
        assert store.dump_rows() == live


def test_reindex_drops_pruned_runs_and_adds_unindexed_ones(project: Project) -> None:
    invoke("-C", str(project.root), "runs", "prune", "--older-than", "150m", "--yes")
    (project.config.scenario_runs_dir / "2000-01-01-001").mkdir()
    (project.config.scenario_runs_dir / "2000-01-01-001" / "events.jsonl").write_bytes(b"")
    document = json.loads(invoke("-C", str(project.root), "events", "reindex", "--json").stdout)
    assert (document["runs"], document["events"]) == (3, len(SCENARIO_EVENTS) + 1)
    runs = json.loads(invoke("-C", str(project.root), "runs", "list", "--json").stdout)
    assert {r["run_id"]: r["event_count"] for r in runs} == {
        project.live_run: 1,
        project.scenario_run: len(SCENARIO_EVENTS),
        "2000-01-01-001": 0,
    }


def test_reindex_skips_a_torn_last_line_with_a_warning(project: Project) -> None:
    events_file = project.config.ui_runs_dir / project.ui_run / "events.jsonl"
    with events_file.open("ab") as handle:
        handle.write(b'{"seq":12,"event_id":"x","timest')
    outcome = invoke("-C", str(project.root), "events", "reindex", "--json")
    assert outcome.code == 0
    document = json.loads(outcome.stdout)
    assert document["torn_lines"] == [f"{events_file.resolve()}:{len(UI_EVENTS) + 1}"]
    assert document["events"] == len(UI_EVENTS) + len(SCENARIO_EVENTS) + 1
    assert "warning: skipped a torn last line" in outcome.stderr
    assert str(events_file.resolve()) in outcome.stderr


def test_reindex_of_a_damaged_file_is_exit_1_and_keeps_its_rows(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    events_file = project.config.scenario_runs_dir / project.scenario_run / "events.jsonl"
    lines = events_file.read_text(encoding="utf-8").splitlines()
    events_file.write_text("\n".join([lines[0], "not json", *lines[2:]]) + "\n", encoding="utf-8")
    with EventStore(project.config.events_db) as store:
        before = store.dump_rows()
    outcome = run_main(monkeypatch, "-C", str(project.root), "events", "reindex")
    assert outcome.code == 1
    assert str(events_file.resolve()) in outcome.stderr
    assert "line 2" in outcome.stderr
    with EventStore(project.config.events_db) as store:
        assert store.dump_rows() == before


# --- the console script --------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_console_script_json_is_pure_and_exit_codes_are_real(shared: Project, tmp_path: Path) -> None:
    listed = run_script("-C", str(shared.root), "--log-json", "-v", "runs", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [
        shared.live_run,
        shared.scenario_run,
        shared.ui_run,
    ]

    timeline = run_script("events", "timeline", shared.ui_run, "--json", cwd=shared.root / ".scenarios")
    assert timeline.returncode == 0, timeline.stderr
    assert json.loads(timeline.stdout)["summary"]["counts"] == UI_COUNTS

    missing = run_script("-C", str(shared.root), "runs", "show", "nope", "--json", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stdout == ""
    assert "error: no run 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr

    version = run_script("--version", cwd=tmp_path)
    assert (version.returncode, version.stdout.strip()) == (0, f"orchestrate {__version__}")


@pytest.mark.timeout(120)
def test_console_script_reindex_warnings_go_to_stderr(project: Project, tmp_path: Path) -> None:
    events_file = project.config.ui_runs_dir / project.ui_run / "events.jsonl"
    with events_file.open("ab") as handle:
        handle.write(b'{"seq":12')
    done = run_script("-C", str(project.root), "--log-json", "events", "reindex", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["torn_lines"] == [f"{events_file.resolve()}:{len(UI_EVENTS) + 1}"]
    assert "skipped a torn last line" in done.stderr

    bad = run_script("-C", str(project.root), "runs", "prune", "--older-than", "soon", cwd=tmp_path)
    assert bad.returncode == 2
    assert "invalid age 'soon'" in bad.stderr
    assert bad.stdout == ""


@pytest.mark.timeout(120)
def test_console_script_draws_tables_on_a_terminal(shared: Project, tmp_path: Path) -> None:
    """With stdout on a real pseudo-terminal the list is a rich table rather than plain lines."""
    import pty
    import select

    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ORCHESTRATE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "-C", str(shared.root), "runs", "list"],
        cwd=tmp_path,
        env={**env, "COLUMNS": "160", "TERM": "xterm"},
        stdout=terminal,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 60)
            if not ready:
                pytest.fail("no output from the terminal within 60 s")
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process is done writing
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=60) == 0
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
        assert process.stderr is not None
        process.stderr.close()
    screen = b"".join(chunks).decode("utf-8", errors="replace")
    assert "━" in screen or "─" in screen  # box drawing: a table, not plain lines
    for run_id in (shared.ui_run, shared.scenario_run, shared.live_run):
        assert run_id in screen
