"""Safe file writes for artifacts: atomic replacement and locked JSON Lines appends.

Artifacts are what a run leaves behind (reports, manifests, findings, roll-ups), so a crash or a
second process must never leave one half-written:

- :func:`atomic_write_bytes` and friends write a temp file beside the target, fsync it and
  ``os.replace`` it over the target, so readers see the old content or the new, never a mix.
- :func:`append_jsonl_locked` appends whole lines under a file lock, so concurrent processes
  appending to the same JSON Lines file never lose or interleave a line.
- :func:`read_jsonl` reads such a file back and tolerates exactly one kind of damage: a torn
  final line left by a writer that died mid-write.

Values that plain ``json`` cannot encode (datetimes, paths, UUIDs, enums, pydantic models) are
encoded the way pydantic encodes them in JSON mode.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from filelock import FileLock, Timeout
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from orchestrator.errors import ArtifactError

StrPath = str | os.PathLike[str]
"""A path as users hold it: a ``str`` or any ``os.PathLike`` (``pathlib.Path``)."""

__all__ = [
    "JsonlRead",
    "StrPath",
    "append_jsonl_locked",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "lock_path_for",
    "read_jsonl",
]

_TAIL_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class JsonlRead:
    """What :func:`read_jsonl` found: the records, and whether a torn last line was skipped."""

    records: list[dict[str, Any]] = field(default_factory=list)
    torn_last_line: bool = False


def lock_path_for(path: StrPath) -> Path:
    """The lock file that guards appends to ``path`` (``<path>.lock``)."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def atomic_write_bytes(path: StrPath, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, creating parent directories as needed.

    The data goes to a temp file in the same directory (so the rename stays on one file system),
    is flushed and fsynced, then renamed over ``path``; the directory is fsynced too where the
    platform allows, so the rename survives a power cut. On any failure the temp file is removed
    and the previous content of ``path``, if any, is untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(path)
    except OSError as exc:
        raise ArtifactError(f"cannot write {path}: {exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise ArtifactError(f"cannot write {path}: {exc}") from exc
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: StrPath, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically; see :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: StrPath, document: Any) -> None:
    """Replace ``path`` with ``document`` as indented JSON plus a trailing newline, atomically.

    Keys keep their insertion order. A pydantic model is written as its JSON-mode dump. A document
    that cannot be encoded raises :class:`ArtifactError` before anything is written.
    """
    path = Path(path)
    try:
        text = json.dumps(_jsonable(document), indent=2, ensure_ascii=False, default=to_jsonable_python)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"cannot write {path}: the document is not JSON-serializable: {exc}") from exc
    atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def append_jsonl_locked(
    path: StrPath,
    records: Iterable[Mapping[str, Any] | BaseModel],
    *,
    lock_timeout: float = 60.0,
) -> int:
    """Append one JSON line per record to ``path`` under a lock on ``<path>.lock``; return the count.

    All lines are encoded first (an unencodable record raises :class:`ArtifactError` and nothing
    is appended), then written in one write while the lock is held, flushed and fsynced, so lines
    from concurrent processes are never lost or interleaved. If the file ends in a fragment left
    by a writer that died mid-write, the fragment is cut off first (it was never a whole record;
    :func:`read_jsonl` skips it too), so the new lines never glue onto it. Waiting longer than
    ``lock_timeout`` seconds for the lock raises :class:`ArtifactError`.
    """
    path = Path(path)
    payload = b"".join(_encode_line(path, record) for record in records)
    if not payload:
        return 0
    count = payload.count(b"\n")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(lock_path_for(path), timeout=lock_timeout), path.open("ab+") as fh:
            _repair_tail(fh)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
    except Timeout as exc:
        raise ArtifactError(
            f"cannot append to {path}: its lock {lock_path_for(path)} was held for more than "
            f"{lock_timeout:g} s by another process"
        ) from exc
    except OSError as exc:
        raise ArtifactError(f"cannot append to {path}: {exc}") from exc
    return count


def read_jsonl(path: StrPath, *, missing_ok: bool = False) -> JsonlRead:
    """Read a JSON Lines file written by :func:`append_jsonl_locked`.

    Every line must be a JSON object. Blank lines are ignored. The final line may be torn (a
    writer died or is still writing): it is skipped and ``torn_last_line`` is set. Any other
    unparseable line raises :class:`ArtifactError` naming the file and the line number. A missing
    file raises too, unless ``missing_ok``, which reads it as empty.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        if missing_ok:
            return JsonlRead()
        raise ArtifactError(f"cannot read {path}: the file does not exist") from exc
    except OSError as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from exc
    # Split on b"\n" only: str.splitlines would also split inside strings holding U+2028 and friends.
    lines = data.split(b"\n")
    last_index = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    records: list[dict[str, Any]] = []
    torn = False
    for index, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            if index == last_index:
                torn = True
                break
            raise ArtifactError(f"{path}: line {index + 1} is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise ArtifactError(
                f"{path}: line {index + 1} is a JSON {type(value).__name__}, expected an object like "
                '{"event_type": "..."}'
            )
        records.append(value)
    return JsonlRead(records=records, torn_last_line=torn)


def _jsonable(document: Any) -> Any:
    if isinstance(document, BaseModel):
        return document.model_dump(mode="json")
    return document


def _encode_line(path: Path, record: Mapping[str, Any] | BaseModel) -> bytes:
    try:
        text = json.dumps(
            _jsonable(record), ensure_ascii=False, separators=(",", ":"), default=to_jsonable_python
        )
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"cannot append to {path}: a record is not JSON-serializable: {exc}") from exc
    return text.encode("utf-8") + b"\n"


def _repair_tail(fh: BinaryIO) -> None:
    """Make the file end at a line boundary before appending (the caller holds the lock).

    A last line without its newline is either a whole record written by another tool (complete it
    with a newline) or the fragment of a writer that died mid-write (cut it off).
    """
    size = fh.seek(0, os.SEEK_END)
    if size == 0:
        return
    fh.seek(size - 1)
    if fh.read(1) == b"\n":
        return
    start = _last_line_start(fh, size)
    fh.seek(start)
    tail = fh.read(size - start)
    try:
        json.loads(tail.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        fh.truncate(start)
    else:
        fh.write(b"\n")


def _last_line_start(fh: BinaryIO, size: int) -> int:
    """Offset just after the last newline in the file (0 when there is none)."""
    end = size
    while end > 0:
        begin = max(0, end - _TAIL_CHUNK)
        fh.seek(begin)
        chunk = fh.read(end - begin)
        newline = chunk.rfind(b"\n")
        if newline != -1:
            return begin + newline + 1
        end = begin
    return 0


def _create_temp(path: Path) -> tuple[int, Path]:
    """Create a new hidden temp file beside ``path``.

    Unlike ``tempfile.mkstemp`` (always mode 0600) the file gets the usual permissions under the
    process umask, so a replaced artifact stays readable by whoever could read it before.
    """
    while True:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def _fsync_dir(directory: Path) -> None:
    # Not every platform can open a directory (Windows cannot); the rename is still atomic there.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
