"""Project config: discovery, defaults, environment overrides, and messages for every kind of mistake."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field, ValidationError

from orchestrator.config import ConfigSections, ProjectConfig, find_project_root, load_config, policy_dir_of
from orchestrator.errors import ConfigError, UsageError
from orchestrator.userfiles import StrictModel, load_structured_file, validate_document
from orchestrator.validation import config_error_from_validation, explain_validation_error, format_loc

NO_ENV: dict[str, str] = {}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


class PathLikeOnly(os.PathLike[str]):
    """A path-like object that is not a ``Path``: what callers other than ours may pass."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def __fspath__(self) -> str:
        return str(self._path)


def config_error(tmp_path: Path, text: str, name: str = "orchestrate.toml") -> ConfigError:
    write(tmp_path / name, text)
    with pytest.raises(ConfigError) as info:
        load_config(start=tmp_path, env=NO_ENV)
    return info.value


# ------------------------------------------------------------------------------------------ discovery


def test_no_file_anywhere_gives_defaults_rooted_at_the_start_dir(tmp_path: Path) -> None:
    start = tmp_path / "work"
    start.mkdir()
    config = load_config(start=start, env=NO_ENV)
    assert config.root == start.resolve()
    assert config.config_file is None
    assert config.name == "work"
    assert config.events.batch_size == 1000
    assert config.events.max_pending == 50_000
    assert config.state_dir == start.resolve() / ".orchestrator"
    assert config.events_db == start.resolve() / ".orchestrator" / "events.db"
    assert config.ui_runs_dir == start.resolve() / ".orchestrator" / "runs"
    assert config.scenario_runs_dir == start.resolve() / ".scenarios" / "runs"
    assert config.scenarios_dir == start.resolve() / ".scenarios"
    assert config.policy_dir == start.resolve() / ".orchestrator" / "policy"


def test_walks_up_from_a_nested_dir_to_the_first_config_file(tmp_path: Path) -> None:
    write(tmp_path / "orchestrate.toml", "[events]\nbatch_size = 1\n")
    project = tmp_path / "project"
    write(project / "orchestrate.toml", '[project]\nname = "inner"\n[events]\nbatch_size = 123\n')
    nested = project / "src" / "pkg" / "deep"
    nested.mkdir(parents=True)

    config = load_config(start=nested, env=NO_ENV)

    assert config.root == project.resolve()
    assert config.config_file == project.resolve() / "orchestrate.toml"
    assert config.name == "inner"
    assert config.events.batch_size == 123
    assert find_project_root(nested) == (project.resolve(), project.resolve() / "orchestrate.toml")


def test_pyproject_with_tool_orchestrate_table_is_a_project(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "pkg"\n\n[tool.orchestrate.events]\nbatch_size = 42\n\n[tool.orchestrate.runs]\n'
        'ui_dir = "out/runs"\n',
    )
    (tmp_path / "sub").mkdir()
    config = load_config(start=tmp_path / "sub", env=NO_ENV)
    assert config.root == tmp_path.resolve()
    assert config.config_file == tmp_path.resolve() / "pyproject.toml"
    assert config.events.batch_size == 42
    assert config.ui_runs_dir == tmp_path.resolve() / "out" / "runs"


def test_pyproject_without_our_table_is_passed_over(tmp_path: Path) -> None:
    write(tmp_path / "orchestrate.toml", "[events]\nbatch_size = 7\n")
    inner = tmp_path / "inner"
    write(inner / "pyproject.toml", '[project]\nname = "other"\n[tool.ruff]\nline-length = 100\n')
    config = load_config(start=inner, env=NO_ENV)
    assert config.root == tmp_path.resolve()
    assert config.events.batch_size == 7


