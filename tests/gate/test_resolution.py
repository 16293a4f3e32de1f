"""Target and profile resolution, first match wins, and the errors that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import load_config
from orchestrator.errors import ConfigError, UsageError
from orchestrator.pipelines.test import plan_gate


def project(tmp_path: Path, toml: str = "", profiles: str | None = None, files: tuple[str, ...] = ()) -> Path:
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
    with pytest.raises(ConfigError, match=r"no profile named 'nightly'; available: a11y, full, mac-gate"):
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
