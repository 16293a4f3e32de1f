"""Test profiles for the UI gate, and how a target and profile are resolved.

A profile says which driver runs, which routes and journeys it visits, which rubric checks
apply, the browser mode and a timeout. Its routes are a list, or ``auto``: the web driver then
crawls the target from its base URL (see :class:`Profile`). A route given as an absolute URL must
be on the target's origin or on one the profile lists in ``allowed_origins``
(:func:`foreign_routes`). Shipped profiles live in
``defaults/test-profiles.yaml``; a project's ``.orchestrator/policy/test-profiles.yaml`` (or
``.json``) adds profiles or overrides fields of shipped ones, and may name a ``default_target``
and each target's default profile.

Pure rules: no I/O. The caller reads the files and reports validation errors with their path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "AUTO_ROUTES",
    "AXE_IMPACTS",
    "CHECK_NAMES",
    "AxeImpact",
    "CheckName",
    "ForeignRoute",
    "JourneySpec",
    "Profile",
    "Resolution",
    "ResolutionFailure",
    "StepSpec",
    "TestProfiles",
    "foreign_routes",
    "origin_of",
    "resolve_target",
]

CheckName = Literal["onboarding_step_count", "axe_violations", "console_errors", "liquid_glass"]
CHECK_NAMES: tuple[CheckName, ...] = (
    "onboarding_step_count",
    "axe_violations",
    "console_errors",
    "liquid_glass",
)
AxeImpact = Literal["critical", "serious", "moderate", "minor"]
AXE_IMPACTS: tuple[AxeImpact, ...] = ("critical", "serious", "moderate", "minor")
AUTO_ROUTES: Literal["auto"] = "auto"
"""``routes: auto``: the driver discovers the routes by crawling the target."""
StepAction = Literal["goto", "click", "fill", "press", "expect_visible", "mark", "wait_for"]
_ACTIONS: tuple[str, ...] = ("goto", "click", "fill", "press", "expect_visible", "mark", "wait_for")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepSpec(_Strict):
    """One journey step. In files a step is a one-key mapping::

    - goto: /signup
    - fill: {selector: "#email", value: "ada@example.com"}
    - press: {selector: "#email", key: Enter}
    - click: "text=Next"
    - expect_visible: "h1"
    - mark: "Account details"      # a step the user sees; counted by the onboarding check
    """

    action: StepAction
    selector: str | None = None
    """Playwright selector for click/fill/press/expect_visible/wait_for."""
    path: str | None = None
    """Route for goto."""
    value: str | None = None
    key: str | None = None
    name: str | None = None
    """Name of a marked step."""

    @model_validator(mode="before")
    @classmethod
    def _from_one_key_mapping(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "action" in data:
            return data
        keys = [k for k in data if k in _ACTIONS]
        if len(data) != 1 or len(keys) != 1:
            raise ValueError(
                f'a step is one of {", ".join(_ACTIONS)} as a single key, e.g. `- click: "text=Next"`; '
                f"got keys {', '.join(map(str, data)) or 'none'}"
            )
        action = keys[0]
        argument = data[action]
        if isinstance(argument, Mapping):
            return {"action": action, **argument}
        field = {"goto": "path", "mark": "name"}.get(action, "selector")
        return {"action": action, field: argument}

    @model_validator(mode="after")
    def _has_what_it_needs(self) -> StepSpec:
        needs = {
            "goto": ("path",),
            "click": ("selector",),
            "fill": ("selector", "value"),
            "press": ("selector", "key"),
            "expect_visible": ("selector",),
            "wait_for": ("selector",),
            "mark": ("name",),
        }[self.action]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{self.action} needs {', '.join(missing)}")
        return self


class JourneySpec(_Strict):
    name: str
    onboarding: bool = False
    """Onboarding journeys are what the onboarding step-count check measures."""
    steps: list[StepSpec] = Field(min_length=1)


class Profile(_Strict):
    """What one ``orchestrate test --profile NAME`` run does."""

    driver: str = "web"
    """``web``, ``mac``, ``command`` or a plugin driver's name."""
    description: str = ""
    routes: list[str] | Literal["auto"] = Field(default_factory=list)
    """Paths under the base URL (or absolute URLs) to visit, or ``auto``: the web driver crawls
    same-origin links breadth-first from the base URL (and its ``sitemap.xml``), skipping
    logout-like links, non-HTML resources, fragments and query-only duplicates."""
    max_routes: int = Field(default=25, ge=1, le=1000)
    """With ``routes: auto``: the most routes the crawl keeps."""
    max_depth: int = Field(default=3, ge=0, le=20)
    """With ``routes: auto``: the most links followed from the base URL (0: the base URL alone)."""
    allowed_origins: list[str] = Field(default_factory=list)
    """Origins (``https://docs.example.com``) other than the target's that routes may name."""
    journeys: list[JourneySpec] = Field(default_factory=list)
    checks: list[CheckName] = Field(default_factory=lambda: list(CHECK_NAMES))
    axe_impacts: list[AxeImpact] = Field(default_factory=lambda: list(AXE_IMPACTS))
    """Axe violations of other impacts are not findings in this profile."""
    mode: Literal["headless", "headed"] = "headless"
    timeout_s: float = Field(default=300.0, gt=0)
    suite: bool = False
    """Run the project's own Playwright suite (``npx playwright test``) instead of routes."""
    changed_paths: dict[str, list[str]] = Field(default_factory=dict)
    """With ``--since``: glob of changed files -> routes to visit; other routes are skipped."""
    command: list[str] = Field(default_factory=list)
    """The command driver's argv (no shell), e.g. ``["pytest", "--junitxml", "junit.xml"]``."""
    junit: str | None = None
    """The JUnit XML the command writes, relative to the project root."""
    scenarios: list[str] = Field(default_factory=list)
    """Mac driver: named scenarios (windows or screens) to capture."""
    swift_project: str | None = None
    """Liquid Glass check: the SwiftUI project folder to scan, relative to the project root."""

    @field_validator("allowed_origins")
    @classmethod
    def _origins_only(cls, origins: list[str]) -> list[str]:
        normalised: list[str] = []
        for origin in origins:
            parts = urlsplit(origin.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"{origin!r} is not an origin; write scheme and host, e.g. https://docs.example.com"
                )
            if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
                raise ValueError(f"{origin!r} is not an origin: drop everything after the host and port")
            normalised.append(origin_of(origin))
        return normalised

    @property
    def auto_routes(self) -> bool:
        """Whether the driver discovers the routes (``routes: auto``)."""
        return self.routes == AUTO_ROUTES

    @property
    def route_list(self) -> list[str]:
        """The routes as listed; empty with ``routes: auto`` (they are known only once crawled)."""
        return [] if isinstance(self.routes, str) else list(self.routes)


