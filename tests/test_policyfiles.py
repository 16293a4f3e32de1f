"""Policy files: shipped defaults, project overrides, messages naming the right file, and retention."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field

from orchestrator.errors import ConfigError, UsageError
from orchestrator.policy.retention import is_expired
from orchestrator.policy.test_profiles import TestProfiles
from orchestrator.policyfiles import (
    RetentionPolicy,
    available_policies,
    deep_merge,
    load_policy,
    load_policy_model,
    load_retention,
    project_policy_file,
)
from orchestrator.userfiles import StrictModel, load_structured_file


def policy_file(root: Path, name: str, text: str) -> Path:
    path = root / ".orchestrator" / "policy" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_defaults() -> None:
    assert "retention" in available_policies()
    assert load_policy("retention", None) == {"retention_days": 30}
    default = resources.files("orchestrator.policy") / "defaults" / "retention.yaml"
    assert default.is_file()
    assert load_retention(None) == RetentionPolicy(retention_days=30)


def test_a_project_without_overrides_gets_the_defaults(tmp_path: Path) -> None:
    assert load_policy("retention", tmp_path) == {"retention_days": 30}
    assert load_retention(tmp_path).retention_days == 30


def test_project_overrides_one_key_and_adds_one(tmp_path: Path) -> None:
    policy_file(tmp_path, "retention.yaml", "retention_days: 7\nnotes:\n  owner: qa\n")
    assert load_policy("retention", tmp_path) == {"retention_days": 7, "notes": {"owner": "qa"}}


@pytest.mark.parametrize("name", ["retention.yml", "retention.json"])
def test_yml_and_json_overrides(tmp_path: Path, name: str) -> None:
    policy_file(tmp_path, name, '{"retention_days": 3}' if name.endswith(".json") else "retention_days: 3\n")
    assert load_retention(tmp_path).retention_days == 3


class PathLikeOnly(os.PathLike[str]):
    def __init__(self, path: Path) -> None:
        self._path = path

    def __fspath__(self) -> str:
        return str(self._path)


def test_the_project_root_may_be_text_or_any_path_like(tmp_path: Path) -> None:
    written = policy_file(tmp_path, "retention.yaml", "retention_days: 4\n")
    for root in (str(tmp_path), PathLikeOnly(tmp_path)):
        assert project_policy_file("retention", root) == written
        assert load_policy("retention", root) == {"retention_days": 4}
        assert load_policy_model("retention", RetentionPolicy, root).retention_days == 4
        assert load_retention(root).retention_days == 4
    written.write_text("retention_days: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_retention(PathLikeOnly(tmp_path))
    assert info.value.path == written


def test_an_empty_or_all_comment_override_changes_nothing(tmp_path: Path) -> None:
    policy_file(tmp_path, "retention.yaml", "# retention_days: 3\n")
    assert load_policy("retention", tmp_path) == {"retention_days": 30}


def test_deep_merge_merges_mappings_and_replaces_lists_and_scalars() -> None:
    base = {"a": {"x": 1, "y": [1, 2], "z": {"deep": True}}, "b": "keep", "c": [1]}
    override = {"a": {"y": [3], "z": {"more": 1}}, "c": {"now": "a table"}, "d": None}
    merged = deep_merge(base, override)
    assert merged == {
        "a": {"x": 1, "y": [3], "z": {"deep": True, "more": 1}},
        "b": "keep",
        "c": {"now": "a table"},
        "d": None,
    }
    merged["a"]["y"].append(4)
    merged["a"]["z"]["deep"] = False
    assert base["a"] == {"x": 1, "y": [1, 2], "z": {"deep": True}}
    assert override["a"]["y"] == [3]


def test_bad_project_value_names_the_project_file(tmp_path: Path) -> None:
    path = policy_file(tmp_path, "retention.yaml", "retention_days: 0\n")
    with pytest.raises(ConfigError) as info:
        load_retention(tmp_path)
    error = info.value
    assert error.path == path
    assert error.field == "retention_days"
    assert error.problem == "must be at least 1 (got 0)"
    assert "`retention_days: 30`" in error.fix
    assert str(error).startswith(f"{path}: retention_days: must be at least 1")


def test_unknown_project_key_names_the_project_file_and_known_keys(tmp_path: Path) -> None:
    path = policy_file(tmp_path, "retention.yaml", "retension_days: 5\n")
    with pytest.raises(ConfigError) as info:
        load_retention(tmp_path)
    assert info.value.path == path
    assert info.value.problem == "is not a known field; known fields: retention_days"
    assert info.value.fix == "rename `retension_days` to `retention_days`, or remove it"


def test_a_field_from_the_default_names_the_default_file(tmp_path: Path) -> None:
    class LongRetention(StrictModel):
        retention_days: int = Field(ge=90)
        notes: str = ""

    policy_file(tmp_path, "retention.yaml", 'notes: "fine"\n')
    with pytest.raises(ConfigError) as info:
        load_policy_model("retention", LongRetention, tmp_path)
    assert info.value.path is not None
    assert info.value.path.name == "retention.yaml"
    assert info.value.path.parent.name == "defaults"
    assert info.value.field == "retention_days"


def test_missing_required_field_is_blamed_on_the_project_file(tmp_path: Path) -> None:
    class NeedsOwner(StrictModel):
        retention_days: int
        owner: str

    path = policy_file(tmp_path, "retention.yaml", "retention_days: 3\n")
    with pytest.raises(ConfigError) as info:
        load_policy_model("retention", NeedsOwner, tmp_path)
    assert (info.value.path, info.value.field, info.value.problem) == (
        path,
        "owner",
        "is required but missing",
    )


def test_syntax_error_in_a_project_file(tmp_path: Path) -> None:
    path = policy_file(tmp_path, "retention.yaml", "retention_days: [30\n")
    with pytest.raises(ConfigError) as info:
        load_policy("retention", tmp_path)
    assert info.value.path == path
    assert info.value.field == "(syntax)"
    assert "line 2" in info.value.problem


def test_project_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    policy_file(tmp_path, "retention.yaml", "- 30\n")
    with pytest.raises(ConfigError, match=r"\(document\): must be a mapping of settings \(got a list\)"):
        load_policy("retention", tmp_path)


def test_two_project_files_for_one_policy(tmp_path: Path) -> None:
    policy_file(tmp_path, "retention.yaml", "retention_days: 3\n")
    policy_file(tmp_path, "retention.json", '{"retention_days": 4}')
    with pytest.raises(ConfigError) as info:
        load_policy("retention", tmp_path)
    message = str(info.value)
    assert "retention.yaml and retention.json" in message
    assert "keep retention.yaml and delete retention.json" in info.value.fix
    with pytest.raises(ConfigError):
        project_policy_file("retention", tmp_path)


def test_a_project_only_policy_and_an_unknown_one(tmp_path: Path) -> None:
    policy_file(tmp_path, "house-rules.json", '{"max": 3}')
    assert load_policy("house-rules", tmp_path) == {"max": 3}
    assert (
        project_policy_file("house-rules", tmp_path)
        == tmp_path / ".orchestrator" / "policy" / "house-rules.json"
    )
    with pytest.raises(UsageError, match=r"no policy named 'nothing-here'.*shipped: .*retention"):
        load_policy("nothing-here", tmp_path)
    with pytest.raises(UsageError, match="not a policy name"):
        load_policy("../retention", tmp_path)


# -------------------------------------------------------------------------------------- file reading


def test_json_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{\n  "a": 1,\n}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_structured_file(path)
    assert info.value.field == "(syntax)"
    assert "is not valid JSON at line 3, column 1" in info.value.problem


def test_yaml_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\nb: 2\na: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_structured_file(path)
    assert "line 3" in info.value.problem
    assert "'a' twice" in info.value.problem
    merge = tmp_path / "merge.yaml"
    merge.write_text("base: &b {x: 1}\nderived:\n  <<: *b\n  x: 2\n", encoding="utf-8")
    assert load_structured_file(merge) == {"base": {"x": 1}, "derived": {"x": 2}}


def test_unreadable_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\(file\): cannot be read"):
        load_structured_file(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="unsupported suffix"):
        load_structured_file(tmp_path / "x.ini")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"a = 1\n\xff\xfe")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_structured_file(binary)


# ------------------------------------------------------------------------------------------- retention

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_retention_boundaries() -> None:
    assert not is_expired(NOW - timedelta(days=30), NOW, 30)
    assert is_expired(NOW - timedelta(days=30, seconds=1), NOW, 30)
    assert not is_expired(NOW + timedelta(days=400), NOW, 1)
    assert not is_expired(NOW - timedelta(days=5000), NOW, 10**12)
    other_zone = (NOW - timedelta(days=2)).astimezone(timezone(timedelta(hours=-7)))
    assert is_expired(other_zone, NOW, 1)


def test_retention_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        is_expired(NOW, NOW, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_expired(datetime(2026, 1, 1), NOW, 3)  # a naive datetime


@given(age_s=st.integers(min_value=-(10**9), max_value=10**9), days=st.integers(min_value=1, max_value=3650))
def test_retention_expires_exactly_the_runs_older_than_the_limit(age_s: int, days: int) -> None:
    created = NOW - timedelta(seconds=age_s)
    assert is_expired(created, NOW, days) == (age_s > days * 86_400)


# --------------------------------------------------------------------------------------- test profiles


def test_shipped_web_profiles_discover_their_routes() -> None:
    profiles = load_policy_model("test-profiles", TestProfiles, None).profiles
    for name, max_routes in (("smoke", 25), ("full", 100), ("a11y", 100)):
        profile = profiles[name]
        assert profile.routes == "auto" and profile.auto_routes and profile.route_list == [], name
        assert (profile.max_routes, profile.max_depth) == (max_routes, 3), name
    assert profiles["onboarding"].routes == [] and not profiles["onboarding"].auto_routes


def test_a_project_lists_routes_or_narrows_the_crawl(tmp_path: Path) -> None:
    policy_file(
        tmp_path,
        "test-profiles.yaml",
        "profiles:\n  smoke: {routes: [/, /pricing]}\n  full: {max_routes: 5, max_depth: 1}\n"
        "  a11y: {allowed_origins: ['HTTPS://Docs.Example.com:443/', 'http://127.0.0.1:9000']}\n",
    )
    profiles = load_policy_model("test-profiles", TestProfiles, tmp_path).profiles
    assert profiles["smoke"].routes == ["/", "/pricing"] and not profiles["smoke"].auto_routes
    assert (profiles["full"].routes, profiles["full"].max_routes, profiles["full"].max_depth) == (
        "auto",
        5,
        1,
    )
    assert profiles["a11y"].allowed_origins == ["https://docs.example.com", "http://127.0.0.1:9000"]


@pytest.mark.parametrize(
    ("override", "field", "problem"),
    [
        ("routes: everything", "profiles.smoke.routes", "auto"),
        ("max_routes: 0", "profiles.smoke.max_routes", "must be at least 1 (got 0)"),
        ("max_depth: -1", "profiles.smoke.max_depth", "must be at least 0 (got -1)"),
        ("allowed_origins: [docs.example.com]", "profiles.smoke.allowed_origins", "is not an origin"),
        (
            "allowed_origins: ['https://docs.example.com/guide']",
            "profiles.smoke.allowed_origins",
            "drop everything after the host and port",
        ),
    ],
)
def test_bad_crawl_settings_name_the_project_file_and_field(
    tmp_path: Path, override: str, field: str, problem: str
) -> None:
    path = policy_file(tmp_path, "test-profiles.yaml", f"profiles:\n  smoke:\n    {override}\n")
    with pytest.raises(ConfigError) as caught:
        load_policy_model("test-profiles", TestProfiles, tmp_path)
    assert caught.value.path == path
    assert caught.value.field.startswith(field)
    assert problem in str(caught.value)
