"""`init_project`: what it lays out, that the result loads, and that it never touches existing files."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
import yaml

from orchestrator.config import ConfigSections, load_config
from orchestrator.errors import ConfigError, UsageError
from orchestrator.pipelines.test import plan_gate
from orchestrator.policy.test_profiles import TestProfiles
from orchestrator.policyfiles import load_policy, load_policy_model, load_retention
from orchestrator.scaffold import CONFIG_TEMPLATE, TEST_PROFILES_TEMPLATE, init_project

EXPECTED = [
    ".orchestrator/policy",
    ".scenarios/catalog",
    ".scenarios/twins",
    "orchestrate.toml",
    ".scenarios/catalog/example",
    ".scenarios/catalog/example/ask-for-help.scenario.yaml",
    ".orchestrator/policy/test-profiles.yaml",
    ".orchestrator/policy/retention.yaml",
]


def uncommented(text: str, first: str) -> str:
    """The commented block of ``text`` starting at the line ``first``, with its ``# `` taken off."""
    lines = text.splitlines()
    start = lines.index(first)
    return "\n".join(line[2:] for line in lines[start:] if line.startswith("# ")) + "\n"


def relative(root: Path, paths: list[Path]) -> list[str]:
    return [path.relative_to(root).as_posix() for path in paths]


def test_init_lays_out_a_project(tmp_path: Path) -> None:
    result = init_project(tmp_path)
    assert result.root == tmp_path
    assert relative(tmp_path, result.created) == EXPECTED
    assert result.kept == []
    for name in (".orchestrator/policy", ".scenarios/catalog", ".scenarios/twins"):
        assert (tmp_path / name).is_dir()
    assert (tmp_path / "orchestrate.toml").read_text(encoding="utf-8") == CONFIG_TEMPLATE
    assert result.lines()[0] == "created .orchestrator/policy/"
    assert "created orchestrate.toml" in result.lines()


def test_generated_config_loads_and_equals_the_defaults(tmp_path: Path) -> None:
    init_project(tmp_path)
    config = load_config(tmp_path, env={})
    assert config.config_file == tmp_path.resolve() / "orchestrate.toml"
    assert {name: getattr(config, name) for name in ConfigSections.model_fields} == dict(ConfigSections())
    assert config.name == tmp_path.name


def test_generated_config_shows_every_setting() -> None:
    document = tomllib.loads(CONFIG_TEMPLATE)
    for section, info in ConfigSections.model_fields.items():
        model = info.annotation
        if not isinstance(model, type):  # a table of named entries, like [targets.NAME]
            assert f"# [{section}." in CONFIG_TEMPLATE
            continue
        assert f"[{section}]" in CONFIG_TEMPLATE
        for key in model.model_fields:  # type: ignore[attr-defined]
            # Settings whose default is "derived" (like the project name) are shown commented out.
            assert key in document.get(section, {}) or f"# {key} = " in CONFIG_TEMPLATE


def test_commented_target_example_is_valid_when_uncommented(tmp_path: Path) -> None:
    (tmp_path / "orchestrate.toml").write_text(
        uncommented(CONFIG_TEMPLATE, "# [targets.web]"), encoding="utf-8"
    )
    target = load_config(tmp_path).targets["web"]
    assert target.start_command == ["python", "-m", "myapp", "--port", "{port}"]
    assert target.base_url == "http://127.0.0.1:{port}"
    assert target.health_path == "/"


def test_a_fresh_project_points_the_gate_at_the_target_to_fill_in(tmp_path: Path) -> None:
    init_project(tmp_path)
    policy = load_policy_model("test-profiles", TestProfiles, tmp_path)
    assert (policy.default_target, policy.targets) == ("web", {"web": "smoke"})
    assert set(policy.profiles) == set(load_policy_model("test-profiles", TestProfiles, None).profiles)
    with pytest.raises(ConfigError) as caught:
        plan_gate(load_config(tmp_path, env={}), target=None, profile=None)
    assert "under [targets.web] in orchestrate.toml" in str(caught.value)


def test_filling_in_the_target_stanza_gives_a_runnable_plan(tmp_path: Path) -> None:
    init_project(tmp_path)
    config_file = tmp_path / "orchestrate.toml"
    stanza = uncommented(CONFIG_TEMPLATE, "# [targets.web]")
    config_file.write_text(config_file.read_text(encoding="utf-8") + "\n" + stanza, encoding="utf-8")
    plan = plan_gate(load_config(tmp_path, env={}), target=None, profile=None)
    assert (plan.target, plan.profile_name, plan.source) == ("web", "smoke", "test-profiles")
    assert plan.settings.start_command[:2] == ["python", "-m"]


def test_the_commented_profile_example_is_valid_when_uncommented(tmp_path: Path) -> None:
    policy_dir = tmp_path / ".orchestrator" / "policy"
    policy_dir.mkdir(parents=True)
    head = TEST_PROFILES_TEMPLATE.split("# Uncomment `profiles:`")[0]
    (policy_dir / "test-profiles.yaml").write_text(
        head + uncommented(TEST_PROFILES_TEMPLATE, "# profiles:"), encoding="utf-8"
    )
    policy = load_policy_model("test-profiles", TestProfiles, tmp_path)
    checkout = policy.profiles["checkout"]
    assert checkout.routes == ["/", "/cart", "/checkout"]
    assert [step.action for step in checkout.journeys[0].steps] == [
        "goto", "click", "fill", "press", "wait_for", "mark", "expect_visible",
    ]  # fmt: skip
    assert checkout.changed_paths["src/checkout/**"] == ["/checkout"]
    assert checkout.axe_impacts == ["critical", "serious"]
    assert policy.profiles["smoke"].routes == ["/", "/pricing", "/signup"]
    assert policy.profiles["smoke"].checks == ["axe_violations", "console_errors"]  # the rest as shipped
    (tmp_path / "orchestrate.toml").write_text('[targets.web]\nbase_url = "http://127.0.0.1:{port}"\n')
    assert plan_gate(load_config(tmp_path, env={}), target=None, profile="checkout").profile == checkout


