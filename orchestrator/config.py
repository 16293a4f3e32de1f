"""The project configuration: where the project is, and its settings from file and environment.

A project is the directory holding ``orchestrate.toml``, or a ``pyproject.toml`` with a
``[tool.orchestrate]`` table, found by walking up from the working directory (``orchestrate.toml``
wins when a directory has both). ``-C DIR`` names the directory instead. No configuration is
needed: with no file anywhere, every setting has a sane default and the start directory is the
project root.

Settings come in sections (``[project]``, ``[events]``, ``[runs]``); environment variables named
``ORCHESTRATE_<SECTION>__<KEY>`` (case-insensitive) override the file, so CI can change one
setting without editing it; a list or table is given as JSON (``'["npm", "start"]'``). Variables
without the double underscore, such as ``ORCHESTRATE_CHROMIUM``, are not settings and are left
alone. pydantic-settings does the loading, with the file and the environment as its only sources
(no ``.env`` file, no secrets directory).

Every mistake, in the file or in a variable, is a :class:`~orchestrator.errors.ConfigError`
naming where it is (the file, or the variable that brought the value), the field, what was wrong
and an example of right. The file is checked on its own first, so a mistake in it is blamed on it
even when a variable is set too. Loading never writes anything.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from pydantic import AfterValidator, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from orchestrator._service_config import (
    AnalystSection,
    AssistantEndpoints,
    AssistantFields,
    AssistantSection,
    CoderSection,
    RaySection,
    ServiceSection,
    SutSection,
    TargetSection,
    TelemetrySection,
    header_variables,
    web_url,
)
from orchestrator.errors import ConfigError, UsageError
from orchestrator.userfiles import StrictModel, load_structured_file
from orchestrator.validation import config_error_from_validation, explain_validation_error

__all__ = [
    "CONFIG_FILE_NAME",
    "ENV_NESTED_DELIMITER",
    "ENV_PREFIX",
    "PYPROJECT_FILE_NAME",
    "SCENARIOS_DIR_NAME",
    "STATE_DIR_NAME",
    "AnalystSection",
    "AssistantEndpoints",
    "AssistantFields",
    "AssistantSection",
    "CoderSection",
    "ConfigSections",
    "EventsSection",
    "IssuesSection",
    "LlmSection",
    "ProjectConfig",
    "ProjectSection",
    "RaySection",
    "RunsSection",
    "ScenariosSection",
    "ServiceSection",
    "SutSection",
    "TargetSection",
    "TelemetrySection",
    "find_project_root",
    "header_variables",
    "load_config",
    "policy_dir_of",
]

CONFIG_FILE_NAME = "orchestrate.toml"
PYPROJECT_FILE_NAME = "pyproject.toml"
ENV_PREFIX = "ORCHESTRATE_"
ENV_NESTED_DELIMITER = "__"
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
        default=1000, ge=1, le=100_000, description="Most events written to a run's file and index at once."
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
    pack_dir: Path = Field(
        default=Path(".orchestrator/pack-runs"),
        description="Run dirs (events, run.json) of `orchestrate case | scenario | pack | pack-loop`.",
    )
    domain_dir: Path = Field(
        default=Path("artifacts/domain_runs"),
        description="Where case, scenario and pack artifacts go: one folder per scenario or pack id.",
    )


def _api_url(value: str | None) -> str | None:
    return web_url(value, what="api_url")


class ScenariosSection(StrictModel):
    """``[scenarios]``: where the catalog and reports are, and the defaults of ``orchestrate run``."""

    catalog_dir: Path = Field(default=Path(".scenarios/catalog"), description="Scenario files by domain.")
    reports_dir: Path = Field(default=Path(".scenarios/reports"), description="latest.json and history/.")
    count: int = Field(default=10, ge=1, le=100_000, description="Trajectories per scenario.")
    parallel: int = Field(default=1, ge=1, le=256, description="Slots running trajectories at once.")
    chaos_profile: str = Field(default="none", description="none, gentle, moderate, hostile or your own.")
    trajectory_timeout_s: float = Field(
        default=120.0, gt=0, le=86_400, description="Deadline of one trajectory."
    )
    judge_parallel: int = Field(default=4, ge=1, le=64, description="Trajectories judged at once.")


class IssuesSection(StrictModel):
    """``[issues]``: the tracker the issue reconciler files findings in."""

    backend: str = Field(default="local", description="local, github, gitlab, gh, glab or a plugin tracker.")
    repository: str | None = Field(
        default=None, description="owner/name on GitHub; group/project (or its id) on GitLab."
    )
    api_url: Annotated[str | None, AfterValidator(_api_url)] = Field(
        default=None,
        examples=["https://github.example.com/api/v3"],
        description="API base URL (GitHub Enterprise, self-hosted GitLab).",
    )
    token_env: str | None = Field(
        default=None, description="Environment variable holding the token (GITHUB_TOKEN / GITLAB_TOKEN)."
    )
    retry_budget_s: float = Field(
        default=60.0, ge=0, le=3600, description="Seconds a tracker may wait, in all, to retry 429 and 5xx."
    )


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class LlmSection(StrictModel):
    """``[llm]``: the model the judge asks, over OpenAI-compatible chat completions or Anthropic."""

    provider: Literal["openai", "anthropic"] = Field(
        default="openai",
        description="openai (any OpenAI-compatible chat completions server) or anthropic (messages API).",
    )
    model: str | None = Field(
        default=None,
        min_length=1,
        examples=["gpt-4o-mini"],
        description="The model to ask; unset means no model is configured and model calls are refused.",
    )
    base_url: str | None = Field(
        default=None,
        examples=["http://127.0.0.1:8000/v1"],
        description="API root; default https://api.openai.com/v1 (openai) or https://api.anthropic.com.",
    )
    api_key_env: str | None = Field(
        default=None,
        examples=["OPENAI_API_KEY"],
        description=(
            "Name of the environment variable holding the API key (default OPENAI_API_KEY or "
            "ANTHROPIC_API_KEY); when it is unset no key is sent, as a local server expects."
        ),
    )
    timeout_s: float = Field(
        default=60.0, gt=0, le=3600, description="Seconds one HTTP request may take before it is retried."
    )
    max_retries: int = Field(
        default=4, ge=0, le=10, description="Retries after a 429, a 5xx or a failed connection (0..10)."
    )
    max_backoff_s: float = Field(
        default=30.0, ge=0, le=3600, description="Longest wait before a retry, Retry-After included."
    )
    max_tokens: int = Field(default=1024, ge=1, le=1_000_000, description="Most tokens one answer may have.")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an absolute http:// or https:// URL")
        if url.userinfo:
            raise ValueError("must not carry credentials (user:password@): put the key in api_key_env")
        return value.rstrip("/")

    @field_validator("api_key_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            # Never echo the value: a key pasted here by mistake must not end up in a message.
            raise ValueError("must be the name of an environment variable (letters, digits, _), not a key")
        return value


class ConfigSections(StrictModel):
    """The schema of the config file: one field per section. Adding a section is one line here."""

    project: ProjectSection = ProjectSection()
    events: EventsSection = EventsSection()
    runs: RunsSection = RunsSection()
    targets: dict[str, TargetSection] = Field(default_factory=dict)
    issues: IssuesSection = IssuesSection()
    sut: SutSection = SutSection()
    scenarios: ScenariosSection = ScenariosSection()
    llm: LlmSection = LlmSection()
    assistant: AssistantSection = AssistantSection()
    coder: CoderSection = CoderSection()
    analyst: AnalystSection = AnalystSection()
    telemetry: TelemetrySection = TelemetrySection()
    ray: RaySection = RaySection()


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

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """``path`` made absolute against the project root (``~`` is expanded; absolute paths stay)."""
        return self.root / Path(path).expanduser()

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
    def pack_runs_dir(self) -> Path:
        return self.resolve(self.runs.pack_dir)

    @property
    def domain_runs_dir(self) -> Path:
        """Where the artifacts of cases, domain scenarios and packs go (``artifacts/domain_runs``)."""
        return self.resolve(self.runs.domain_dir)

    @property
    def run_roots(self) -> list[Path]:
        """Every directory run dirs are created in, one per kind of job."""
        return [self.ui_runs_dir, self.scenario_runs_dir, self.pack_runs_dir]

    def runs_dir_for(self, kind: str) -> Path:
        """Where run dirs of ``kind`` (``ui``, ``scenario``, ``pack``) are created."""
        return {"ui": self.ui_runs_dir, "scenario": self.scenario_runs_dir}.get(kind, self.pack_runs_dir)

    @property
    def scenarios_dir(self) -> Path:
        """``<root>/.scenarios``: the scenario catalog and twin definitions."""
        return self.root / SCENARIOS_DIR_NAME

    @property
    def policy_dir(self) -> Path:
        """``<root>/.orchestrator/policy``: the project's overrides of the shipped policy defaults."""
        return policy_dir_of(self.root)


