"""Run ids, run dirs, listing, finding and pruning, including creation races between real processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from orchestrator.errors import ArtifactError, RunNotFoundError, UsageError
from orchestrator.runs import (
    STALE_HEARTBEATS,
    RunDir,
    create_run,
    find_run,
    list_runs,
    mark_interrupted_runs,
    mark_run_finished,
    parse_age,
    prune_runs,
    read_run,
    touch_heartbeat,
)

FROZEN = datetime(2024, 3, 9, 23, 59, 59, 999_000, tzinfo=UTC)
FROZEN_MS = 1_710_028_799_999  # FROZEN as epoch milliseconds
PROCESSES = 4
RUNS_PER_PROCESS = 25


def _create_worker(root: str, kind: str, start: Any, results: Any) -> None:
    """Runs in a separate process: create runs at one frozen instant, report the ids made."""
    start.wait(timeout=60)
    ids = []
    for _ in range(RUNS_PER_PROCESS):
        if kind == "ui":
            run = create_run(Path(root), "ui", target="web", now=FROZEN)
        else:
            run = create_run(Path(root), "scenario", now=FROZEN)
        ids.append(run.run_id)
    results.put(ids)


def _race(root: Path, kind: str) -> list[str]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_create_worker, args=(str(root), kind, start, results)) for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    ids: list[str] = []
    for _ in workers:
        ids.extend(results.get(timeout=60))
    for worker in workers:
        worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    return ids


def _make_run(root: Path, name: str, created_at: datetime | None, status: str = "completed") -> Path:
    """A run dir as another process would have left it (created_at None: no manifest at all)."""
    path = root / name
    path.mkdir(parents=True)
    if created_at is not None:
        manifest = {"run_id": name, "kind": "ui", "target": "web", "created_at": created_at.isoformat()}
        (path / "run.json").write_text(json.dumps({**manifest, "status": status}))
    return path


# --- creating runs -------------------------------------------------------------------------------


def test_ui_run_id_dir_and_manifest(tmp_path: Path) -> None:
    root = tmp_path / ".orchestrator" / "runs"
    run = create_run(root, "ui", target="web", now=FROZEN, metadata={"profile": "smoke", "driver": "web"})
    millis = FROZEN_MS
    assert run == RunDir(run_id=f"web-{millis}", path=root / f"web-{millis}", kind="ui")
    assert run.events_path == run.path / "events.jsonl"
    assert run.manifest_path == run.path / "run.json"
    manifest = json.loads(run.manifest_path.read_text())
    assert manifest == {
        "run_id": f"web-{millis}",
        "kind": "ui",
        "target": "web",
        "created_at": "2024-03-09T23:59:59.999000+00:00",
        "status": "running",
        "owner": {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "boot_id": manifest["owner"]["boot_id"],
            "start_ticks": manifest["owner"]["start_ticks"],
            "pid_ns": manifest["owner"]["pid_ns"],
        },
        "profile": "smoke",
        "driver": "web",
    }
    assert list(manifest)[:6] == ["run_id", "kind", "target", "created_at", "status", "owner"]


def test_ui_collision_takes_the_next_millisecond(tmp_path: Path) -> None:
    millis = FROZEN_MS
    ids = [create_run(tmp_path, "ui", target="mac-app", now=FROZEN).run_id for _ in range(3)]
    assert ids == [f"mac-app-{millis}", f"mac-app-{millis + 1}", f"mac-app-{millis + 2}"]
    # Another target at the same instant does not collide.
    assert create_run(tmp_path, "ui", target="web", now=FROZEN).run_id == f"web-{millis}"


@pytest.mark.parametrize(
    "target", [None, "", "Web", "-web", ".hidden", "we b", "web/../x", "a" * 65, "web\n", "wéb"]
)
def test_invalid_target_is_a_usage_error(tmp_path: Path, target: str | None) -> None:
    with pytest.raises(UsageError, match=r"lowercase letters, digits.*for example 'web'"):
        create_run(tmp_path, "ui", target=target)
    assert list(tmp_path.iterdir()) == []


def test_longest_valid_target(tmp_path: Path) -> None:
    target = "a" + "b._-9" * 12 + "z" * 3  # 64 characters
    assert len(target) == 64
    assert create_run(tmp_path, "ui", target=target).run_id.startswith(target + "-")


def test_scenario_ids_are_dated_padded_and_per_day(tmp_path: Path) -> None:
    ids = [create_run(tmp_path, "scenario", now=FROZEN).run_id for _ in range(3)]
    assert ids == ["2024-03-09-001", "2024-03-09-002", "2024-03-09-003"]
    next_day = FROZEN + timedelta(milliseconds=1)
    assert create_run(tmp_path, "scenario", now=next_day).run_id == "2024-03-10-001"
    # The date is the UTC date, whatever zone `now` was given in.
    eastern = FROZEN.astimezone(ZoneInfo("America/New_York"))
    assert create_run(tmp_path, "scenario", now=eastern).run_id == "2024-03-09-004"
    manifest = json.loads((tmp_path / "2024-03-09-001" / "run.json").read_text())
    assert manifest["kind"] == "scenario"
    assert manifest["target"] is None


def test_scenario_seq_grows_past_999(tmp_path: Path) -> None:
    (tmp_path / ".run-sequence.json").write_text(json.dumps({"2024-03-09": 998}))
    ids = [create_run(tmp_path, "scenario", now=FROZEN).run_id for _ in range(3)]
    assert ids == ["2024-03-09-999", "2024-03-09-1000", "2024-03-09-1001"]


def test_scenario_seq_never_reused_after_deletion(tmp_path: Path) -> None:
    first = create_run(tmp_path, "scenario", now=FROZEN)
    second = create_run(tmp_path, "scenario", now=FROZEN)
    for run in (first, second):
        for child in run.path.iterdir():
            child.unlink()
        run.path.rmdir()
    assert create_run(tmp_path, "scenario", now=FROZEN).run_id == "2024-03-09-003"
    prune_runs([tmp_path], timedelta(0), now=FROZEN + timedelta(days=400), delete=True)
    assert list_runs([tmp_path]) == []
    assert create_run(tmp_path, "scenario", now=FROZEN).run_id == "2024-03-09-004"


def test_scenario_seq_survives_a_lost_sequence_file(tmp_path: Path) -> None:
    create_run(tmp_path, "scenario", now=FROZEN)
    create_run(tmp_path, "scenario", now=FROZEN)
    (tmp_path / ".run-sequence.json").write_text("{not json")
    # The dirs on disk still bound the sequence; the file is rewritten.
    assert create_run(tmp_path, "scenario", now=FROZEN).run_id == "2024-03-09-003"
    assert json.loads((tmp_path / ".run-sequence.json").read_text()) == {"2024-03-09": 3}


def test_existing_dir_is_never_overwritten(tmp_path: Path) -> None:
    squatter = tmp_path / "2024-03-09-001"
    squatter.mkdir()
    (squatter / "keep.txt").write_text("mine")
    assert create_run(tmp_path, "scenario", now=FROZEN).run_id == "2024-03-09-002"
    assert (squatter / "keep.txt").read_text() == "mine"
    assert not (squatter / "run.json").exists()


def test_metadata_may_not_override_manifest_fields(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="status"):
        create_run(tmp_path, "scenario", now=FROZEN, metadata={"status": "completed"})
    assert list(tmp_path.iterdir()) == []


def test_unserializable_metadata_leaves_no_run_dir(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError):
        create_run(tmp_path, "ui", target="web", now=FROZEN, metadata={"bad": object()})
    assert list_runs([tmp_path]) == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["scenario", "ui"])
def test_concurrent_processes_never_share_a_run(tmp_path: Path, kind: str) -> None:
    ids = _race(tmp_path, kind)
    total = PROCESSES * RUNS_PER_PROCESS
    assert len(ids) == total
    assert len(set(ids)) == total
    dirs = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert sorted(ids) == dirs
    for run_id in ids:
        assert json.loads((tmp_path / run_id / "run.json").read_text())["run_id"] == run_id
    if kind == "scenario":
        assert set(ids) == {f"2024-03-09-{seq:03d}" for seq in range(1, total + 1)}
    else:
        millis = FROZEN_MS
        assert set(ids) == {f"web-{millis + k}" for k in range(total)}


# --- finishing -----------------------------------------------------------------------------------


def test_mark_run_finished_rewrites_status_and_keeps_the_rest(tmp_path: Path) -> None:
    run = create_run(tmp_path, "ui", target="web", now=FROZEN, metadata={"profile": "smoke"})
    before = datetime.now(UTC)
    mark_run_finished(run, "completed", findings=3)
    manifest = json.loads(run.manifest_path.read_text())
    assert manifest["status"] == "completed"
    assert manifest["findings"] == 3
    assert manifest["profile"] == "smoke"
    assert manifest["created_at"] == FROZEN.isoformat()
    assert datetime.fromisoformat(manifest["finished_at"]) >= before - timedelta(seconds=1)
    info = find_run([tmp_path], run.run_id)
    assert info.status == "completed"
    assert info.finished_at is not None
    mark_run_finished(run.path, "failed", error_code="boom")  # a plain path works too
    assert find_run([tmp_path], run.run_id).manifest["error_code"] == "boom"


def test_mark_run_finished_rejects_bad_input(tmp_path: Path) -> None:
    run = create_run(tmp_path, "scenario", now=FROZEN)
    with pytest.raises(UsageError):
        mark_run_finished(run, "running")
    with pytest.raises(UsageError, match="run_id"):
        mark_run_finished(run, "completed", run_id="other")
    with pytest.raises(ArtifactError, match="missing"):
        mark_run_finished(tmp_path / "nowhere", "completed")
    assert json.loads(run.manifest_path.read_text())["status"] == "running"


# --- listing and finding -------------------------------------------------------------------------


def test_list_runs_newest_first_across_roots_and_tolerates_junk(tmp_path: Path) -> None:
    ui_root = tmp_path / ".orchestrator" / "runs"
    scenario_root = tmp_path / ".scenarios" / "runs"
    old = create_run(ui_root, "ui", target="web", now=FROZEN - timedelta(days=2))
    newer = create_run(scenario_root, "scenario", now=FROZEN)
    newest = create_run(ui_root, "ui", target="web", now=FROZEN + timedelta(hours=1))
    junk = ui_root / "half-made"
    junk.mkdir()
    mtime = (FROZEN - timedelta(days=1)).timestamp()
    os.utime(junk, (mtime, mtime))
    broken = _make_run(ui_root, "web-1", None)
    (broken / "run.json").write_text("{ truncated")
    os.utime(broken, (mtime - 10, mtime - 10))
    (ui_root / "stray-file.txt").write_text("not a run")
    (ui_root / ".hidden").mkdir()

    runs = list_runs([ui_root, scenario_root, tmp_path / "missing-root"])
    assert [r.run_id for r in runs] == [newest.run_id, newer.run_id, "half-made", "web-1", old.run_id]
    by_id = {r.run_id: r for r in runs}
    assert by_id["half-made"].status == "unknown"
    assert by_id["half-made"].kind == "unknown"
    assert by_id["half-made"].created_at == datetime.fromtimestamp(mtime, UTC)
    assert by_id["web-1"].status == "unknown"
    assert by_id[newer.run_id].kind == "scenario"
    assert by_id[newer.run_id].target is None
    assert by_id[old.run_id].target == "web"
    assert by_id[old.run_id].created_at == FROZEN - timedelta(days=2)
    assert by_id[old.run_id].status == "running"


def test_list_runs_orders_same_instant_by_sequence_value(tmp_path: Path) -> None:
    (tmp_path / ".run-sequence.json").write_text(json.dumps({"2024-03-09": 998}))
    for _ in range(3):
        create_run(tmp_path, "scenario", now=FROZEN)
    assert [r.run_id for r in list_runs([tmp_path])] == [
        "2024-03-09-1001",
        "2024-03-09-1000",
        "2024-03-09-999",
    ]


def test_find_run_returns_it_or_suggests_close_ids(tmp_path: Path) -> None:
    ui_root = tmp_path / "ui"
    scenario_root = tmp_path / "sc"
    for day in range(1, 8):
        create_run(scenario_root, "scenario", now=datetime(2024, 3, day, tzinfo=UTC))
    run = create_run(ui_root, "ui", target="web", now=FROZEN)
    assert find_run([ui_root, scenario_root], run.run_id).path == run.path
    assert find_run([ui_root, scenario_root], "2024-03-02-001").kind == "scenario"

    with pytest.raises(RunNotFoundError) as caught:
        find_run([ui_root, scenario_root], "2024-03-02-01")
    message = str(caught.value)
    assert "2024-03-02-01" in message
    assert "2024-03-02-001" in message
    assert len(message.split("Close ids: ")[1].split(", ")) == 5


def test_find_run_never_escapes_the_roots(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    create_run(root, "scenario", now=FROZEN)
    _make_run(tmp_path, "outside", FROZEN)
    (root / "linked").symlink_to(tmp_path / "outside")
    for bad in ["../outside", "linked", ".", "..", "", ".run-sequence.json"]:
        with pytest.raises(RunNotFoundError):
            find_run([root], bad)


def test_find_run_with_no_runs_says_so(tmp_path: Path) -> None:
    with pytest.raises(RunNotFoundError, match="no runs yet"):
        find_run([tmp_path / "empty"], "web-1")


# --- liveness ------------------------------------------------------------------------------------


def _rewrite(path: Path, **changes: Any) -> None:
    manifest = json.loads((path / "run.json").read_text())
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(manifest.get(key), dict):
            manifest[key] = {**manifest[key], **value}
        else:
            manifest[key] = value
    (path / "run.json").write_text(json.dumps(manifest))


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_a_run_of_a_live_process_is_running(tmp_path: Path) -> None:
    run = create_run(tmp_path, "ui", target="web")
    info = read_run(run.path)
    assert info is not None
    assert (info.status, info.interrupted_reason) == ("running", None)


def test_a_run_whose_process_is_gone_is_interrupted(tmp_path: Path) -> None:
    run = create_run(tmp_path, "ui", target="web")
    pid = _dead_pid()
    _rewrite(run.path, owner={"pid": pid, "start_ticks": None})
    [info] = list_runs([tmp_path])
    assert info.status == "interrupted"
    assert info.interrupted_reason == f"its process {pid} on {socket.gethostname()} is gone"
    assert json.loads(run.manifest_path.read_text())["status"] == "running"  # listing never writes


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="start times come from /proc")
def test_a_reused_pid_is_told_apart_by_its_start_time(tmp_path: Path) -> None:
    run = create_run(tmp_path, "ui", target="web")
    started = json.loads(run.manifest_path.read_text())["owner"]["start_ticks"]
    assert isinstance(started, int)
    _rewrite(run.path, owner={"start_ticks": started + 1})  # this pid, but another process
    info = read_run(run.path)
    assert info is not None and info.status == "interrupted"
    assert info.interrupted_reason is not None and "now belongs to another process" in info.interrupted_reason


@pytest.mark.skipif(not Path("/proc/sys/kernel/random/boot_id").is_file(), reason="boot ids come from /proc")
def test_a_run_from_an_earlier_boot_is_interrupted(tmp_path: Path) -> None:
    run = create_run(tmp_path, "ui", target="web")
    _rewrite(run.path, owner={"boot_id": "00000000-0000-0000-0000-000000000000"})
    info = read_run(run.path)
    assert info is not None and info.status == "interrupted"
    assert "machine restarted" in str(info.interrupted_reason)


def test_on_another_host_the_heartbeat_decides(tmp_path: Path) -> None:
    run = create_run(tmp_path, "ui", target="web")
    _rewrite(run.path, owner={"host": "elsewhere.example", "pid": 1})
    assert read_run(run.path).status == "running"  # type: ignore[union-attr]  # no heartbeat: cannot tell
    assert touch_heartbeat(run, 5.0)
    assert read_run(run.path).status == "running"  # type: ignore[union-attr]
    silent = datetime.now(UTC) - timedelta(seconds=STALE_HEARTBEATS * 5.0 + 30)
    _rewrite(run.path, heartbeat_at=silent.isoformat())
    info = read_run(run.path)
    assert info is not None and info.status == "interrupted"
    assert str(info.interrupted_reason).startswith(
        "no heartbeat from its process 1 on elsewhere.example for "
    )


def test_mark_interrupted_runs_rewrites_only_dead_runs_once(tmp_path: Path) -> None:
    live = create_run(tmp_path, "ui", target="web", now=FROZEN)
    dead = create_run(tmp_path, "ui", target="web", now=FROZEN + timedelta(seconds=1))
    done = create_run(tmp_path, "ui", target="web", now=FROZEN + timedelta(seconds=2))
    for run in (dead, done):
        _rewrite(run.path, owner={"pid": _dead_pid(), "start_ticks": None})
    mark_run_finished(done, "completed")
    touch_heartbeat(dead, 5.0)
    beat = json.loads(dead.manifest_path.read_text())["heartbeat_at"]

    marked = mark_interrupted_runs([str(tmp_path)])
    assert [r.run_id for r in marked] == [dead.run_id]
    assert marked[0].status == "interrupted"
    manifest = json.loads(dead.manifest_path.read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["finished_at"] == beat
    assert "is gone" in manifest["interrupted_reason"]
    assert json.loads(live.manifest_path.read_text())["status"] == "running"
    assert json.loads(done.manifest_path.read_text())["status"] == "completed"
    assert mark_interrupted_runs([tmp_path]) == []
    # A finished run is not touched by a late heartbeat.
    assert touch_heartbeat(done, 5.0) is False
    assert "heartbeat_at" not in json.loads(done.manifest_path.read_text())


def test_an_interrupted_run_is_pruned_like_a_finished_one(tmp_path: Path) -> None:
    run = create_run(tmp_path, "ui", target="web", now=FROZEN)
    _rewrite(run.path, owner={"pid": _dead_pid(), "start_ticks": None})
    # Not spared by the 24 h grace for running runs: its process is known to be gone.
    assert prune_runs([tmp_path], timedelta(hours=1), now=FROZEN + timedelta(hours=2)) == list_runs(
        [tmp_path]
    )


def test_paths_may_be_plain_strings(tmp_path: Path) -> None:
    root = str(tmp_path / "runs")
    run = create_run(root, "scenario", now=FROZEN)
    assert [r.run_id for r in list_runs([root])] == [run.run_id]
    assert find_run([root], run.run_id).path == run.path
    mark_run_finished(str(run.path), "completed")
    assert read_run(str(run.path)).status == "completed"  # type: ignore[union-attr]
    assert [r.run_id for r in prune_runs([root], timedelta(0), now=FROZEN + timedelta(days=1))] == [
        run.run_id
    ]


# --- retention -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        (" 7D ", timedelta(days=7)),
        ("0d", timedelta(0)),
    ],
)
def test_parse_age(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d", "-1d", "1.5d", "30 days", "1y", "3d4h"])
def test_parse_age_rejects_with_an_example(text: str) -> None:
    with pytest.raises(UsageError, match="for example 30d"):
        parse_age(text)


def test_prune_dry_run_then_delete(tmp_path: Path) -> None:
    now = FROZEN
    root = tmp_path / "runs"
    old_done = _make_run(root, "web-100", now - timedelta(days=40))
    old_failed = _make_run(root, "web-101", now - timedelta(days=31), status="failed")
    recent = _make_run(root, "web-102", now - timedelta(days=29))
    stale_running = _make_run(root, "web-103", now - timedelta(days=45), status="running")

    planned = prune_runs([root], timedelta(days=30), now=now)
    assert [r.run_id for r in planned] == ["web-101", "web-100", "web-103"]
    assert all(p.exists() for p in (old_done, old_failed, recent, stale_running))

    deleted = prune_runs([root], timedelta(days=30), now=now, delete=True)
    assert deleted == planned
    assert [r.run_id for r in list_runs([root])] == ["web-102"]
    assert recent.exists()


def test_prune_spares_a_running_run_younger_than_a_day(tmp_path: Path) -> None:
    now = FROZEN
    root = tmp_path / "runs"
    live = _make_run(root, "web-200", now - timedelta(hours=3), status="running")
    done = _make_run(root, "web-201", now - timedelta(hours=3), status="completed")
    abandoned = _make_run(root, "web-202", now - timedelta(hours=25), status="running")
    deleted = prune_runs([root], timedelta(hours=2), now=now, delete=True)
    assert sorted(r.run_id for r in deleted) == ["web-201", "web-202"]
    assert live.exists()
    assert not done.exists()
    assert not abandoned.exists()


def test_prune_never_follows_a_symlink_out_of_the_root(tmp_path: Path) -> None:
    now = FROZEN
    root = tmp_path / "runs"
    root.mkdir()
    outside = _make_run(tmp_path / "elsewhere", "precious", now - timedelta(days=365))
    (outside / "data.txt").write_text("keep me")
    (root / "web-300").symlink_to(outside, target_is_directory=True)
    # A real old run holding a symlink out: the link goes, its target stays.
    inner = _make_run(root, "web-301", now - timedelta(days=365))
    (inner / "evidence").symlink_to(outside, target_is_directory=True)

    deleted = prune_runs([root], timedelta(days=30), now=now, delete=True)
    assert [r.run_id for r in deleted] == ["web-301"]
    assert not inner.exists()
    assert (outside / "data.txt").read_text() == "keep me"
    assert (root / "web-300").is_symlink()


@pytest.mark.skipif(not Path("/proc/self/ns/pid").exists(), reason="Linux PID namespaces")
def test_an_owner_in_another_pid_namespace_is_judged_by_its_heartbeat(tmp_path: Path) -> None:
    # A container with the host's name has its own process table: its pid 1 says nothing here.
    run = create_run(tmp_path / "runs", "ui", target="web")
    _rewrite(run.path, owner={"pid": 1, "pid_ns": "pid:[1]"})
    touch_heartbeat(run, 5.0)
    assert mark_interrupted_runs([tmp_path / "runs"]) == []
