"""The project configuration: where the project is, and its settings from file and environment.

A project is the directory holding ``orchestrate.toml``, or a ``pyproject.toml`` with a
``[tool.orchestrate]`` table, found by walking up from the working directory (``orchestrate.toml``
wins when a directory has both). ``-C DIR`` names the directory instead. No configuration is
needed: with no file anywhere, every setting has a sane default and the start directory is the
project root.

Settings come in sections (``[project]``, ``[events]``, ``[runs]``); environment variables named
``ORCHESTRATE_<SECTION>__<KEY>`` (case-insensitive) override the file, so CI can change one
setting without editing it. Variables without the double underscore, such as
``ORCHESTRATE_CHROMIUM``, are not settings and are left alone. Every mistake, in the file or in a
variable, is a :class:`~orchestrator.errors.ConfigError` naming where it is, the field, what was
wrong and an example of right. Loading never writes anything.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import Field, ValidationError

from orchestrator.errors import ConfigError, UsageError
from orchestrator.userfiles import StrictModel, load_structured_file
from orchestrator.validation import config_error_from_validation

__all__ = [
    "CONFIG_FILE_NAME",
    "ENV_PREFIX",
    "PYPROJECT_FILE_NAME",
    "SCENARIOS_DIR_NAME",
    "STATE_DIR_NAME",
    "ConfigSections",
    "EventsSection",
    "IssuesSection",
    "ProjectConfig",
    "ProjectSection",
    "RunsSection",
    "TargetSection",
    "find_project_root",
    "load_config",
    "policy_dir_of",
]

CONFIG_FILE_NAME = "orchestrate.toml"
PYPROJECT_FILE_NAME = "pyproject.toml"
ENV_PREFIX = "ORCHESTRATE_"
STATE_DIR_NAME = ".orchestrator"
SCENARIOS_DIR_NAME = ".scenarios"


class ProjectSection(StrictModel):
    """``[project]``: what the project is called in reports."""

    name: str | None = Field(
        default=None, min_length=1, examples=["demo"], description="Default: the root directory's name."
    )


class EventsSection(StrictModel):
    """``[events]``: where events are indexed and how they are batched on the way there."""

    db: Path = Field(
        default=Path(".orchestrator/events.db"),
        description="SQLite index of all runs' events; relative to the project root unless absolute.",
    )
    batch_size: int = Field(
        default=5000, ge=1, le=100_000, description="Most events written to a run's file and index at once."
    )
    max_pending: int = Field(
        default=50_000,
        ge=1,
        le=10_000_000,
        description="Most events waiting to be written before emitters pause for the bus to catch up.",
    )


class RunsSection(StrictModel):
    """``[runs]``: where run dirs are created."""

    ui_dir: Path = Field(default=Path(".orchestrator/runs"), description="Run dirs of `orchestrate test`.")
    scenario_dir: Path = Field(default=Path(".scenarios/runs"), description="Run dirs of `orchestrate run`.")


class TargetSection(StrictModel):
    """``[targets.NAME]``: something ``orchestrate test --target NAME`` exercises.

    With a ``start_command`` the UI gate starts the target, waits until ``health_path`` answers,
    and always stops it. A ``{port}`` in ``base_url`` or the command is replaced by a free port the
    OS picks (also given to the command as ``$PORT``), so runs never collide on a fixed port.
    """

    driver: str = Field(default="web", description="web, mac, command or a plugin driver's name.")
    base_url: str | None = Field(default=None, description="Where the web target answers.")
    start_command: list[str] = Field(default_factory=list, description="argv that starts it; no shell.")
    cwd: Path | None = Field(default=None, description="Working directory of the start command.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment for the command.")
    health_path: str = Field(default="/", description="Path that answers 2xx/3xx once it is up.")
    start_timeout_s: float = Field(default=30.0, gt=0, le=3600, description="Longest wait for health.")
    app_name: str | None = Field(default=None, description="The macOS app's name (mac driver).")
    profile: str | None = Field(default=None, description="Profile used when --profile is not given.")


class IssuesSection(StrictModel):
    """``[issues]``: the tracker the issue reconciler files findings in."""

    backend: str = Field(default="local", description="local, github, gitlab, gh, glab or a plugin tracker.")
    repository: str | None = Field(
        default=None, description="owner/name on GitHub; group/project (or its id) on GitLab."
    )
    api_url: str | None = Field(
        default=None, description="API base URL (GitHub Enterprise, self-hosted GitLab)."
    )
    token_env: str | None = Field(
        default=None, description="Environment variable holding the token (GITHUB_TOKEN / GITLAB_TOKEN)."
    )
    retry_budget_s: float = Field(
        default=60.0, ge=0, le=3600, description="Seconds a tracker may wait, in all, to retry 429 and 5xx."
    )


class ConfigSections(StrictModel):
    """The schema of the config file: one field per section. Adding a section is one line here."""

    project: ProjectSection = ProjectSection()
    events: EventsSection = EventsSection()
    runs: RunsSection = RunsSection()
    targets: dict[str, TargetSection] = Field(default_factory=dict)
    issues: IssuesSection = IssuesSection()


class ProjectConfig(ConfigSections):
    """The loaded configuration of one project: its sections, its root and derived absolute paths."""

    root: Path
    """Absolute project directory; relative paths in the config are relative to it."""
    config_file: Path | None = None
    """The file the settings came from (``orchestrate.toml`` or ``pyproject.toml``), or ``None``."""

    @property
    def name(self) -> str:
        """The project's name: ``[project] name``, else the root directory's name."""
        return self.project.name or self.root.name

    def resolve(self, path: Path) -> Path:
        """``path`` made absolute against the project root (``~`` is expanded; absolute paths stay)."""
        return self.root / path.expanduser()

    @property
    def state_dir(self) -> Path:
        """``<root>/.orchestrator``: the framework's own state (runs, index, metrics, policy)."""
        return self.root / STATE_DIR_NAME

    @property
    def events_db(self) -> Path:
        return self.resolve(self.events.db)

    @property
    def ui_runs_dir(self) -> Path:
        return self.resolve(self.runs.ui_dir)

    @property
    def scenario_runs_dir(self) -> Path:
        return self.resolve(self.runs.scenario_dir)

    @property
    def scenarios_dir(self) -> Path:
        """``<root>/.scenarios``: the scenario catalog and twin definitions."""
        return self.root / SCENARIOS_DIR_NAME

    @property
    def policy_dir(self) -> Path:
        """``<root>/.orchestrator/policy``: the project's overrides of the shipped policy defaults."""
        return policy_dir_of(self.root)