def policy_dir_of(root: str | os.PathLike[str]) -> Path:
    """The policy override directory of the project at ``root``."""
    return Path(root) / STATE_DIR_NAME / "policy"


def find_project_root(start: str | os.PathLike[str]) -> tuple[Path, Path | None]:
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
    project_dir: str | os.PathLike[str] | None = None,
    *,
    start: str | os.PathLike[str] | None = None,
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
    file_source = _ConfigFileSource(_Settings, config_file)
    # The file alone first, so a mistake in it is blamed on it even when a variable is set too.
    _validate_file(file_source.toml_data, config_file)
    environ = os.environ if env is None else env
    variables = sorted(name for name in environ if _is_setting_variable(name))
    _check_names(variables)
    env_source = _EnvironmentSource(_Settings, environ, spelled_like=file_source.toml_data)
    token = _SOURCES.set((env_source, file_source))
    try:
        sections = _Settings()
    except ValidationError as exc:
        problem = explain_validation_error(exc, model=ConfigSections, syntax="env")
        raise problem.to_error(_variable_for(problem.loc, variables)) from None
    finally:
        _SOURCES.reset(token)
    return ProjectConfig(
        root=root,
        config_file=config_file,
        **{name: getattr(sections, name) for name in ConfigSections.model_fields},
    )


