"""Target and profile resolution, first match wins, and the errors that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import load_config
from orchestrator.errors import ConfigError, UsageError
from orchestrator.pipelines.test import plan_gate


def project(tmp_path: Path, toml: str = "", profiles: str | None = None, files: tuple[str, ...] = ()) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "orchestrate.toml").write_text(toml)
    if profiles is not None:
        policy = tmp_path / ".orchestrator" / "policy"
        policy.mkdir(parents=True)
        (policy / "test-profiles.yaml").write_text(profiles)
    for name in files:
        (tmp_path / name).write_text("")
    return tmp_path


WEB = '[targets.web]\nbase_url = "http://127.0.0.1:{port}"\n'


def test_flags_win(tmp_path: Path) -> None:
    root = project(tmp_path, WEB, files=("Package.swift",))
    plan = plan_gate(load_config(root), target="web", profile="a11y")
    assert (plan.target, plan.profile_name, plan.driver, plan.source) == ("web", "a11y", "web", "flags")
    assert plan.profile.checks == ["axe_violations"]


def test_project_test_profiles_by_target_name(tmp_path: Path) -> None:
    root = project(
        tmp_path, WEB, profiles="default_target: web\ntargets: {web: full}\n", files=("Package.swift",)
    )
    plan = plan_gate(load_config(root), target=None, profile=None)
    assert (plan.target, plan.profile_name, plan.source) == ("web", "full", "test-profiles")


def test_playwright_config_means_web(tmp_path: Path) -> None:
    root = project(tmp_path, WEB, files=("playwright.config.ts",))
    plan = plan_gate(load_config(root), target=None, profile=None)
    assert (plan.target, plan.profile_name, plan.driver, plan.source) == (
        "web",
        "smoke",
        "web",
        "playwright.config",
    )


def test_package_swift_means_mac(tmp_path: Path) -> None:
    root = project(tmp_path, files=("Package.swift",))
    plan = plan_gate(load_config(root), target=None, profile=None)
    assert (plan.target, plan.profile_name, plan.driver) == ("mac", "mac-gate", "mac")


def test_nothing_resolves_lists_what_was_tried(tmp_path: Path) -> None:
    root = project(tmp_path)
    with pytest.raises(UsageError) as caught:
        plan_gate(load_config(root), target=None, profile=None)
    message = str(caught.value)
    for tried in ("--target", "test-profiles", "playwright.config", "Package.swift", "Fix: pass --target"):
        assert tried in message


def test_unknown_profile_lists_the_available_ones(tmp_path: Path) -> None:
    root = project(tmp_path, WEB)
    with pytest.raises(UsageError, match=r"no profile named 'nightly'; known profiles: a11y, full, mac-gate"):
        plan_gate(load_config(root), target="web", profile="nightly")


def test_project_profile_overrides_fields_of_a_shipped_one(tmp_path: Path) -> None:
    root = project(tmp_path, WEB, profiles="profiles:\n  smoke:\n    routes: ['/', '/pricing']\n")
    plan = plan_gate(load_config(root), target="web", profile="smoke")
    assert plan.profile.routes == ["/", "/pricing"]
    assert plan.profile.checks == ["axe_violations", "console_errors"]


def test_bad_project_profile_names_the_file_and_field(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        WEB,
        profiles="profiles:\n  smoke:\n    journeys:\n      - name: j\n        steps: [{jump: x}]\n",
    )
    with pytest.raises(ConfigError) as caught:
        plan_gate(load_config(root), target="web", profile="smoke")
    assert "test-profiles.yaml" in str(caught.value)
    assert "profiles.smoke.journeys[0].steps[0]" in str(caught.value)


def test_web_target_without_base_url_is_a_config_error(tmp_path: Path) -> None:
    root = project(tmp_path, "[targets.web]\ndriver = 'web'\n")
    with pytest.raises(ConfigError, match=r"targets.web.base_url: a web target needs a base URL"):
        plan_gate(load_config(root), target="web", profile="smoke")


def test_target_driver_must_match_the_profile(tmp_path: Path) -> None:
    root = project(tmp_path, WEB)
    with pytest.raises(ConfigError, match=r"targets.web.driver: the target uses driver 'web'"):
        plan_gate(load_config(root), target="web", profile="mac-gate")


# --- an explicit flag always wins; a target's configured profile applies without --profile ---

DEMO_LIKE = WEB + 'profile = "smoke"\n'
DEMO_POLICY = "default_target: web\ntargets: {web: smoke}\n"


def test_profile_flag_wins_without_a_target_flag(tmp_path: Path) -> None:
    root = project(tmp_path, DEMO_LIKE, profiles=DEMO_POLICY)
    plan = plan_gate(load_config(root), target=None, profile="full")
    assert (plan.target, plan.profile_name, plan.profile_source) == ("web", "full", "--profile")
    assert "onboarding_step_count" in plan.profile.checks


def test_profile_flag_wins_over_playwright_config_and_the_target_setting(tmp_path: Path) -> None:
    root = project(tmp_path, DEMO_LIKE, files=("playwright.config.ts",))
    plan = plan_gate(load_config(root), target=None, profile="a11y")
    assert (plan.source, plan.profile_name) == ("playwright.config", "a11y")


def test_an_unknown_profile_flag_is_an_error_even_when_the_target_has_one(tmp_path: Path) -> None:
    root = project(tmp_path, DEMO_LIKE, profiles=DEMO_POLICY)
    with pytest.raises(UsageError) as caught:
        plan_gate(load_config(root), target=None, profile="nonsense")
    message = str(caught.value)
    assert message.startswith("--profile: there is no profile named 'nonsense'")
    assert "known profiles: a11y, full, mac-gate, onboarding, smoke" in message


def test_the_targets_configured_profile_applies_with_a_target_flag(tmp_path: Path) -> None:
    toml = '[targets.unit]\ndriver = "command"\nprofile = "unit"\n'
    profiles = "profiles:\n  unit:\n    driver: command\n    command: [pytest]\n"
    root = project(tmp_path, toml, profiles=profiles)
    plan = plan_gate(load_config(root), target="unit", profile=None)
    assert (plan.target, plan.profile_name, plan.driver) == ("unit", "unit", "command")
    assert plan.profile_source == "orchestrate.toml"


def test_the_config_profile_wins_over_the_policy_targets_map(tmp_path: Path) -> None:
    root = project(tmp_path, WEB + 'profile = "a11y"\n', profiles="targets: {web: full}\n")
    assert plan_gate(load_config(root), target="web", profile=None).profile_name == "a11y"
    root2 = project(tmp_path / "two", WEB, profiles="targets: {web: full}\n")
    plan = plan_gate(load_config(root2), target="web", profile=None)
    assert (plan.profile_name, plan.profile_source) == ("full", "test-profiles")


def test_without_any_configured_profile_the_driver_default_applies(tmp_path: Path) -> None:
    root = project(tmp_path, WEB)
    plan = plan_gate(load_config(root), target="web", profile=None)
    assert (plan.profile_name, plan.profile_source) == ("smoke", "default")


def test_a_configured_profile_that_does_not_exist_names_the_file_and_field(tmp_path: Path) -> None:
    root = project(tmp_path, WEB + 'profile = "nightly"\n')
    with pytest.raises(ConfigError) as caught:
        plan_gate(load_config(root), target="web", profile=None)
    assert caught.value.field == "targets.web.profile"
    assert caught.value.path is not None and caught.value.path.name == "orchestrate.toml"
    assert "known profiles: a11y" in str(caught.value)


# --- unknown and malformed targets ---


def test_a_mistyped_target_lists_the_known_ones(tmp_path: Path) -> None:
    root = project(tmp_path, WEB, profiles="targets: {api: smoke}\n", files=("Package.swift",))
    with pytest.raises(UsageError) as caught:
        plan_gate(load_config(root), target="wbe", profile="smoke")
    message = str(caught.value)
    assert "there is no target named 'wbe'; known targets: api, mac, web" in message
    assert "did you mean 'web'?" in message
    assert "[targets.wbe]" in message
    assert "base URL" not in message


def test_a_target_in_a_project_with_none_says_so(tmp_path: Path) -> None:
    root = project(tmp_path)
    with pytest.raises(UsageError, match="this project declares no targets"):
        plan_gate(load_config(root), target="web", profile=None)


def test_a_default_target_naming_an_undeclared_target_is_still_known(tmp_path: Path) -> None:
    root = project(tmp_path, profiles="default_target: mac\n")
    plan = plan_gate(load_config(root), target=None, profile=None)
    assert (plan.target, plan.profile_name, plan.driver) == ("mac", "mac-gate", "mac")


@pytest.mark.parametrize("name", ["we\nb", "web\x1b[31m", "Web", "", "-web", "w" * 65, "[/bold]"])
def test_a_malformed_target_name_is_refused_and_shown_escaped(tmp_path: Path, name: str) -> None:
    root = project(tmp_path, WEB)
    with pytest.raises(UsageError) as caught:
        plan_gate(load_config(root), target=name, profile="smoke")
    message = str(caught.value)
    assert f"invalid target name {name!r}" in message
    assert "\n" not in message and "\x1b" not in message


def test_a_malformed_default_target_names_the_policy_file(tmp_path: Path) -> None:
    root = project(tmp_path, profiles="default_target: 'My Web'\n")
    with pytest.raises(UsageError, match=r"test-profiles.yaml: default_target: invalid target name 'My Web'"):
        plan_gate(load_config(root), target=None, profile=None)


def test_nothing_resolves_names_the_declared_targets(tmp_path: Path) -> None:
    root = project(tmp_path, WEB)
    with pytest.raises(UsageError, match=r"The project declares these targets: web\."):
        plan_gate(load_config(root), target=None, profile=None)


def test_hints_name_the_pyproject_table_when_the_settings_live_there(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.orchestrate.targets.web]\ndriver = 'web'\n")
    config = load_config(tmp_path)
    with pytest.raises(ConfigError, match=r"under \[tool\.orchestrate\.targets\.web\] in pyproject\.toml"):
        plan_gate(config, target="web", profile="smoke")
    with pytest.raises(
        UsageError, match=r"add a section \[tool\.orchestrate\.targets\.api\] in pyproject\.toml"
    ):
        plan_gate(config, target="api", profile="smoke")
