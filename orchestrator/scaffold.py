"""``orchestrate init``: lay out a new project without ever touching what is already there.

Creates a commented ``orchestrate.toml`` showing every setting at its default, the policy
override directory with a commented ``retention.yaml`` example (equal to the shipped default),
and the scenario catalog and twin directories. Running it again creates only what is missing:
an existing file is kept byte for byte, and the result says what was created and what was kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.artifacts import atomic_write_text
from orchestrator.config import CONFIG_FILE_NAME, SCENARIOS_DIR_NAME, policy_dir_of
from orchestrator.errors import UsageError

__all__ = ["CONFIG_TEMPLATE", "RETENTION_TEMPLATE", "InitResult", "init_project"]

CONFIG_TEMPLATE = """\
# orchestrate project configuration. Every setting shows its default: change what you need.
# Any setting can be overridden from the environment as ORCHESTRATE_<SECTION>__<KEY>,
# for example ORCHESTRATE_EVENTS__BATCH_SIZE=200.

[project]
# name = "demo"                    # default: the name of this directory

[events]
db = ".orchestrator/events.db"     # event index (SQLite); relative to this directory unless absolute
batch_size = 5000                  # most events written at once, 1..100000
max_pending = 50000                # events queued before emitters pause for the writer to catch up

[runs]
ui_dir = ".orchestrator/runs"      # run dirs of `orchestrate test`
scenario_dir = ".scenarios/runs"   # run dirs of `orchestrate run`

[issues]
backend = "local"                  # local, github, gitlab, gh or glab
# repository = "owner/name"        # GitHub owner/name, or GitLab group/project
# api_url = "https://api.github.com"
# token_env = "GITHUB_TOKEN"       # the variable holding the token (never the token itself)

# A target `orchestrate test --target web` exercises; {port} becomes a free port.
# [targets.web]
# driver = "web"                   # web, mac, command or a plugin driver
# base_url = "http://127.0.0.1:{port}"
# start_command = ["python", "-m", "myapp", "--port", "{port}"]
# cwd = "."
# env = {}
# health_path = "/"
# start_timeout_s = 30.0
# app_name = "MyApp"               # macOS app (mac driver)
# profile = "smoke"
"""

RETENTION_TEMPLATE = """\
# Retention policy: how long run dirs are kept before they are pruned.
# This file overrides the default shipped with orchestrate; a key left out keeps its default.
# Days a run dir is kept (a whole number, at least 1):
retention_days: 30
"""


@dataclass(frozen=True)
class InitResult:
    """What :func:`init_project` did: the paths it created and the ones it found and left alone."""

    root: Path
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per path, relative to the root: ``created orchestrate.toml``, ``kept    .scenarios/``."""
        return [f"created {self._show(path)}" for path in self.created] + [
            f"kept    {self._show(path)}" for path in self.kept
        ]

    def _show(self, path: Path) -> str:
        if path == self.root:
            return str(path)
        suffix = "/" if path.is_dir() else ""
        return f"{path.relative_to(self.root).as_posix()}{suffix}"


def init_project(root: Path) -> InitResult:
    """Scaffold a project at ``root`` (created if missing); idempotent, never overwrites a file.

    A file or directory that already exists is reported in ``kept`` and left untouched. Something
    in the way (a file where a directory belongs) is a :class:`UsageError`.
    """
    root = root.expanduser().absolute()
    result = InitResult(root=root)
    policy_dir = policy_dir_of(root)
    scenarios_dir = root / SCENARIOS_DIR_NAME
    if not root.is_dir():
        _ensure_dir(root, result)
    for directory in (policy_dir, scenarios_dir / "catalog", scenarios_dir / "twins"):
        _ensure_dir(directory, result)
    _ensure_file(root / CONFIG_FILE_NAME, CONFIG_TEMPLATE, result)
    _ensure_file(policy_dir / "retention.yaml", RETENTION_TEMPLATE, result)
    return result


def _ensure_dir(directory: Path, result: InitResult) -> None:
    if directory.is_dir():
        result.kept.append(directory)
        return
    try:
        directory.mkdir(parents=True)
    except (FileExistsError, NotADirectoryError) as exc:
        blocker = next(
            (p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), directory
        )
        raise UsageError(
            f"cannot create the directory {directory}: {blocker} is in the way and is not a directory"
        ) from exc
    except OSError as exc:
        raise UsageError(f"cannot create the directory {directory}: {exc.strerror or exc}") from exc
    result.created.append(directory)


def _ensure_file(path: Path, text: str, result: InitResult) -> None:
    # lexists: a dangling symlink is someone's file too; writing would replace it.
    if os.path.lexists(path):
        result.kept.append(path)
        return
    atomic_write_text(path, text)
    result.created.append(path)
