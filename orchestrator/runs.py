"""Run ids and run dirs: creating them uniquely, finishing, listing, finding and pruning them.

Every run gets its own directory, which is never overwritten: two processes creating runs at the
same moment never get the same id. There are two id schemes:

- UI-gate runs, ``<target>-<epoch ms>`` (the project keeps them under ``.orchestrator/runs/``).
  The dir is made with an exclusive ``mkdir``; when that id is taken the next millisecond is tried,
  so ids stay unique and, from one process, increasing.
- Scenario runs, ``<YYYY-MM-DD>-<seq>`` with the UTC date and a per-day sequence zero-padded to three
  digits (``001``; past ``999`` it just grows), under ``.scenarios/runs/``. A sequence number is never
  reused, even after its dir was deleted: the high-water mark per day is kept in
  ``<root>/.run-sequence.json``, updated under a file lock, and the exclusive ``mkdir`` is the final
  guard.

Each run dir holds ``run.json`` (the manifest: id, kind, target, ``created_at``, ``status``, its
``owner`` and the caller's metadata) and ``events.jsonl``, which is only ever appended to. Every
rewrite of ``run.json`` is atomic and made under the run's lock, so a finishing run and another
process judging it never overwrite each other.

Liveness. A run's ``owner`` is the process that created it: pid, host, and on Linux the boot id
and the process's start time (so a pid reused by another process, or a restarted machine, is
told apart). The process running the job refreshes ``heartbeat_at`` every
``heartbeat_interval_s`` (:func:`touch_heartbeat`). A run whose manifest still says ``running``
is listed as ``interrupted`` when its owner is gone: on this host, its process no longer exists
(or the pid now belongs to another process); on any host, its heartbeat is older than
:data:`STALE_HEARTBEATS` intervals. :func:`mark_interrupted_runs` writes that status into such
runs' ``run.json``; the next job in the project calls it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import structlog
from filelock import FileLock, Timeout
from rapidfuzz import process

from orchestrator._run_owner import STALE_HEARTBEATS, current_owner, owner_gone, parse_time
from orchestrator.artifacts import StrPath, atomic_write_json
from orchestrator.errors import ArtifactError, RunError, RunExistsError, RunNotFoundError, UsageError

__all__ = [
    "INTERRUPTED",
    "RUNNING",
    "STALE_HEARTBEATS",
    "TARGET_NAME_RULE",
    "RunDir",
    "RunInfo",
    "RunKind",
    "StrPath",
    "create_run",
    "find_run",
    "is_target_name",
    "list_runs",
    "mark_interrupted_runs",
    "mark_run_finished",
    "parse_age",
    "prune_runs",
    "read_run",
    "reopen_run",
    "run_not_found",
    "touch_heartbeat",
]

RunKind = Literal["ui", "scenario", "pack"]

MANIFEST_NAME = "run.json"
EVENTS_NAME = "events.jsonl"
SEQUENCE_NAME = ".run-sequence.json"
RUNNING = "running"
INTERRUPTED = "interrupted"
UNKNOWN = "unknown"


# A run still marked running may be a live one; it is pruned only once it is this old as well.
RUNNING_GRACE = timedelta(hours=24)

_TARGET_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_SCENARIO_ID_RE = re.compile(r"(\d{4}-\d{2}-\d{2})-(\d{3,})")
_UI_ID_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}-\d{10,}")
_AGE_RE = re.compile(r"(\d+)\s*([mhdw])")
_AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RESERVED_FIELDS = frozenset(
    {"run_id", "kind", "target", "created_at", "status", "finished_at", "owner", "heartbeat_at"}
)
_MAX_ID_ATTEMPTS = 100_000
_LOCK_TIMEOUT_S = 60.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RunDir:
    """A run dir that this process just created."""

    run_id: str
    path: Path
    kind: RunKind

    @property
    def events_path(self) -> Path:
        """The run's append-only event log."""
        return self.path / EVENTS_NAME

    @property
    def manifest_path(self) -> Path:
        """The run's manifest, ``run.json``."""
        return self.path / MANIFEST_NAME


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run found on disk. Dirs without a readable manifest have status ``"unknown"``.

    ``status`` is the manifest's, except that a run still ``running`` whose owner is gone is
    ``interrupted`` (with ``interrupted_reason``).
    """

    run_id: str
    kind: Literal["ui", "scenario", "pack", "unknown"]
    path: Path
    created_at: datetime
    status: str
    target: str | None
    finished_at: datetime | None = None
    manifest: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    interrupted_reason: str | None = None
    """Why the run counts as ``interrupted`` (its owner is gone), when it does."""

    @property
    def events_path(self) -> Path:
        """The run's append-only event log."""
        return self.path / EVENTS_NAME