# ------------------------------------------------------------------------------------------ sources

_SOURCES: ContextVar[tuple[PydanticBaseSettingsSource, ...]] = ContextVar("orchestrate_config_sources")
"""The sources of the load in progress, highest precedence first (see :class:`_Settings`)."""


class _Settings(ConfigSections, BaseSettings):
    """The config file's sections as pydantic-settings loads them: the environment over the file.

    pydantic-settings asks for the sources on the class, but the file and the environment belong
    to one call of :func:`load_config`, which hands them over through :data:`_SOURCES`.
    """

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        case_sensitive=False,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No .env file and no secrets directory: a project's settings are its file and its environment.
        return _SOURCES.get()


class _ConfigFileSource(TomlConfigSettingsSource):
    """``orchestrate.toml``, or the ``[tool.orchestrate]`` table of ``pyproject.toml``.

    Read with :func:`~orchestrator.userfiles.load_structured_file`, so a syntax error names the
    file, line and column like every other user file; no file means no settings from it.
    """

    def __init__(self, settings_cls: type[BaseSettings], config_file: Path | None) -> None:
        super().__init__(settings_cls, toml_file=config_file)

    def _read_file(self, path: Path | Traversable) -> dict[str, Any]:
        return _read_settings(Path(str(path)))


class _EnvironmentSource(EnvSettingsSource):
    """The ``ORCHESTRATE_<SECTION>__<KEY>`` variables of ``environ``, spelt as the file spells them.

    A value that should be a list or table but is not valid JSON is kept as text, so validation
    reports it like any wrong value (the variable, the field, an example) instead of failing to
    parse. Keys match the file's case-insensitively, so ``ORCHESTRATE_TARGETS__WEB__BASE_URL``
    overrides ``[targets.Web]`` rather than adding a second target.
    """

    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str], *, spelled_like: Mapping[str, Any]
    ) -> None:
        self._environ = environ
        self._spelling = spelled_like
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self._environ.items() if _is_setting_variable(name)}

    def decode_complex_value(self, field_name: str, field: FieldInfo | None, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)  # type: ignore[arg-type]
        except ValueError:
            return value

    def __call__(self) -> dict[str, Any]:
        return _spelled_like(super().__call__(), self._spelling)


