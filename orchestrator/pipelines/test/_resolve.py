"""Which target and profile a gate run uses (DESIGN section 4), with errors that say what to fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestrator.config import ProjectConfig, TargetSection
from orchestrator.errors import ConfigError, UsageError
from orchestrator.policy.test_profiles import (
    Profile,
    Resolution,
    ResolutionFailure,
    TestProfiles,
    resolve_target,
)
from orchestrator.policyfiles import load_policy_model, project_policy_file

__all__ = ["GatePlan", "plan_gate"]

_PROBED = ("playwright.config.ts", "playwright.config.js", "Package.swift")


@dataclass(frozen=True)
class GatePlan:
    """A resolved gate run: the target (with its settings), the profile and how they were found."""

    target: str
    settings: TargetSection
    profile_name: str
    profile: Profile
    driver: str
    source: str


def plan_gate(config: ProjectConfig, *, target: str | None, profile: str | None) -> GatePlan:
    """Resolve target and profile: flags, the project's test-profiles, playwright.config, Package.swift."""
    policy = load_policy_model("test-profiles", TestProfiles, config.root)
    policy_file = project_policy_file("test-profiles", config.root)
    present = [name for name in _PROBED if (config.root / name).exists()]
    resolved = resolve_target(
        target_flag=target,
        profile_flag=profile,
        policy=policy,
        project_policy_file=str(policy_file.relative_to(config.root)) if policy_file else None,
        project_files=present,
        target_drivers={name: section.driver for name, section in config.targets.items()},
    )
    if isinstance(resolved, ResolutionFailure):
        raise UsageError(resolved.message())
    return _plan(config, policy, resolved, policy_file)


def _plan(
    config: ProjectConfig, policy: TestProfiles, resolved: Resolution, policy_file: Path | None
) -> GatePlan:
    settings = config.targets.get(resolved.target)
    profile_name = resolved.profile
    if settings is not None and settings.profile and resolved.source != "flags":
        profile_name = settings.profile
    chosen = policy.profiles.get(profile_name)
    if chosen is None:
        where = policy_file or Path(".orchestrator/policy/test-profiles.yaml")
        raise ConfigError(
            where,
            "profiles",
            f"there is no profile named {profile_name!r}; available: {', '.join(sorted(policy.profiles))}",
            f"pass --profile with one of those, or add "
            f"`profiles: {{{profile_name}: {{driver: web, routes: ['/']}}}}` to {where}",
        )
    if settings is None:
        settings = TargetSection(driver=chosen.driver)
    elif settings.driver != chosen.driver:
        raise ConfigError(
            config.config_file,
            f"targets.{resolved.target}.driver",
            f"the target uses driver {settings.driver!r} "
            f"but profile {profile_name!r} is for {chosen.driver!r}",
            f"pick a profile made for {settings.driver!r} targets, or set driver = {chosen.driver!r}",
        )
    if chosen.driver == "web" and not chosen.suite and not settings.base_url:
        raise ConfigError(
            config.config_file,
            f"targets.{resolved.target}.base_url",
            "a web target needs a base URL",
            f'add base_url = "http://127.0.0.1:8000" under [targets.{resolved.target}] in orchestrate.toml',
        )
    return GatePlan(resolved.target, settings, profile_name, chosen, chosen.driver, resolved.source)
