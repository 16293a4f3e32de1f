"""Which target and profile a gate run uses (DESIGN section 4), with errors that say what to fix.

The target, first match wins: ``--target``; the project's ``.orchestrator/policy/test-profiles``
(its ``default_target``, or its only entry under ``targets``); ``playwright.config.{ts,js}`` in
the project means ``web``; ``Package.swift`` means ``mac``; otherwise an error listing what was
tried.

The profile: an explicit ``--profile`` always wins. Without it, the target's configured profile
applies (``profile`` under ``[targets.NAME]`` in ``orchestrate.toml``, else the target's entry
under ``targets`` in test-profiles), else the driver's default (``smoke`` for web, ``mac-gate``
for mac).

Everything is checked before anything is written: a target name must be one a run id can
carry, and must be known (declared in ``orchestrate.toml`` or test-profiles, or implied by
``playwright.config`` / ``Package.swift``); a profile must exist. Each mistake is a
:class:`~orchestrator.errors.UsageError` (a flag) or :class:`~orchestrator.errors.ConfigError` (a
file) listing what is known, so the CLI exits 2 with the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import process

from orchestrator.config import CONFIG_FILE_NAME, PYPROJECT_FILE_NAME, ProjectConfig, TargetSection
from orchestrator.errors import ConfigError, UsageError
from orchestrator.policy.test_profiles import (
    Profile,
    Resolution,
    ResolutionFailure,
    TestProfiles,
    resolve_target,
)
from orchestrator.policyfiles import load_policy_model, project_policy_file
from orchestrator.runs import TARGET_NAME_RULE, is_target_name

__all__ = ["GatePlan", "plan_gate"]

_PROBED = ("playwright.config.ts", "playwright.config.js", "Package.swift")
_POLICY_HINT = ".orchestrator/policy/test-profiles.yaml"
# The rule a run id (<target>-<epoch ms>) puts on its target part; see orchestrator.runs.


@dataclass(frozen=True)
class GatePlan:
    """A resolved gate run: the target (with its settings), the profile and how they were found."""

    target: str
    settings: TargetSection
    profile_name: str
    profile: Profile
    driver: str
    source: str
    """Which rule chose the target: ``flags``, ``test-profiles``, ``playwright.config``, ``Package.swift``."""
    profile_source: str
    """Which rule chose the profile: ``--profile``, ``orchestrate.toml``, ``test-profiles`` or ``default``."""


def plan_gate(config: ProjectConfig, *, target: str | None, profile: str | None) -> GatePlan:
    """Resolve target and profile (see the module docstring); raise a typed error that says what to fix."""
    if target is not None:
        _check_target_name(target, "--target")
    policy = load_policy_model("test-profiles", TestProfiles, config.root)
    policy_file = project_policy_file("test-profiles", config.root)
    present = [name for name in _PROBED if (config.root / name).exists()]
    known = _known_targets(config, policy, present)
    resolved = resolve_target(
        target_flag=target,
        profile_flag=profile,
        policy=policy,
        project_policy_file=str(policy_file.relative_to(config.root)) if policy_file else None,
        project_files=present,
        target_drivers={name: section.driver for name, section in config.targets.items()},
    )
    if isinstance(resolved, ResolutionFailure):
        raise UsageError(_unresolved_message(resolved, known))
    if target is None:
        _check_target_name(resolved.target, f"{policy_file or _POLICY_HINT}: default_target")
    if resolved.target not in known:
        raise UsageError(_unknown_target_message(resolved.target, known, config))
    return _plan(config, policy, resolved, profile, policy_file)


def _known_targets(config: ProjectConfig, policy: TestProfiles, present: list[str]) -> list[str]:
    """Targets this project declares or implies, sorted."""
    names = set(config.targets) | set(policy.targets)
    if policy.default_target:
        names.add(policy.default_target)
    if "playwright.config.ts" in present or "playwright.config.js" in present:
        names.add("web")
    if "Package.swift" in present:
        names.add("mac")
    return sorted(names)


def _check_target_name(name: str, where: str) -> None:
    if not is_target_name(name):
        raise UsageError(
            f"{where}: invalid target name {name!r}: a target name is {TARGET_NAME_RULE}. Fix: use a "
            "name such as 'web' or 'mac-app' (and the same name for its [targets.NAME] section)"
        )


def _unresolved_message(failure: ResolutionFailure, known: list[str]) -> str:
    declared = f" The project declares these targets: {', '.join(known)}." if known else ""
    return (
        "cannot tell which target to test; tried, in order: "
        + "; ".join(failure.tried)
        + "."
        + declared
        + f" Fix: pass --target NAME (and --profile NAME), or set default_target in {_POLICY_HINT}"
    )


def _section(config: ProjectConfig, target: str) -> str:
    """Where a target's settings go: ``[targets.web] in orchestrate.toml``, or pyproject's table."""
    if config.config_file is not None and config.config_file.name == PYPROJECT_FILE_NAME:
        return f"[tool.orchestrate.targets.{target}] in {PYPROJECT_FILE_NAME}"
    return f"[targets.{target}] in {CONFIG_FILE_NAME}"


def _unknown_target_message(name: str, known: list[str], config: ProjectConfig) -> str:
    if not known:
        listing = "this project declares no targets"
    else:
        listing = f"known targets: {', '.join(known)}"
        match = process.extractOne(name, known, score_cutoff=60)
        if match is not None:
            listing += f" (did you mean {match[0]!r}?)"
    return (
        f"there is no target named {name!r}; {listing}. Fix: pass --target with a known target, or "
        f"declare it: add a section {_section(config, name)} "
        f"(or `targets: {{{name}: PROFILE}}` to {_POLICY_HINT})"
    )


def _choose_profile(
    config: ProjectConfig, policy: TestProfiles, resolved: Resolution, flag: str | None
) -> tuple[str, str]:
    """The profile's name and which rule gave it: the flag, the target's configured one, the default."""
    if flag is not None:
        return flag, "--profile"
    settings = config.targets.get(resolved.target)
    if settings is not None and settings.profile:
        return settings.profile, CONFIG_FILE_NAME
    if resolved.target in policy.targets:
        return policy.targets[resolved.target], "test-profiles"
    return resolved.profile, "default"


def _missing_profile(
    name: str, source: str, target: str, policy: TestProfiles, config: ProjectConfig, policy_file: Path | None
) -> Exception:
    known = ", ".join(sorted(policy.profiles))
    problem = f"there is no profile named {name!r}; known profiles: {known}"
    where = policy_file or Path(_POLICY_HINT)
    add = f"or add `profiles: {{{name}: {{driver: web, routes: auto}}}}` to {where}"
    if source == "--profile":
        return UsageError(f"--profile: {problem}. Fix: pass --profile with one of those, {add}")
    if source == CONFIG_FILE_NAME:
        return ConfigError(
            config.config_file, f"targets.{target}.profile", problem, f"name one of those, {add}"
        )
    return ConfigError(where, f"targets.{target}", problem, f"name one of those, {add}")


def _plan(
    config: ProjectConfig,
    policy: TestProfiles,
    resolved: Resolution,
    profile_flag: str | None,
    policy_file: Path | None,
) -> GatePlan:
    profile_name, profile_source = _choose_profile(config, policy, resolved, profile_flag)
    chosen = policy.profiles.get(profile_name)
    if chosen is None:
        raise _missing_profile(profile_name, profile_source, resolved.target, policy, config, policy_file)
    settings = config.targets.get(resolved.target)
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
            f'add base_url = "http://127.0.0.1:8000" under {_section(config, resolved.target)}',
        )
    return GatePlan(
        resolved.target, settings, profile_name, chosen, chosen.driver, resolved.source, profile_source
    )