def test_a_policy_overridden_under_another_suffix_is_kept_alone(tmp_path: Path) -> None:
    policy_dir = tmp_path / ".orchestrator" / "policy"
    policy_dir.mkdir(parents=True)
    (policy_dir / "test-profiles.json").write_text('{"default_target": "api", "targets": {"api": "smoke"}}')
    (policy_dir / "retention.yml").write_text("retention_days: 7\n")
    result = init_project(tmp_path)
    assert ".orchestrator/policy/test-profiles.json" in relative(tmp_path, result.kept)
    assert ".orchestrator/policy/retention.yml" in relative(tmp_path, result.kept)
    assert sorted(p.name for p in policy_dir.iterdir()) == ["retention.yml", "test-profiles.json"]
    assert load_policy_model("test-profiles", TestProfiles, tmp_path).default_target == "api"
    assert load_retention(tmp_path).retention_days == 7


def test_a_project_configured_in_pyproject_gets_no_shadowing_orchestrate_toml(tmp_path: Path) -> None:
    pyproject = b'[project]\nname = "app"\n\n[tool.orchestrate.events]\nbatch_size = 10\n'
    (tmp_path / "pyproject.toml").write_bytes(pyproject)
    result = init_project(tmp_path)
    assert not (tmp_path / "orchestrate.toml").exists()
    assert "pyproject.toml" in relative(tmp_path, result.kept)
    assert (tmp_path / "pyproject.toml").read_bytes() == pyproject
    assert load_config(tmp_path, env={}).events.batch_size == 10
    assert "[tool.orchestrate.targets.web] in pyproject.toml" in result.next_steps()[0]


def test_generated_retention_example_is_valid_and_equals_the_default(tmp_path: Path) -> None:
    init_project(tmp_path)
    example = tmp_path / ".orchestrator" / "policy" / "retention.yaml"
    assert yaml.safe_load(example.read_text(encoding="utf-8")) == load_policy("retention", None)
    assert load_policy("retention", tmp_path) == load_policy("retention", None)
    assert load_retention(tmp_path).retention_days == 30


def test_init_is_idempotent(tmp_path: Path) -> None:
    init_project(tmp_path)
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    again = init_project(tmp_path)
    assert again.created == []
    assert relative(tmp_path, again.kept) == EXPECTED
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == snapshot
    assert all(line.startswith("kept") for line in again.lines())


def test_init_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    config_bytes = b"# mine\r\n[events]\nbatch_size = 7\n\xe2\x9c\x93 not even valid\n"
    retention_bytes = b"retention_days: 99\n"
    (tmp_path / "orchestrate.toml").write_bytes(config_bytes)
    policy = tmp_path / ".orchestrator" / "policy"
    policy.mkdir(parents=True)
    (policy / "retention.yaml").write_bytes(retention_bytes)

    result = init_project(tmp_path)

    assert (tmp_path / "orchestrate.toml").read_bytes() == config_bytes
    assert (policy / "retention.yaml").read_bytes() == retention_bytes
    assert relative(tmp_path, result.kept) == [
        ".orchestrator/policy",
        "orchestrate.toml",
        ".orchestrator/policy/retention.yaml",
    ]
    assert relative(tmp_path, result.created) == [
        ".scenarios/catalog",
        ".scenarios/twins",
        ".scenarios/catalog/example",
        ".scenarios/catalog/example/ask-for-help.scenario.yaml",
        ".orchestrator/policy/test-profiles.yaml",
    ]


def test_a_dangling_symlink_is_left_alone(tmp_path: Path) -> None:
    link = tmp_path / "orchestrate.toml"
    os.symlink(tmp_path / "nowhere.toml", link)
    result = init_project(tmp_path)
    assert link in result.kept
    assert link.is_symlink()
    assert not (tmp_path / "nowhere.toml").exists()


def test_init_creates_a_missing_root(tmp_path: Path) -> None:
    root = tmp_path / "new" / "project"
    result = init_project(root)
    assert result.created[0] == root
    assert (root / "orchestrate.toml").is_file()


def test_something_in_the_way_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / ".scenarios").write_text("a file, not a dir", encoding="utf-8")
    with pytest.raises(UsageError, match=r"\.scenarios is in the way"):
        init_project(tmp_path)
    assert (tmp_path / ".scenarios").read_text(encoding="utf-8") == "a file, not a dir"


def test_the_example_scenario_is_a_valid_catalog_entry(tmp_path: Path) -> None:
    init_project(tmp_path)
    from orchestrator.pipelines.scenarios import open_catalog

    catalog = open_catalog(load_config(tmp_path, env={}))
    assert [str(problem) for problem in catalog.problems] == []
    assert list(catalog.entries) == ["ask-for-help"]


def test_a_project_with_its_own_scenarios_gets_no_example(tmp_path: Path) -> None:
    own = tmp_path / ".scenarios" / "catalog" / "billing" / "refund.scenario.yaml"
    own.parent.mkdir(parents=True)
    own.write_text("id: refund\n")
    init_project(tmp_path)
    assert not (tmp_path / ".scenarios" / "catalog" / "example").exists()
