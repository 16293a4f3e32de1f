"""Atomic writes and locked JSON Lines appends, including real concurrent processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import BaseModel

from orchestrator.artifacts import (
    JsonlRead,
    append_jsonl_locked,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_jsonl,
)
from orchestrator.errors import ArtifactError

WRITERS = 8
LINES_PER_WRITER = 1000


class Sample(BaseModel):
    name: str
    at: datetime
    path: Path


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def _append_worker(path: str, writer: int, start: Any) -> None:
    """Runs in a separate process: wait for the others, then append one line per call, batches mixed in."""
    start.wait(timeout=60)  # all writers begin together, so their appends really contend
    i = 0
    while i < LINES_PER_WRITER:
        # Mostly single lines, sometimes a batch, so single writes and multi-line writes race each other.
        size = 1 if i % 10 else min(7, LINES_PER_WRITER - i)
        records = [{"writer": writer, "i": i + k, "pad": "x" * ((i + k) % 50)} for k in range(size)]
        assert append_jsonl_locked(Path(path), records) == size
        i += size


# --- atomic writes -------------------------------------------------------------------------------


def test_atomic_write_json_format_and_parent_dirs(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "doc.json"
    atomic_write_json(target, {"z": 1, "a": [1, 2], "when": datetime(2024, 5, 1, tzinfo=UTC), "é": "ü"})
    text = target.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text.startswith('{\n  "z": 1,\n  "a": [')  # indent 2, insertion order kept
    assert json.loads(text) == {"z": 1, "a": [1, 2], "when": "2024-05-01T00:00:00Z", "é": "ü"}
    assert _leftovers(target.parent) == []


def test_atomic_write_json_accepts_pydantic_models(tmp_path: Path) -> None:
    target = tmp_path / "model.json"
    atomic_write_json(
        target, Sample(name="n", at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), path=Path("x/y"))
    )
    assert json.loads(target.read_text()) == {"name": "n", "at": "2024-01-02T03:04:05Z", "path": "x/y"}


def test_atomic_write_replaces_text_and_bytes(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    atomic_write_text(target, "first\n")
    atomic_write_text(target, "second ✓\n")
    assert target.read_text(encoding="utf-8") == "second ✓\n"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert _leftovers(tmp_path) == []


def test_unserializable_document_keeps_old_content(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    atomic_write_json(target, {"version": 1})
    before = target.read_bytes()
    with pytest.raises(ArtifactError, match=r"doc\.json.*not JSON-serializable"):
        atomic_write_json(target, {"version": 2, "bad": object()})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.json"]


def test_failure_after_temp_file_written_removes_it(tmp_path: Path) -> None:
    # A directory in the way makes os.replace fail after the temp file was fully written and fsynced.
    target = tmp_path / "occupied"
    target.mkdir()
    (target / "keep.txt").write_text("still here")
    with pytest.raises(ArtifactError, match="occupied"):
        atomic_write_bytes(target, b"new content")
    assert (target / "keep.txt").read_text() == "still here"
    assert _leftovers(tmp_path) == []


def test_failure_while_writing_temp_file_keeps_old_content(tmp_path: Path) -> None:
    # A str where bytes belong fails inside the write itself, after the temp file was created.
    target = tmp_path / "state.json"
    atomic_write_text(target, "old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, cast(bytes, "not bytes"))
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_new_file_gets_umask_permissions_not_0600(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "shared.txt", "x")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "shared.txt").stat().st_mode) == 0o644


def test_parent_that_is_a_file_is_an_artifact_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArtifactError, match="cannot write"):
        atomic_write_text(tmp_path / "file" / "child.txt", "y")


# --- JSON Lines ----------------------------------------------------------------------------------


def test_append_returns_count_and_dumps_models_in_json_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "events.jsonl"
    when = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    written = append_jsonl_locked(path, [{"a": 1}, Sample(name="m", at=when, path=Path("p")), {"when": when}])
    assert written == 3
    assert append_jsonl_locked(path, [{"b": "line\u2028separator"}]) == 1
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert len(lines) == 5
    assert read_jsonl(path) == JsonlRead(
        records=[
            {"a": 1},
            {"name": "m", "at": "2024-06-01T12:00:00Z", "path": "p"},
            {"when": "2024-06-01T12:00:00Z"},
            {"b": "line\u2028separator"},
        ],
        torn_last_line=False,
    )


def test_append_nothing_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    assert append_jsonl_locked(path, []) == 0
    assert not path.exists()


def test_unserializable_record_appends_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    append_jsonl_locked(path, [{"ok": 1}])
    with pytest.raises(ArtifactError, match=r"events\.jsonl.*not JSON-serializable"):
        append_jsonl_locked(path, [{"ok": 2}, {"bad": object()}])
    assert read_jsonl(path).records == [{"ok": 1}]


def test_append_cuts_a_torn_fragment_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": "half wri')
    assert read_jsonl(path) == JsonlRead(records=[{"a": 1}], torn_last_line=True)
    append_jsonl_locked(path, [{"c": 3}])
    assert read_jsonl(path) == JsonlRead(records=[{"a": 1}, {"c": 3}], torn_last_line=False)


def test_append_completes_a_whole_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}')
    append_jsonl_locked(path, [{"c": 3}])
    assert read_jsonl(path).records == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_append_cuts_a_fragment_that_is_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"torn": "x' * 10_000)  # longer than one tail chunk, no newline at all
    append_jsonl_locked(path, [{"c": 3}])
    assert path.read_bytes() == b'{"c":3}\n'


def test_read_jsonl_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"b": 2}\n{"c": \xe2\x82\n')  # cut inside a UTF-8 character
    result = read_jsonl(path)
    assert result.records == [{"a": 1}, {"b": 2}]
    assert result.torn_last_line is True


def test_read_jsonl_bad_middle_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\nnot json\n{"a": 4}\n')
    with pytest.raises(ArtifactError, match=r"events\.jsonl: line 3 is not valid JSON"):
        read_jsonl(path)


def test_read_jsonl_non_object_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(ArtifactError, match="line 2 is a JSON list"):
        read_jsonl(path)


def test_read_jsonl_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        read_jsonl(tmp_path / "nope.jsonl")
    assert read_jsonl(tmp_path / "nope.jsonl", missing_ok=True) == JsonlRead()


def test_threads_in_one_process_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "threads.jsonl"
    barrier = threading.Barrier(4, timeout=30)

    def work(t: int) -> None:
        barrier.wait()
        for i in range(100):
            append_jsonl_locked(path, [{"t": t, "i": i, "pad": "y" * 3000}])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    result = read_jsonl(path)
    assert not result.torn_last_line
    assert sorted((r["t"], r["i"]) for r in result.records) == [(t, i) for t in range(4) for i in range(100)]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_concurrent_processes_lose_and_interleave_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WRITERS)
    workers = [ctx.Process(target=_append_worker, args=(str(path), w, start)) for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=100)
    assert [worker.exitcode for worker in workers] == [0] * WRITERS

    raw_lines = path.read_bytes().split(b"\n")
    assert raw_lines[-1] == b""
    lines = raw_lines[:-1]
    assert len(lines) == WRITERS * LINES_PER_WRITER
    parsed = [json.loads(line) for line in lines]
    pairs = [(record["writer"], record["i"]) for record in parsed]
    assert len(set(pairs)) == len(pairs)
    assert set(pairs) == {(w, i) for w in range(WRITERS) for i in range(LINES_PER_WRITER)}
    # Each writer's lines appear in the order it wrote them.
    for w in range(WRITERS):
        assert [i for writer, i in pairs if writer == w] == list(range(LINES_PER_WRITER))
    result = read_jsonl(path)
    assert len(result.records) == WRITERS * LINES_PER_WRITER
    assert not result.torn_last_line