def _spelled_like(values: Mapping[str, Any], existing: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every key spelt as ``existing`` spells it, at every depth."""
    spelling = {key.lower(): key for key in existing}
    result: dict[str, Any] = {}
    for key, value in values.items():
        name = spelling.get(key.lower(), key)
        inner = existing.get(name)
        if isinstance(value, Mapping) and isinstance(inner, Mapping):
            value = _spelled_like(value, inner)
        result[name] = value
    return result


def _is_setting_variable(name: str) -> bool:
    """``ORCHESTRATE_<SECTION>__<KEY>`` (any case); ``ORCHESTRATE_CHROMIUM`` and the like are not settings."""
    return name.upper().startswith(ENV_PREFIX) and ENV_NESTED_DELIMITER in name[len(ENV_PREFIX) :]


def _check_names(variables: list[str]) -> None:
    """Refuse a variable with an empty name part, or one naming no section (pydantic-settings skips those)."""
    for variable in variables:
        keys = variable[len(ENV_PREFIX) :].lower().split(ENV_NESTED_DELIMITER)
        if not all(keys):
            raise ConfigError(
                f"environment variable {variable}",
                "(name)",
                "has an empty section or key name",
                "name it ORCHESTRATE_<SECTION>__<KEY>, for example ORCHESTRATE_EVENTS__BATCH_SIZE=500",
            )
        if keys[0] not in ConfigSections.model_fields:
            try:
                ConfigSections.model_validate({keys[0]: {}})
            except ValidationError as exc:
                source = f"environment variable {variable}"
                raise config_error_from_validation(source, exc, model=ConfigSections, syntax="env") from None


def _variable_for(loc: tuple[str | int, ...], variables: list[str]) -> str:
    """Which variable brought the value at ``loc``: the first whose keys lead to it, or lie under it."""
    path = [str(part).lower() for part in loc]
    for variable in variables:
        keys = variable[len(ENV_PREFIX) :].lower().split(ENV_NESTED_DELIMITER)
        depth = min(len(keys), len(path))
        if keys[:depth] == path[:depth]:
            return f"environment variable {variable}"
    return f"environment variables {ENV_PREFIX}*"


# -------------------------------------------------------------------------------------------- files


def _existing_dir(path: str | os.PathLike[str], what: str) -> Path:
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_dir():
        problem = "is not a directory" if resolved.exists() else "does not exist"
        raise UsageError(f"the {what} {os.fspath(path)} {problem}")
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


def _validate_file(document: dict[str, Any], config_file: Path | None) -> None:
    try:
        ConfigSections.model_validate(document)
    except ValidationError as exc:
        error = config_error_from_validation(config_file, exc, model=ConfigSections, syntax="toml")
        if config_file is not None and config_file.name == PYPROJECT_FILE_NAME:
            error = ConfigError(config_file, f"tool.orchestrate.{error.field}", error.problem, error.fix)
        raise error from None
