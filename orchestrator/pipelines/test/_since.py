"""Which files changed since a git ref (``orchestrate test --since REF``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from orchestrator.errors import UsageError

__all__ = ["changed_files_since"]


def _git(root: Path, *args: str, problem: str | None = None) -> str:
    git = shutil.which("git")
    if git is None:
        raise UsageError("--since needs git on PATH; install git or leave --since out")
    try:
        done = subprocess.run([git, *args], cwd=root, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"--since: git {args[0]} could not run in {root}: {exc}") from exc
    if done.returncode != 0:
        detail = done.stderr.strip() or done.stdout.strip()
        raise UsageError(problem or f"--since: git {' '.join(args)} failed: {detail}")
    return done.stdout


def changed_files_since(root: Path, ref: str) -> list[str]:
    """Files changed between ``ref`` and the working tree, plus untracked files, sorted.

    Paths are relative to the project root. A ref git does not know is a :class:`UsageError`.
    """
    if not ref or ref.startswith("-") or any(c in ref for c in "\n\r\0"):
        raise UsageError(f"--since {ref!r} is not a git ref; give a commit, branch or tag such as HEAD~1")
    _git(
        root,
        "rev-parse",
        "--verify",
        "--quiet",
        f"{ref}^{{commit}}",
        problem=f"--since {ref!r}: git does not know this ref here ({root}); "
        "give a commit, branch or tag such as HEAD~1",
    )
    # Both answer relative to the project root (--relative; ls-files runs in it). -z: names as
    # they are, not quoted with escapes for non-ASCII characters.
    changed = _git(root, "diff", "-z", "--name-only", "--relative", ref, "--").split("\0")
    untracked = _git(root, "ls-files", "-z", "--others", "--exclude-standard").split("\0")
    return sorted({path for path in (*changed, *untracked) if path})