def create_run(
    root: StrPath,
    kind: RunKind,
    *,
    target: str | None = None,
    now: datetime | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> RunDir:
    """Create a new, uniquely named run dir under ``root`` and write its ``run.json``.

    ``kind="ui"`` needs ``target`` (lowercase letters, digits, ``.``, ``_``, ``-``; at most 64
    characters, starting with a letter or digit); a scenario run may name one too. ``now`` (default:
    the current time; a naive value is taken as UTC) fixes the id's time. ``metadata`` is merged
    into the manifest and may not reuse its own keys (run_id, kind, target, created_at, status,
    finished_at, owner, heartbeat_at). The manifest names this process as the run's ``owner``.
    """
    root = Path(root)
    if target is not None or kind in ("ui", "pack"):
        target = _valid_target(target)
    if kind not in ("ui", "scenario", "pack"):
        raise UsageError(f"unknown run kind {kind!r}: use 'ui', 'scenario' or 'pack'")
    extra = dict(metadata or {})
    clashes = sorted(_RESERVED_FIELDS & extra.keys())
    if clashes:
        raise UsageError(f"run metadata may not set {', '.join(clashes)}: those fields belong to run.json")
    created = _as_utc(now) if now is not None else datetime.now(UTC)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArtifactError(f"cannot create the runs folder {root}: {exc}") from exc

    path = (
        _mkdir_scenario(root, created)
        if kind == "scenario"
        else _mkdir_ui(root, _valid_target(target), created)
    )
    run = RunDir(run_id=path.name, path=path, kind=kind)
    manifest: dict[str, Any] = {
        "run_id": run.run_id,
        "kind": kind,
        "target": target,
        "created_at": created.isoformat(),
        "status": RUNNING,
        "owner": current_owner(),
        **extra,
    }
    try:
        atomic_write_json(run.manifest_path, manifest)
    except BaseException:
        # The id is spent either way (a scenario seq is never reused); an empty dir is just noise.
        with contextlib.suppress(OSError):
            path.rmdir()
        raise
    return run


def reopen_run(path: StrPath) -> RunDir:
    """Take over a finished or interrupted run to go on with it (``--resume``, judging a run).

    ``run.json`` gets status ``running`` again, this process as its owner, and the time in its
    ``reopened_at`` list; ``finished_at`` is cleared. A run that is still running (its owner is
    alive) is refused with :class:`UsageError`, so two processes never write one run.
    """
    path = Path(path)
    info = _run_info(path)
    if info is None:
        raise RunNotFoundError(f"{path} is not a run dir: its {MANIFEST_NAME} is missing or unreadable")
    if info.status == RUNNING:
        owner = info.manifest.get("owner") or {}
        raise UsageError(
            f"run {info.run_id} is still running (pid {owner.get('pid', '?')} on {owner.get('host', '?')}); "
            "wait for it to end, or stop it first"
        )
    with _manifest_lock(path):
        manifest = _read_manifest(path / MANIFEST_NAME)
        if manifest is None:
            raise RunNotFoundError(f"{path} is not a run dir: its {MANIFEST_NAME} is missing or unreadable")
        reopened = [*manifest.get("reopened_at", []), datetime.now(UTC).isoformat()]
        manifest.update(status=RUNNING, owner=current_owner(), reopened_at=reopened, finished_at=None)
        manifest.pop("heartbeat_at", None)
        atomic_write_json(path / MANIFEST_NAME, manifest)
    kind: RunKind = "ui" if info.kind == "unknown" else info.kind
    return RunDir(run_id=info.run_id, path=path, kind=kind)


def mark_run_finished(run: RunDir | StrPath, status: str, **fields: Any) -> None:
    """Rewrite ``run.json`` with the final ``status``, ``finished_at`` (now, UTC) and ``fields``.

    ``status`` may not be ``"running"`` and ``fields`` may not change the run's identity (run_id,
    kind, target, created_at, owner).
    """
    path = run.path if isinstance(run, RunDir) else Path(run)
    manifest_path = path / MANIFEST_NAME
    if not status or status == RUNNING:
        raise UsageError(
            f"a finished run needs a final status such as 'completed' or 'failed', not {status!r}"
        )
    clashes = sorted(_RESERVED_FIELDS & fields.keys())
    if clashes:
        raise UsageError(f"cannot change {', '.join(clashes)} of a run when finishing it")
    missing = ArtifactError(
        f"cannot finish the run in {path}: {manifest_path} is missing or not a JSON object"
    )
    if not manifest_path.is_file():
        raise missing  # checked before locking: the lock file would otherwise create the folder
    with _manifest_lock(path):
        manifest = _read_manifest(manifest_path)
        if manifest is None:
            raise missing
        manifest.update(status=status, finished_at=datetime.now(UTC).isoformat(), **fields)
        atomic_write_json(manifest_path, manifest)


def touch_heartbeat(run: RunDir | StrPath, interval_s: float) -> bool:
    """Record in ``run.json`` that the run's owner is alive now and beats every ``interval_s``.

    Only a run still ``running`` is touched; ``False`` means the run is finished (or its run dir
    is gone), so there is nothing left to keep alive. A manifest that cannot be read just now (out
    of file descriptors, say) raises :class:`RunError`: a missed beat, not the end of the run.
    """
    path = run.path if isinstance(run, RunDir) else Path(run)
    if not (path / MANIFEST_NAME).is_file():
        return False
    with _manifest_lock(path):
        manifest = _read_manifest(path / MANIFEST_NAME)
        if manifest is None:
            raise RunError(f"{path / MANIFEST_NAME} cannot be read just now; the heartbeat was not written")
        if manifest.get("status") != RUNNING:
            return False
        manifest.update(heartbeat_at=datetime.now(UTC).isoformat(), heartbeat_interval_s=interval_s)
        atomic_write_json(path / MANIFEST_NAME, manifest)
    return True


def mark_interrupted_runs(roots: Sequence[StrPath]) -> list[RunInfo]:
    """Write status ``interrupted`` into every run under ``roots`` whose owner is gone; return them.

    Each run is judged again under the run's lock right before its ``run.json`` is rewritten,
    so a run that finished or beat in the meantime is left alone. ``finished_at`` becomes the last
    heartbeat when there was one (the last moment the run was known to be alive).
    """
    marked: list[RunInfo] = []
    for info in list_runs(roots):
        if info.status != INTERRUPTED or info.manifest.get("status") != RUNNING:
            continue
        with _manifest_lock(info.path):
            manifest = _read_manifest(info.path / MANIFEST_NAME)
            if manifest is None or manifest.get("status") != RUNNING:
                continue
            reason = owner_gone(manifest)
            if reason is None:
                continue
            manifest.update(status=INTERRUPTED, interrupted_reason=reason)
            if isinstance(manifest.get("heartbeat_at"), str):
                manifest["finished_at"] = manifest["heartbeat_at"]
            atomic_write_json(info.path / MANIFEST_NAME, manifest)
        marked.append(_run_info(info.path) or info)
    return marked


def list_runs(roots: Sequence[StrPath]) -> list[RunInfo]:
    """Every run dir under ``roots``, newest first.

    Missing roots, dot-files, plain files and symlinks are skipped (a symlink may point out of the
    root). A dir whose ``run.json`` is missing or unreadable is still listed, with ``created_at``
    from the dir's mtime and status ``"unknown"``.
    """
    runs: list[RunInfo] = []
    for root in roots:
        try:
            entries = list(os.scandir(root))
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise ArtifactError(f"cannot list runs in {root}: {exc}") from exc
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            info = _run_info(Path(entry.path))
            if info is not None:
                runs.append(info)
    runs.sort(key=lambda r: (r.created_at, _natural_key(r.run_id)), reverse=True)
    return runs


def find_run(roots: Sequence[StrPath], run_id: str) -> RunInfo:
    """The run called ``run_id`` in the first root that has it.

    Raises :class:`RunNotFoundError` naming up to five close ids when there is none.
    """
    if run_id and "/" not in run_id and "\\" not in run_id and not run_id.startswith("."):
        for root in roots:
            candidate = Path(root) / run_id
            if candidate.is_dir() and not candidate.is_symlink():
                info = _run_info(candidate)
                if info is not None:
                    return info
    ids = {r.run_id for r in list_runs(roots)}
    raise run_not_found(run_id, ids, ", ".join(os.fspath(r) for r in roots) or "no runs folder")


def read_run(path: StrPath) -> RunInfo | None:
    """What the run dir at ``path`` says about its run (liveness included); ``None`` if it is gone."""
    return _run_info(Path(path))


def run_not_found(run_id: str, known: set[str], where: str) -> RunNotFoundError:
    """The error for an unknown run id: where it was looked for, and up to 5 close known ids."""
    ids = sorted(known)
    message = f"no run {run_id!r} in {where}"
    close = [match for match, _score, _index in process.extract(run_id, ids, limit=5, score_cutoff=60)]
    if close:
        message += f". Close ids: {', '.join(close)}"
    elif ids:
        message += f". {len(ids)} run(s) exist; list them with `orchestrate runs list`"
    else:
        message += ". There are no runs yet"
    return RunNotFoundError(message)


def parse_age(text: str) -> timedelta:
    """Parse an age such as ``30d``, ``12h``, ``90m`` or ``2w`` into a timedelta."""
    match = _AGE_RE.fullmatch(text.strip().lower())
    if match is None:
        raise UsageError(
            f"invalid age {text!r}: use a whole number followed by m (minutes), h (hours), d (days) "
            "or w (weeks), for example 30d"
        )
    amount, unit = match.groups()
    return timedelta(**{_AGE_UNITS[unit]: int(amount)})


def prune_runs(
    roots: Sequence[StrPath],
    older_than: timedelta,
    *,
    now: datetime | None = None,
    delete: bool = False,
) -> list[RunInfo]:
    """The runs created more than ``older_than`` ago; deleted only when ``delete`` is true.

    Without ``delete`` this is a dry run that touches nothing. A run whose status is still
    ``"running"`` may be alive, so it is pruned only when it is older than the cutoff *and* older
    than 24 hours. Only real dirs directly under a root are considered: a symlink is never
    followed, so nothing outside the roots is ever deleted.
    """
    current = _as_utc(now) if now is not None else datetime.now(UTC)
    cutoff = current - older_than
    doomed = [
        run
        for run in list_runs(roots)
        if run.created_at < cutoff and (run.status != RUNNING or current - run.created_at > RUNNING_GRACE)
    ]
    if delete:
        for run in doomed:
            # Re-checked right before deleting: the dir may have been swapped for a symlink since listing.
            if run.path.is_symlink() or not run.path.is_dir():
                continue
            try:
                shutil.rmtree(run.path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ArtifactError(f"cannot delete the run dir {run.path}: {exc}") from exc
            _log.info("run pruned", run_id=run.run_id, path=str(run.path))
    return doomed


TARGET_NAME_RULE = (
    "1 to 64 characters of lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
)
"""What a target name may be: it becomes part of run ids and run dir names."""


def is_target_name(name: str) -> bool:
    """Whether ``name`` can name a target (see :data:`TARGET_NAME_RULE`)."""
    return _TARGET_RE.fullmatch(name) is not None


def _valid_target(target: str | None) -> str:
    if target is None or not is_target_name(target):
        raise UsageError(
            f"invalid target {target!r}: a target is {TARGET_NAME_RULE}, for example 'web' or 'mac-app'"
        )
    return target


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _mkdir_ui(root: Path, target: str, created: datetime) -> Path:
    # Integer arithmetic: float timestamps can round a .999 instant down a millisecond.
    millis = (created - _EPOCH) // timedelta(milliseconds=1)
    for _ in range(_MAX_ID_ATTEMPTS):
        path = root / f"{target}-{millis}"
        if _try_mkdir(path):
            return path
        millis += 1
    raise RunExistsError(f"no free run id for target {target!r} in {root} after {_MAX_ID_ATTEMPTS} attempts")


def _mkdir_scenario(root: Path, created: datetime) -> Path:
    day = created.date().isoformat()
    sequence_path = root / SEQUENCE_NAME
    try:
        with FileLock(sequence_path.with_name(SEQUENCE_NAME + ".lock"), timeout=_LOCK_TIMEOUT_S):
            marks = _read_sequence(sequence_path)
            seq = max(marks.get(day, 0), _highest_seq_on_disk(root, day)) + 1
            for _ in range(_MAX_ID_ATTEMPTS):
                path = root / f"{day}-{seq:03d}"
                if _try_mkdir(path):
                    marks[day] = seq
                    atomic_write_json(sequence_path, marks)
                    return path
                seq += 1
    except Timeout as exc:
        raise ArtifactError(
            f"cannot create a run in {root}: the sequence lock was held for more than {_LOCK_TIMEOUT_S:g} s"
        ) from exc
    raise RunExistsError(f"no free run id for {day} in {root} after {_MAX_ID_ATTEMPTS} attempts")


def _try_mkdir(path: Path) -> bool:
    """Create ``path`` exclusively; False when it already exists (another run has that id)."""
    try:
        path.mkdir()
    except FileExistsError:
        return False
    except OSError as exc:
        raise ArtifactError(f"cannot create the run dir {path}: {exc}") from exc
    return True


def _read_sequence(path: Path) -> dict[str, int]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        # The dirs on disk still bound the sequence from below; the file is rewritten on this create.
        _log.warning("run sequence file unreadable; rebuilding it", path=str(path), error=str(exc))
        return {}
    if not isinstance(document, dict):
        return {}
    return {k: v for k, v in document.items() if isinstance(k, str) and isinstance(v, int)}


def _highest_seq_on_disk(root: Path, day: str) -> int:
    highest = 0
    for entry in os.scandir(root):
        match = _SCENARIO_ID_RE.fullmatch(entry.name)
        if match is not None and match.group(1) == day:
            highest = max(highest, int(match.group(2)))
    return highest


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _run_info(path: Path) -> RunInfo | None:
    """What the dir tells about its run; None when the dir vanished while looking."""
    manifest = _read_manifest(path / MANIFEST_NAME) or {}
    created_at = parse_time(manifest.get("created_at"))
    if created_at is None:
        try:
            created_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except FileNotFoundError:
            return None
    status = manifest.get("status")
    status = status if isinstance(status, str) and status else UNKNOWN
    reason = manifest.get("interrupted_reason") if status == INTERRUPTED else None
    if status == RUNNING:
        reason = owner_gone(manifest)
        status = INTERRUPTED if reason is not None else RUNNING
    target = manifest.get("target")
    return RunInfo(
        run_id=path.name,
        kind=_kind_of(path.name, manifest.get("kind")),
        path=path,
        created_at=created_at,
        status=status,
        target=target if isinstance(target, str) else None,
        finished_at=parse_time(manifest.get("finished_at")),
        manifest=manifest,
        interrupted_reason=reason if isinstance(reason, str) else None,
    )


@contextlib.contextmanager
def _manifest_lock(run_path: Path) -> Iterator[None]:
    """Hold the run's lock while its ``run.json`` is read and rewritten (across processes).

    The lock is ``flock`` on the run dir itself, so no lock file is left in the dir or its root,
    and the kernel releases it when its holder dies. Holders only read and write one small file.
    """
    try:
        fd = os.open(run_path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise ArtifactError(f"cannot update {run_path / MANIFEST_NAME}: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def _kind_of(name: str, declared: Any) -> Literal["ui", "scenario", "pack", "unknown"]:
    if declared in ("ui", "pack"):
        return "ui" if declared == "ui" else "pack"
    if declared == "scenario" or _SCENARIO_ID_RE.fullmatch(name):
        return "scenario"
    if _UI_ID_RE.fullmatch(name):
        return "ui"
    return "unknown"


def _natural_key(run_id: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders digit runs by value, so ``...-1000`` comes after ``...-999``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", run_id) if part
    )