def policy_dir_of(root: Path) -> Path:
    """The policy override directory of the project at ``root``."""
    return root / STATE_DIR_NAME / "policy"


def find_project_root(start: Path) -> tuple[Path, Path | None]:
    """Walk up from ``start`` to the first directory with a config file; return it and the file.

    With no config file up to the file-system root, the answer is ``(start, None)``: the start
    directory is the project and every setting has its default.
    """
    start = _existing_dir(start, "start directory")
    for directory in (start, *start.parents):
        config_file = _config_file_in(directory)
        if config_file is not None:
            return directory, config_file
    return start, None


def load_config(
    project_dir: Path | None = None,
    *,
    start: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ProjectConfig:
    """Load the project's configuration.

    ``project_dir`` (the ``-C`` option) names the project directory and only it is looked at;
    otherwise the project is found by walking up from ``start`` (default: the working directory).
    ``env`` (default: ``os.environ``) supplies ``ORCHESTRATE_<SECTION>__<KEY>`` overrides.
    """
    if project_dir is not None:
        root = _existing_dir(project_dir, "project directory")
        config_file = _config_file_in(root)
    else:
        root, config_file = find_project_root(start if start is not None else Path.cwd())
    document = _read_settings(config_file) if config_file is not None else {}
    sections = _validate(document, config_file)
    overrides = _env_overrides(os.environ if env is None else env)
    for variable, keys, value in overrides:
        # One at a time, so a bad value is blamed on the variable that brought it.
        document = _with_override(document, keys, value)
        sections = _validate(document, f"environment variable {variable}")
    return ProjectConfig(
        root=root,
        config_file=config_file,
        **{name: getattr(sections, name) for name in ConfigSections.model_fields},
    )


def _existing_dir(path: Path, what: str) -> Path:
    resolved = path.expanduser().resolve()
    if not resolved.is_dir():
        problem = "is not a directory" if resolved.exists() else "does not exist"
        raise UsageError(f"the {what} {path} {problem}")
    return resolved


def _config_file_in(directory: Path) -> Path | None:
    candidate = directory / CONFIG_FILE_NAME
    if candidate.is_file():
        return candidate
    pyproject = directory / PYPROJECT_FILE_NAME
    if pyproject.is_file() and _has_orchestrate_table(pyproject):
        return pyproject
    return None


def _has_orchestrate_table(pyproject: Path) -> bool:
    try:
        text = pyproject.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    # Most pyproject files never mention us; skip parsing them so a broken unrelated one is no error.
    if "orchestrate" not in text:
        return False
    tool = _as_dict(load_structured_file(pyproject)).get("tool")
    return isinstance(tool, dict) and "orchestrate" in tool


def _read_settings(config_file: Path) -> dict[str, Any]:
    document = _as_dict(load_structured_file(config_file))
    if config_file.name != PYPROJECT_FILE_NAME:
        return document
    table = _as_dict(document.get("tool")).get("orchestrate")
    if not isinstance(table, dict):
        raise ConfigError(
            config_file,
            "tool.orchestrate",
            "must be a table of settings",
            "write it as `[tool.orchestrate.events]` headers followed by `key = value` lines",
        )
    return table


def _as_dict(document: Any) -> dict[str, Any]:
    return document if isinstance(document, dict) else {}


def _validate(document: dict[str, Any], source: Path | str | None) -> ConfigSections:
    try:
        return ConfigSections.model_validate(document)
    except ValidationError as exc:
        from_env = isinstance(source, str)
        error = config_error_from_validation(
            source, exc, model=ConfigSections, syntax="env" if from_env else "toml"
        )
        if isinstance(source, Path) and source.name == PYPROJECT_FILE_NAME:
            error = ConfigError(source, f"tool.orchestrate.{error.field}", error.problem, error.fix)
        raise error from None


class _Override(NamedTuple):
    variable: str
    keys: tuple[str, ...]
    value: Any


def _env_overrides(env: Mapping[str, str]) -> list[_Override]:
    overrides: list[_Override] = []
    for variable in sorted(env):
        if not variable.upper().startswith(ENV_PREFIX):
            continue
        rest = variable[len(ENV_PREFIX) :]
        if "__" not in rest:
            continue
        keys = tuple(rest.split("__"))
        if not all(keys):
            raise ConfigError(
                f"environment variable {variable}",
                "(name)",
                "has an empty section or key name",
                "name it ORCHESTRATE_<SECTION>__<KEY>, for example ORCHESTRATE_EVENTS__BATCH_SIZE=500",
            )
        overrides.append(_Override(variable, keys, _env_value(env[variable])))
    return overrides


def _env_value(raw: str) -> Any:
    """A variable's value: JSON when it looks like a list or table, else the text (pydantic converts it)."""
    if raw.lstrip().startswith(("[", "{")):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def _with_override(document: dict[str, Any], keys: tuple[str, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(document)
    table = result
    for position, key in enumerate(keys):
        # Names match case-insensitively; a key the file spells differently keeps the file's spelling.
        name = next((existing for existing in table if existing.lower() == key.lower()), key.lower())
        if position == len(keys) - 1:
            table[name] = value
        else:
            if not isinstance(table.get(name), dict):
                table[name] = {}
            table = table[name]
    return result