class TestProfiles(_Strict):
    """The whole ``test-profiles`` policy document."""

    __test__ = False  # not a pytest test class, despite its name

    default_target: str | None = None
    targets: dict[str, str] = Field(default_factory=dict)
    """Target name -> its default profile."""
    profiles: dict[str, Profile]


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL, lower-cased, without a default port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def _is_absolute(route: str) -> bool:
    return route.lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class ForeignRoute:
    """A route (or journey ``goto``) naming an origin the profile does not allow."""

    field: str
    """Where it is in the profile: ``routes[2]``, ``journeys[0].steps[3].path``."""
    url: str
    origin: str


def foreign_routes(
    routes: Sequence[str] | str,
    journeys: Sequence[JourneySpec],
    *,
    base_url: str,
    allowed_origins: Sequence[str] = (),
) -> list[ForeignRoute]:
    """Absolute routes and journey ``goto`` paths on neither ``base_url``'s origin nor an allowed one.

    Visiting another origin sends the browser, and whatever a journey signed in with, to a site
    nobody asked the gate to test; a profile must say so in ``allowed_origins``. ``routes`` is a
    profile's ``routes`` (``auto`` names no route).
    """
    allowed = {origin_of(base_url), *(origin_of(origin) for origin in allowed_origins)}
    found: list[ForeignRoute] = []
    for index, route in enumerate([] if isinstance(routes, str) else routes):
        if _is_absolute(route) and origin_of(route) not in allowed:
            found.append(ForeignRoute(f"routes[{index}]", route, origin_of(route)))
    for number, journey in enumerate(journeys):
        for step_number, step in enumerate(journey.steps):
            path = step.path or ""
            if step.action == "goto" and _is_absolute(path) and origin_of(path) not in allowed:
                where = f"journeys[{number}].steps[{step_number}].path"
                found.append(ForeignRoute(where, path, origin_of(path)))
    return found


@dataclass(frozen=True)
class Resolution:
    target: str
    profile: str
    driver: str
    source: str
    """Which rule matched: ``flags``, ``test-profiles``, ``playwright.config``, ``Package.swift``."""


@dataclass(frozen=True)
class ResolutionFailure:
    tried: list[str]

    def message(self) -> str:
        return (
            "cannot resolve the target; tried, in order: "
            + "; ".join(self.tried)
            + ". Fix: pass --target NAME (and --profile NAME), or set default_target in "
            ".orchestrator/policy/test-profiles.yaml"
        )


_DEFAULT_PROFILE_BY_DRIVER = {"web": "smoke", "mac": "mac-gate"}


def resolve_target(
    *,
    target_flag: str | None,
    profile_flag: str | None,
    policy: TestProfiles,
    project_policy_file: str | None,
    project_files: Sequence[str],
    target_drivers: Mapping[str, str],
) -> Resolution | ResolutionFailure:
    """First match wins: flags; the project's test-profiles by target; playwright.config; Package.swift.

    ``project_files`` are the names present in the project root; ``target_drivers`` maps the
    targets declared in config to their driver.
    """

    def profile_for(target: str, driver: str) -> str:
        return profile_flag or policy.targets.get(target) or _DEFAULT_PROFILE_BY_DRIVER.get(driver, "smoke")

    def driver_for(target: str) -> str:
        if target in target_drivers:
            return target_drivers[target]
        profile = policy.profiles.get(profile_flag or policy.targets.get(target) or "")
        return profile.driver if profile else ("mac" if target == "mac" else "web")

    tried: list[str] = []
    if target_flag:
        driver = driver_for(target_flag)
        return Resolution(target_flag, profile_for(target_flag, driver), driver, "flags")
    tried.append("--target (not given)")

    if project_policy_file and (policy.default_target or len(policy.targets) == 1):
        target = policy.default_target or next(iter(policy.targets))
        driver = driver_for(target)
        return Resolution(target, profile_for(target, driver), driver, "test-profiles")
    tried.append(
        f"{project_policy_file} (names no default_target)"
        if project_policy_file
        else ".orchestrator/policy/test-profiles.{json,yaml} (absent)"
    )

    if "playwright.config.ts" in project_files or "playwright.config.js" in project_files:
        return Resolution(
            "web", profile_flag or policy.targets.get("web") or "smoke", "web", "playwright.config"
        )
    tried.append("playwright.config.{ts,js} (absent)")

    if "Package.swift" in project_files:
        return Resolution(
            "mac", profile_flag or policy.targets.get("mac") or "mac-gate", "mac", "Package.swift"
        )
    tried.append("Package.swift (absent)")
    return ResolutionFailure(tried)