def test_unrelated_broken_pyproject_on_the_way_up_is_no_error(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[project\nthis is not toml")
    (tmp_path / "a").mkdir()
    config = load_config(start=tmp_path / "a", env=NO_ENV)
    assert config.config_file is None


def test_orchestrate_toml_wins_over_pyproject_in_the_same_dir(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.orchestrate.events]\nbatch_size = 1\n")
    write(tmp_path / "orchestrate.toml", "[events]\nbatch_size = 2\n")
    config = load_config(start=tmp_path, env=NO_ENV)
    assert config.config_file == tmp_path.resolve() / "orchestrate.toml"
    assert config.events.batch_size == 2


def test_start_defaults_to_the_working_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "orchestrate.toml", "[events]\nbatch_size = 9\n")
    (tmp_path / "x").mkdir()
    monkeypatch.chdir(tmp_path / "x")
    config = load_config(env=NO_ENV)
    assert config.root == tmp_path.resolve()
    assert config.events.batch_size == 9


def test_project_option_looks_only_at_that_dir(tmp_path: Path) -> None:
    write(tmp_path / "orchestrate.toml", "[events]\nbatch_size = 9\n")
    child = tmp_path / "child"
    child.mkdir()
    config = load_config(child, env=NO_ENV)
    assert config.root == child.resolve()
    assert config.config_file is None
    assert config.events.batch_size == 1000


def test_project_option_reads_the_dir_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "proj" / "orchestrate.toml", "[events]\nmax_pending = 5\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("proj"), start=tmp_path / "elsewhere", env=NO_ENV)
    assert config.root == (tmp_path / "proj").resolve()
    assert config.events.max_pending == 5


def test_project_option_pointing_nowhere_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_config(tmp_path / "missing", env=NO_ENV)
    write(tmp_path / "file.txt", "x")
    with pytest.raises(UsageError, match="is not a directory"):
        load_config(tmp_path / "file.txt", env=NO_ENV)


def test_paths_relative_to_the_root_and_absolute_paths_kept(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "events.db"
    write(
        tmp_path / "orchestrate.toml",
        f'[events]\ndb = "{elsewhere.as_posix()}"\n[runs]\nscenario_dir = "s/runs"\n',
    )
    config = load_config(start=tmp_path, env=NO_ENV)
    assert config.events_db == elsewhere
    assert config.scenario_runs_dir == tmp_path.resolve() / "s" / "runs"


def test_loading_writes_nothing(tmp_path: Path) -> None:
    write(tmp_path / "orchestrate.toml", "[events]\nbatch_size = 3\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    load_config(start=tmp_path, env={"ORCHESTRATE_EVENTS__BATCH_SIZE": "4"})
    load_config(tmp_path, env=NO_ENV)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_config(start=tmp_path, env=NO_ENV)
    with pytest.raises(ValidationError):
        config.root = Path("/")  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.events.batch_size = 1  # type: ignore[misc]


def test_every_section_of_the_file_schema_is_on_the_project_config() -> None:
    assert set(ConfigSections.model_fields) <= set(ProjectConfig.model_fields)
    assert set(ProjectConfig.model_fields) - set(ConfigSections.model_fields) == {"root", "config_file"}


def test_every_path_may_be_text_or_any_path_like(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root / "orchestrate.toml", "[events]\nbatch_size = 8\n")
    nested = root / "a" / "b"
    nested.mkdir(parents=True)
    for given in (str(root), PathLikeOnly(root)):
        assert load_config(given, env=NO_ENV).events.batch_size == 8
    for start in (str(nested), PathLikeOnly(nested)):
        config = load_config(start=start, env=NO_ENV)
        assert (config.root, config.config_file) == (root.resolve(), root.resolve() / "orchestrate.toml")
        assert find_project_root(start) == (root.resolve(), root.resolve() / "orchestrate.toml")
    assert (
        config.resolve("out/runs")
        == config.resolve(PathLikeOnly(Path("out/runs")))
        == root.resolve() / "out/runs"
    )
    assert policy_dir_of(str(root)) == policy_dir_of(PathLikeOnly(root)) == root / ".orchestrator" / "policy"
    assert load_structured_file(PathLikeOnly(root / "orchestrate.toml")) == {"events": {"batch_size": 8}}
    with pytest.raises(UsageError, match=r"the project directory .*missing does not exist"):
        load_config(PathLikeOnly(tmp_path / "missing"), env=NO_ENV)
    with pytest.raises(ConfigError) as info:
        validate_document(Profiles, {"profiles": 1}, path=PathLikeOnly(tmp_path / "p.yaml"))
    assert info.value.path == tmp_path / "p.yaml"
    assert "write it as a mapping" in info.value.fix


# ------------------------------------------------------------------------------------------ environment


def test_env_overrides_the_file(tmp_path: Path) -> None:
    write(tmp_path / "orchestrate.toml", "[events]\nbatch_size = 300\nmax_pending = 20\n")
    config = load_config(
        start=tmp_path,
        env={"ORCHESTRATE_EVENTS__BATCH_SIZE": "200", "orchestrate_runs__ui_dir": "custom/runs"},
    )
    assert config.events.batch_size == 200
    assert config.events.max_pending == 20
    assert config.ui_runs_dir == tmp_path.resolve() / "custom" / "runs"


def test_env_without_double_underscore_is_not_config(tmp_path: Path) -> None:
    config = load_config(
        start=tmp_path,
        env={"ORCHESTRATE_CHROMIUM": "/usr/bin/chromium", "ORCHESTRATE_EVENTS": "x", "HOME": "/"},
    )
    assert config == load_config(start=tmp_path, env=NO_ENV)


def test_invalid_env_value_names_the_variable(tmp_path: Path) -> None:
    write(tmp_path / "orchestrate.toml", "[events]\nbatch_size = 300\n")
    with pytest.raises(ConfigError) as info:
        load_config(start=tmp_path, env={"ORCHESTRATE_EVENTS__BATCH_SIZE": "lots"})
    error = info.value
    assert str(error.path) == "environment variable ORCHESTRATE_EVENTS__BATCH_SIZE"
    assert error.field == "events.batch_size"
    assert error.problem == "is not a valid integer (got 'lots')"
    assert "ORCHESTRATE_EVENTS__BATCH_SIZE=1000" in error.fix
    assert str(error).startswith("environment variable ORCHESTRATE_EVENTS__BATCH_SIZE: events.batch_size:")


def test_env_out_of_range_and_unknown_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(start=tmp_path, env={"ORCHESTRATE_EVENTS__MAX_PENDING": "0"})
    assert info.value.problem == "must be at least 1 (got '0')"
    assert "from 1 to 10000000" in info.value.fix

    with pytest.raises(ConfigError) as info:
        load_config(start=tmp_path, env={"ORCHESTRATE_EVENTS__BATCHSIZE": "5"})
    assert str(info.value.path) == "environment variable ORCHESTRATE_EVENTS__BATCHSIZE"
    assert info.value.field == "events.batchsize"
    assert "known fields: db, batch_size, max_pending" in info.value.problem
    assert "batch_size" in info.value.fix


def test_env_with_empty_key_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ORCHESTRATE_EVENTS__: .*empty"):
        load_config(start=tmp_path, env={"ORCHESTRATE_EVENTS__": "5"})


def test_a_bad_file_is_blamed_on_the_file_even_with_env_set(tmp_path: Path) -> None:
    write(tmp_path / "orchestrate.toml", '[events]\nbatch_size = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(start=tmp_path, env={"ORCHESTRATE_EVENTS__BATCH_SIZE": "5"})
    assert info.value.path == tmp_path.resolve() / "orchestrate.toml"


def test_the_process_environment_is_read_when_no_env_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "orchestrate.toml", "[events]\nbatch_size = 300\n")
    monkeypatch.setenv("ORCHESTRATE_EVENTS__BATCH_SIZE", "11")
    assert load_config(start=tmp_path).events.batch_size == 11
    assert load_config(start=tmp_path, env=NO_ENV).events.batch_size == 300


def test_a_dotenv_file_is_not_a_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / ".env", "ORCHESTRATE_EVENTS__BATCH_SIZE=7\n")
    monkeypatch.chdir(tmp_path)
    assert load_config(start=tmp_path, env=NO_ENV).events.batch_size == 1000


def test_env_lists_and_tables_are_json(tmp_path: Path) -> None:
    config = load_config(
        start=tmp_path,
        env={
            "ORCHESTRATE_TARGETS__WEB__START_COMMAND": '["npm", "start"]',
            "ORCHESTRATE_TARGETS__API": '{"base_url": "http://127.0.0.1:9000", "health_path": "/up"}',
            "ORCHESTRATE_TARGETS__WEB__ENV__NODE_ENV": "test",
        },
    )
    assert config.targets["web"].start_command == ["npm", "start"]
    assert config.targets["web"].env == {"node_env": "test"}
    assert (config.targets["api"].base_url, config.targets["api"].health_path) == (
        "http://127.0.0.1:9000",
        "/up",
    )


def test_env_value_that_is_not_the_json_its_field_needs_names_the_variable(tmp_path: Path) -> None:
    for value in ("npm start", "[npm"):
        with pytest.raises(ConfigError) as info:
            load_config(start=tmp_path, env={"ORCHESTRATE_TARGETS__WEB__START_COMMAND": value})
        assert str(info.value.path) == "environment variable ORCHESTRATE_TARGETS__WEB__START_COMMAND"
        assert info.value.field == "targets.web.start_command"
        assert info.value.problem == f"is not a list (got {value!r})"
        assert "ORCHESTRATE_TARGETS__WEB__START_COMMAND=[]" in info.value.fix


def test_env_overrides_a_name_the_file_spells_differently(tmp_path: Path) -> None:
    write(tmp_path / "orchestrate.toml", '[targets.MyApp]\nbase_url = "http://a"\nhealth_path = "/ok"\n')
    config = load_config(start=tmp_path, env={"ORCHESTRATE_TARGETS__MYAPP__BASE_URL": "http://b"})
    assert list(config.targets) == ["MyApp"]
    assert (config.targets["MyApp"].base_url, config.targets["MyApp"].health_path) == ("http://b", "/ok")


def test_env_naming_no_section_or_going_inside_a_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(start=tmp_path, env={"ORCHESTRATE_EVNTS__BATCH_SIZE": "5"})
    assert str(info.value.path) == "environment variable ORCHESTRATE_EVNTS__BATCH_SIZE"
    assert info.value.field == "evnts"
    assert info.value.problem == (
        "is not a known field; known fields: project, events, runs, targets, issues, sut, scenarios, llm, "
        "assistant, coder, analyst, telemetry, ray"
    )
    assert info.value.fix == "rename `evnts` to `events`, or remove it"

    with pytest.raises(ConfigError) as info:
        load_config(
            start=tmp_path, env={"ORCHESTRATE_EVENTS__DB__PATH": "x.db", "ORCHESTRATE_RUNS__UI_DIR": "r"}
        )
    assert str(info.value.path) == "environment variable ORCHESTRATE_EVENTS__DB__PATH"
    assert (info.value.field, info.value.problem) == ("events.db", "is not a valid path (got a table)")
    assert "ORCHESTRATE_EVENTS__DB=.orchestrator/events.db" in info.value.fix


def test_of_two_bad_variables_the_first_field_is_reported_with_its_own_variable(tmp_path: Path) -> None:
    env = {"ORCHESTRATE_RUNS__UI_DIR": "5", "ORCHESTRATE_EVENTS__BATCH_SIZE": "x", "ORCHESTRATE_RUNS__X": "1"}
    with pytest.raises(ConfigError) as info:
        load_config(start=tmp_path, env=env)
    assert str(info.value.path) == "environment variable ORCHESTRATE_EVENTS__BATCH_SIZE"
    assert info.value.field == "events.batch_size"


# ------------------------------------------------------------------------------------------ bad files


def test_syntax_error_names_file_line_and_shape(tmp_path: Path) -> None:
    error = config_error(tmp_path, "[events]\nbatch_size 500\n")
    assert error.path == tmp_path.resolve() / "orchestrate.toml"
    assert error.field == "(syntax)"
    assert "line 2" in error.problem
    assert "key = value" in error.fix
    assert str(error).startswith(
        f"{tmp_path.resolve() / 'orchestrate.toml'}: (syntax): is not valid TOML at line 2"
    )


def test_unknown_key_lists_the_known_fields_and_suggests_one(tmp_path: Path) -> None:
    error = config_error(tmp_path, "[events]\nbatch_sise = 5\n")
    assert error.path == tmp_path.resolve() / "orchestrate.toml"
    assert error.field == "events.batch_sise"
    assert error.problem == "is not a known field; known fields: db, batch_size, max_pending"
    assert error.fix == "rename `batch_sise` to `batch_size`, or remove it"


def test_unknown_section_lists_the_sections(tmp_path: Path) -> None:
    error = config_error(tmp_path, "[evnts]\nbatch_size = 5\n")
    assert error.field == "evnts"
    assert error.problem == (
        "is not a known field; known fields: project, events, runs, targets, issues, sut, scenarios, llm, "
        "assistant, coder, analyst, telemetry, ray"
    )
    assert "`events`" in error.fix


def test_wrong_type_names_field_and_shows_the_default(tmp_path: Path) -> None:
    error = config_error(tmp_path, '[events]\nbatch_size = "abc"\n')
    assert error.field == "events.batch_size"
    assert error.problem == "is not a valid integer (got 'abc')"
    assert error.fix == "use a whole number from 1 to 100000, for example `batch_size = 1000`"
    assert str(error) == (
        f"{tmp_path.resolve() / 'orchestrate.toml'}: events.batch_size: is not a valid integer (got 'abc'). "
        "Fix: use a whole number from 1 to 100000, for example `batch_size = 1000`"
    )


@pytest.mark.parametrize(
    ("text", "field", "problem", "fix_part"),
    [
        (
            "[events]\nbatch_size = 200000\n",
            "events.batch_size",
            "must be at most 100000 (got 200000)",
            "1000",
        ),
        ("[events]\nbatch_size = 2.5\n", "events.batch_size", "is not a whole number (got 2.5)", "1000"),
        ("events = 5\n", "events", "is not a table of settings (got 5)", "`[events]` header"),
        ("[runs]\nui_dir = 5\n", "runs.ui_dir", "is not a valid path (got 5)", '".orchestrator/runs"'),
        ("[project]\nname = 5\n", "project.name", "is not text (got 5)", 'name = "demo"'),
        (
            '[project]\nname = ""\n',
            "project.name",
            "is too short: it needs at least 1 character (got '')",
            "demo",
        ),
    ],
)
def test_each_wrong_value(tmp_path: Path, text: str, field: str, problem: str, fix_part: str) -> None:
    error = config_error(tmp_path, text)
    assert (error.field, error.problem) == (field, problem)
    assert fix_part in error.fix


def test_pyproject_errors_name_the_full_table_path(tmp_path: Path) -> None:
    error = config_error(
        tmp_path, "[tool.orchestrate.events]\nbatch_size = true\nextra = 1\n", "pyproject.toml"
    )
    assert error.path == tmp_path.resolve() / "pyproject.toml"
    assert error.field == "tool.orchestrate.events.extra"
    assert "known fields: db, batch_size" in error.problem


def test_pyproject_table_that_is_not_a_table(tmp_path: Path) -> None:
    error = config_error(tmp_path, '[tool]\norchestrate = "yes"\n', "pyproject.toml")
    assert error.field == "tool.orchestrate"
    assert "[tool.orchestrate.events]" in error.fix


# ------------------------------------------------------------------------------------- validation helper


class Route(StrictModel):
    path: str
    timeout_s: float = Field(default=5.0, gt=0)


class Profile(StrictModel):
    routes: list[Route] = []
    mode: Literal["fast", "thorough"] = "fast"
    retries: int | list[int] = 0
    api_token: str = ""


class Profiles(StrictModel):
    profiles: dict[str, Profile] = {}


def explain(document: object, **kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        validate_document(Profiles, document, path=Path("profiles.yaml"), **kwargs)  # type: ignore[arg-type]
    return info.value


def test_nested_locations_are_written_as_users_write_them() -> None:
    error = explain({"profiles": {"smoke": {"routes": [{"path": "/"}, {"path": "/x", "timeout_s": 0}]}}})
    assert error.field == "profiles.smoke.routes[1].timeout_s"
    assert error.problem == "must be greater than 0.0 (got 0)"
    assert error.fix == "use a value that is greater than 0, for example `timeout_s: 5.0`"
    assert format_loc(("a", "b c", 0, "d")) == 'a."b c"[0].d'
    assert format_loc(()) == "(document)"


def test_missing_field_and_examples_by_field() -> None:
    error = explain({"profiles": {"smoke": {"routes": [{}]}}})
    assert (error.field, error.problem) == ("profiles.smoke.routes[0].path", "is required but missing")
    assert error.fix == 'add it, for example `path: "text"`'
    error = explain(
        {"profiles": {"smoke": {"routes": [{}]}}},
        examples={"profiles.smoke.routes.path": 'use a URL path, for example `path: "/login"`'},
    )
    assert error.fix == 'use a URL path, for example `path: "/login"`'


def test_literal_union_and_secret_values() -> None:
    error = explain({"profiles": {"p": {"mode": "slow"}}})
    assert error.problem == "must be one of 'fast' or 'thorough' (got 'slow')"
    assert error.fix == "use one of 'fast' or 'thorough', for example `mode: \"fast\"`"

    error = explain({"profiles": {"p": {"retries": "many"}}})
    assert error.field == "profiles.p.retries"
    assert error.problem == "matches none of its allowed forms (got 'many'): a whole number; or a list"
    assert error.fix == "use a whole number or a list, for example `retries: 0`"

    error = explain({"profiles": {"p": {"api_token": 12345678}}})
    assert error.problem == "is not text (got a hidden value)"
    assert "12345678" not in str(error)


def test_examples_follow_the_syntax_of_the_file() -> None:
    with pytest.raises(ValidationError) as info:
        Profiles.model_validate({"profiles": {"p": {"mode": 3}}})
    assert '`"mode": "fast"`' in config_error_from_validation(Path("p.json"), info.value, model=Profiles).fix
    assert '`mode = "fast"`' in config_error_from_validation(Path("p.toml"), info.value, model=Profiles).fix
    problem = explain_validation_error(info.value, model=Profiles, syntax="yaml")
    assert problem.loc == ("profiles", "p", "mode")
    assert problem.kind == "literal_error"


def test_without_the_model_the_error_is_still_readable() -> None:
    class Loose(BaseModel):
        count: int

    with pytest.raises(ValidationError) as info:
        Loose.model_validate({"count": "x"})
    error = config_error_from_validation(None, info.value)
    assert str(error) == "count: is not a valid integer (got 'x'). Fix: use a whole number"
    problem = explain_validation_error(info.value)
    assert str(problem) == "count: is not a valid integer (got 'x'). Fix: use a whole number"
    assert problem.to_error(PathLikeOnly(Path("c.toml"))).path == Path("c.toml")


class WebTarget(StrictModel):
    kind: Literal["web"]
    url: str


class MacTarget(StrictModel):
    kind: Literal["mac"]
    bundle: str


class Targets(StrictModel):
    tagged: dict[str, Annotated[WebTarget | MacTarget, Field(discriminator="kind")]] = {}
    untagged: WebTarget | MacTarget | None = None


def test_unions_of_tables() -> None:
    def error_for(document: object) -> ConfigError:
        with pytest.raises(ConfigError) as info:
            validate_document(Targets, document, path=Path("orchestrate.toml"))
        return info.value

    # A tagged union picks one alternative, so the error inside it is reported as is.
    error = error_for({"tagged": {"app": {"kind": "mac", "bundel": "x"}}})
    assert error.field == "tagged.app.bundel"
    assert error.problem == "is not a known field; known fields: kind, bundle"
    assert error.fix == "rename `bundel` to `bundle`, or remove it"

    error = error_for({"tagged": {"app": {"kind": "ios"}}})
    assert error.field == "tagged.app"
    assert error.fix == "set 'kind' to one of 'web', 'mac'"

    error = error_for({"untagged": {"kind": "mac"}})
    assert error.field == "untagged"
    assert error.problem.startswith("matches none of its allowed forms: WebTarget, where kind must be one of")
    assert "MacTarget, where bundle is required but missing" in error.problem
    assert error.fix == "use WebTarget or MacTarget"


@pytest.mark.parametrize(
    ("toml", "field", "problem"),
    [
        (
            '[targets.web]\nbase_url = "127.0.0.1:8000"\n',
            "targets.web.base_url",
            "absolute http:// or https://",
        ),
        ('[targets.web]\nbase_url = "javascript:alert(1)"\n', "targets.web.base_url", "absolute http://"),
        (
            '[issues]\napi_url = "http://oauth2:glpat-SECRET@127.0.0.1:1/api/v4"\n',
            "issues.api_url",
            "must not carry credentials",
        ),
    ],
)
def test_urls_are_absolute_web_urls_without_credentials(
    tmp_path: Path, toml: str, field: str, problem: str
) -> None:
    write(tmp_path / "orchestrate.toml", toml)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, env=NO_ENV)
    assert caught.value.field == field and problem in caught.value.problem
    assert "SECRET" not in str(caught.value)


def test_a_base_url_may_name_the_port_to_be_chosen(tmp_path: Path) -> None:
    write(tmp_path / "orchestrate.toml", '[targets.web]\nbase_url = "http://127.0.0.1:{port}/app"\n')
    assert load_config(tmp_path, env=NO_ENV).targets["web"].base_url == "http://127.0.0.1:{port}/app"
