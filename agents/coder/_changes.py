"""What a coding-agent command changed in a repository: a snapshot before, one after, compared.

A :class:`Snapshot` maps every regular file's path (relative to the repository, POSIX form) to
its size and SHA-256, and every symbolic link's path to its target (never followed). It works in
any folder, git or not. Build output and tool folders are left out (``.git``, ``__pycache__``,
``.venv``, ``node_modules`` at any depth, ``*.pyc`` files), and so are the caller's ``ignore``
paths with everything below them. :func:`changed_paths` lists what was added, removed or
modified between two snapshots.

The snapshot after the run passes the one before as ``previous``: a file whose size, mtime,
ctime and inode are all unchanged keeps its earlier hash, so only what was touched is read again.
ctime is in the stamp because no program can set it back: a write that restores the old mtime
still changes it, so a skipped file really is untouched.

When the repository is a git work tree, :func:`git_diff_stat` adds ``git diff --stat`` against
``HEAD`` for people to read; the snapshot stays the record of what changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from orchestrator.subprocess_tools import Emit, run_tool

__all__ = [
    "GIT_TIMEOUT_S",
    "SKIPPED_DIRS",
    "FileState",
    "Snapshot",
    "changed_paths",
    "git_diff_stat",
    "take_snapshot",
]

SKIPPED_DIRS = frozenset({".git", "__pycache__", ".venv", "node_modules"})
"""Folder names never looked into, at any depth: version control, caches, installed packages."""
_SKIPPED_SUFFIXES = (".pyc",)
GIT_TIMEOUT_S = 20.0
"""How long each git command may take; git is asked only about the local work tree."""


@dataclass(frozen=True, slots=True)
class FileState:
    """One entry of a snapshot: a regular file by size and SHA-256, a symlink by its target.

    ``stamp`` (size, mtime, ctime, inode) only decides whether a later snapshot may reuse
    ``digest``; it takes no part in comparing states.
    """

    kind: Literal["file", "symlink"]
    size: int
    digest: str
    stamp: tuple[int, int, int, int] = field(default=(0, 0, 0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every file of a repository at one moment (see the module docstring for what is left out)."""

    root: Path
    files: Mapping[str, FileState]


def _normalised(paths: Collection[str]) -> frozenset[str]:
    """``ignore`` entries as the snapshot spells paths: POSIX, no ``./``, no trailing slash."""
    out = set()
    for path in paths:
        text = PurePosixPath(path.replace("\\", "/")).as_posix()
        if text not in ("", "."):
            out.add(text)
    return frozenset(out)


def _sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as stream:
            return hashlib.file_digest(stream, "sha256").hexdigest()
    except OSError:
        return None


def _entries(root: Path, relative: str, ignored: frozenset[str]) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every file and symlink below ``root / relative``, depth first, skipped names left out."""
    try:
        with os.scandir(root / relative if relative else root) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return  # a folder we may not read holds nothing we could report on
    for entry in entries:
        path = f"{relative}/{entry.name}" if relative else entry.name
        if path in ignored or entry.name in SKIPPED_DIRS:
            continue
        if entry.is_symlink():
            yield path, entry
        elif entry.is_dir(follow_symlinks=False):
            yield from _entries(root, path, ignored)
        elif entry.is_file(follow_symlinks=False) and not entry.name.endswith(_SKIPPED_SUFFIXES):
            yield path, entry


def take_snapshot(repo: Path, *, ignore: Collection[str] = (), previous: Snapshot | None = None) -> Snapshot:
    """Snapshot ``repo``; with ``previous``, files whose stamp is unchanged are not hashed again."""
    ignored = _normalised(ignore)
    known = previous.files if previous is not None else {}
    files: dict[str, FileState] = {}
    for path, entry in _entries(repo, "", ignored):
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # removed while we looked
        stamp = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
        if entry.is_symlink():
            try:
                target = os.readlink(entry.path)
            except OSError:
                continue
            files[path] = FileState("symlink", 0, target, stamp)
            continue
        earlier = known.get(path)
        if earlier is not None and earlier.kind == "file" and earlier.stamp == stamp:
            files[path] = earlier
            continue
        # An unreadable file is compared by its stamp: any change to it counts as a modification.
        digest = _sha256(Path(entry.path)) or f"unreadable:{info.st_mtime_ns}:{info.st_ctime_ns}"
        files[path] = FileState("file", info.st_size, digest, stamp)
    return Snapshot(repo, files)


def changed_paths(before: Snapshot, after: Snapshot) -> list[str]:
    """Paths added, removed or modified between ``before`` and ``after``, sorted."""
    paths = before.files.keys() | after.files.keys()
    return sorted(path for path in paths if before.files.get(path) != after.files.get(path))


def git_diff_stat(
    repo: Path,
    *,
    ignore: Collection[str] = (),
    env: Mapping[str, str] | None = None,
    emit: Emit | None = None,
) -> str | None:
    """``git diff --stat`` of ``repo``'s work tree against ``HEAD``, or ``None`` when there is none.

    ``None`` when git is not installed, ``repo`` is not inside a git work tree, or git fails
    (a repository without commits has no ``HEAD``). Paths are shown relative to ``repo`` and the
    diff is limited to it, ``ignore`` paths excluded. Untracked files are not in git's diff.
    """
    git_env = {**(env if env is not None else os.environ), "GIT_OPTIONAL_LOCKS": "0"}
    git = shutil.which("git", path=git_env.get("PATH", os.defpath))
    if git is None:
        return None
    # The probe is a question, not an action: it is not recorded as a tool call.
    probe = run_tool(
        [git, "-C", str(repo), "rev-parse", "--is-inside-work-tree"],
        cwd=repo,
        timeout_s=GIT_TIMEOUT_S,
        env=git_env,
        tool_name="git",
    )
    if not probe.ok or probe.stdout_text().strip() != "true":
        return None
    excluded = [f":(exclude){path}" for path in sorted(_normalised(ignore))]
    options = ["--stat", "--no-color", "--no-ext-diff", "--relative"]
    diff = run_tool(
        [git, "-C", str(repo), "diff", *options, "HEAD", "--", ".", *excluded],
        cwd=repo,
        timeout_s=GIT_TIMEOUT_S,
        env=git_env,
        emit=emit,
        tool_name="git",
    )
    return diff.stdout_text() if diff.ok else None
