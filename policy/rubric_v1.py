"""Rubric v1: the UX evaluator's rules, severities and verdict, as pure functions and constants.

The evaluator (``orchestrator.agents.ux_evaluator``) reads a run dir and applies these rules; it
decides nothing on its own. Four checks:

- **onboarding_step_count**: an onboarding journey of 8-9 counted steps is *high*, 10 or more is
  *critical*, fewer is fine (thresholds in :class:`OnboardingRules`).
- **axe_violations**: one finding per element an axe-core rule flags; the node's impact maps
  critical -> critical, serious -> high, moderate -> medium, minor -> low (:data:`AXE_IMPACT_SEVERITY`).
- **console_errors**: an uncaught exception is *high*; an HTTP 4xx/5xx response is *medium*; any
  other ``console.error`` line is *low*; a capture or test that failed outright is *high*. Known
  noise (hot reloading, browser extensions, source maps, framework development and hydration
  hints) is ignored (:data:`NOISE_MESSAGE_PATTERNS`, :data:`NOISE_RESOURCE_PATTERNS`, and a
  project's ``console.extra_noise`` / ``console.extra_noise_resources``).
- **liquid_glass**: in a SwiftUI project whose deployment target is OS 26 or later, a material
  background (``.ultraThinMaterial`` ... ``.ultraThickMaterial``, ``Material.*``, visual-effect
  views) in a view with no ``.glassEffect(`` is *high*, a ``.blur(`` is *medium* (blur is often a
  content effect, so the signal is weaker); an exception documented in the code
  (``// orchestrate: allow-material <reason>`` on the line or the line before) lowers either to
  *low* instead of hiding it.

Verdict (:func:`verdict`), first match wins: **BLOCKED** when any finding is critical or a
driver failed with a framework error (exit 2) and captured nothing; **FIX_REQUIRED** when any is
high; **PROCEED_WITH_FOLLOWUPS** when there are only medium and low findings; else **PROCEED**.

The thresholds and the extra noise patterns are the policy document ``rubric-v1``
(``defaults/rubric-v1.yaml``, overridden by a project's ``.orchestrator/policy/rubric-v1.yaml``),
validated by :class:`RubricPolicy`. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ALLOW_MATERIAL_MARKER",
    "AXE_IMPACTS",
    "AXE_IMPACT_SEVERITY",
    "CAPTURE_FAILED_SEVERITY",
    "CONSOLE_ERROR_SEVERITY",
    "HTTP_ERROR_SEVERITY",
    "LIQUID_GLASS_EXCEPTION_SEVERITY",
    "LIQUID_GLASS_MIN_OS",
    "LIQUID_GLASS_SEVERITY",
    "NOISE_MESSAGE_PATTERNS",
    "NOISE_RESOURCE_PATTERNS",
    "SEVERITIES",
    "SEVERITY_RANK",
    "SUGGESTED_PRIORITY",
    "UNCAUGHT_EXCEPTION_SEVERITY",
    "VERDICTS",
    "AxeImpact",
    "ConsoleClass",
    "ConsoleRules",
    "GlassKind",
    "OnboardingRules",
    "RubricPolicy",
    "Severity",
    "Verdict",
    "axe_severity",
    "classify_console",
    "http_status_of",
    "is_noise",
    "liquid_glass_severity",
    "onboarding_severity",
    "suggested_priority",
    "verdict",
]

Severity = Literal["critical", "high", "medium", "low"]
AxeImpact = Literal["critical", "serious", "moderate", "minor"]
Verdict = Literal["PROCEED", "PROCEED_WITH_FOLLOWUPS", "FIX_REQUIRED", "BLOCKED"]
ConsoleClass = Literal["uncaught-exception", "http-error", "console-error"]
GlassKind = Literal["material", "blur"]

SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
SEVERITY_RANK: Mapping[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}
"""0 for critical (the most severe) to 3 for low."""
VERDICTS: tuple[Verdict, ...] = ("PROCEED", "PROCEED_WITH_FOLLOWUPS", "FIX_REQUIRED", "BLOCKED")
AXE_IMPACTS: tuple[AxeImpact, ...] = ("critical", "serious", "moderate", "minor")

AXE_IMPACT_SEVERITY: Mapping[AxeImpact, Severity] = {
    "critical": "critical",
    "serious": "high",
    "moderate": "medium",
    "minor": "low",
}
SUGGESTED_PRIORITY: Mapping[Severity, str] = {"critical": "P0", "high": "P1", "medium": "P2", "low": "P3"}

UNCAUGHT_EXCEPTION_SEVERITY: Severity = "high"
HTTP_ERROR_SEVERITY: Severity = "medium"
CONSOLE_ERROR_SEVERITY: Severity = "low"
CAPTURE_FAILED_SEVERITY: Severity = "high"

LIQUID_GLASS_MIN_OS = 26
"""Liquid Glass applies to targets whose minimum OS (macOS, iOS, ...) is at least this major version."""
LIQUID_GLASS_SEVERITY: Mapping[GlassKind, Severity] = {"material": "high", "blur": "medium"}
LIQUID_GLASS_EXCEPTION_SEVERITY: Severity = "low"
ALLOW_MATERIAL_MARKER = re.compile(r"//\s*orchestrate:\s*allow-material\b[\s:,-]*(?P<reason>\S.*?)?\s*$")
"""A documented exception: ``// orchestrate: allow-material <reason>``; without a reason it does not count."""

NOISE_MESSAGE_PATTERNS: tuple[str, ...] = (
    # Hot module reloading and dev-server chatter.
    r"\[(?:HMR|vite|webpack-dev-server|WDS|webpack)\]",
    r"hot[- ]update",
    r"\bFast Refresh\b",
    r"sockjs-node|__webpack_hmr|/@vite/client|/_next/webpack-hmr",
    # Browser extensions inject scripts the app does not own.
    r"\b(?:chrome|moz|safari|safari-web|ms-browser)-extension://",
    # Source maps are a developer convenience; their absence breaks nothing for users.
    r"DevTools failed to load source ?map",
    r"Source ?map error",
    # Framework development-mode and hydration hints.
    r"Download the (?:React|Vue|Apollo|Redux) DevTools",
    r"You are running (?:Vue|a development build)",
    r"Angular is running in (?:the )?development mode",
    r"Lit is in dev mode",
    r"\[Vue warn\]:?\s*Hydration",
    r"Hydration completed but contains mismatches",
    r"Warning: (?:Text content did not match|Prop `[^`]*` did not match|Expected server HTML to contain)",
    # A browser notice about layout timing, not an application error.
    r"ResizeObserver loop (?:limit exceeded|completed with undelivered notifications)",
)
"""Console messages (text and location) matching any of these are ignored (case-insensitive)."""

NOISE_RESOURCE_PATTERNS: tuple[str, ...] = (
    r"\.map(?:\?.*)?$",
    r"/favicon\.ico(?:\?.*)?$",
    r"^(?:chrome|moz|safari|safari-web|ms-browser)-extension://",
    r"hot-update\.(?:js|json)",
    r"sockjs-node|__webpack_hmr|/@vite/client|/_next/webpack-hmr",
)
"""Failed resources (URLs) matching any of these are ignored: the browser or the dev tooling asked
for them, not the page (the favicon request is the browser's own)."""

_FAILED_TO_LOAD = re.compile(r"Failed to load resource:.*?status of (\d{3})", re.IGNORECASE)
_UNCAUGHT = re.compile(r"^\s*Uncaught\b", re.IGNORECASE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_patterns(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a valid regular expression ({exc})") from None
    return patterns


class OnboardingRules(_Strict):
    """Step-count thresholds of an onboarding journey."""

    high_at: int = Field(
        default=8, ge=1, examples=[8], description="Counted steps from which a journey is high."
    )
    critical_at: int = Field(
        default=10, ge=2, examples=[10], description="Counted steps from which a journey is critical."
    )

    @model_validator(mode="after")
    def _ordered(self) -> OnboardingRules:
        if self.critical_at <= self.high_at:
            raise ValueError(
                f"critical_at ({self.critical_at}) must be greater than high_at ({self.high_at}), "
                "for example high_at: 8 and critical_at: 10"
            )
        return self


class ConsoleRules(_Strict):
    """Noise a project adds to the built-in lists (regular expressions, case-insensitive)."""

    extra_noise: list[str] = Field(
        default_factory=list,
        examples=[["Third-party cookie will be blocked"]],
        description="More console messages to ignore.",
    )
    extra_noise_resources: list[str] = Field(
        default_factory=list,
        examples=[["^https://analytics\\.example\\.com/"]],
        description="More failed resource URLs to ignore.",
    )

    @field_validator("extra_noise", "extra_noise_resources")
    @classmethod
    def _valid_patterns(cls, patterns: list[str]) -> list[str]:
        return _check_patterns(patterns)

    def message_patterns(self) -> tuple[str, ...]:
        return (*NOISE_MESSAGE_PATTERNS, *self.extra_noise)

    def resource_patterns(self) -> tuple[str, ...]:
        return (*NOISE_RESOURCE_PATTERNS, *self.extra_noise_resources)


class RubricPolicy(_Strict):
    """The ``rubric-v1`` policy document."""

    onboarding: OnboardingRules = Field(default_factory=OnboardingRules)
    console: ConsoleRules = Field(default_factory=ConsoleRules)


def onboarding_severity(step_count: int, rules: OnboardingRules) -> Severity | None:
    """Critical from ``critical_at`` counted steps, high from ``high_at``, else nothing."""
    if step_count >= rules.critical_at:
        return "critical"
    if step_count >= rules.high_at:
        return "high"
    return None


def axe_severity(impact: str | None) -> Severity | None:
    """The severity of an axe impact; ``None`` for a missing or unknown impact."""
    if impact in AXE_IMPACT_SEVERITY:
        return AXE_IMPACT_SEVERITY[impact]  # type: ignore[index]
    return None


def is_noise(texts: Iterable[str | None], patterns: Iterable[str]) -> bool:
    """Whether any of ``texts`` matches any of ``patterns`` (case-insensitive search)."""
    present = [text for text in texts if text]
    return any(re.search(pattern, text, re.IGNORECASE) for pattern in patterns for text in present)


def http_status_of(text: str) -> int | None:
    """The status of a browser's ``Failed to load resource: ... status of 404`` line, if it is one."""
    match = _FAILED_TO_LOAD.search(text)
    return int(match.group(1)) if match else None


def classify_console(
    entry_type: str, text: str, location: str | None, rules: ConsoleRules
) -> ConsoleClass | None:
    """What a console line is under rubric v1, or ``None`` when it is noise or not an error.

    ``pageerror`` (and an ``error`` line starting with ``Uncaught``) is an uncaught exception; an
    ``error`` line reporting an HTTP 4xx/5xx is an HTTP error; any other ``error`` line is a
    console error; warnings, logs and the rest are not findings.
    """
    kind = entry_type.lower()
    if kind not in ("pageerror", "error"):
        return None
    if is_noise((text, location), rules.message_patterns()):
        return None
    if kind == "pageerror" or _UNCAUGHT.match(text):
        return "uncaught-exception"
    status = http_status_of(text)
    if status is not None and status >= 400:
        return "http-error"
    return "console-error"


def liquid_glass_severity(kind: GlassKind, *, documented_exception: bool) -> Severity:
    """High for materials, medium for blur; a documented exception lowers either to low."""
    return LIQUID_GLASS_EXCEPTION_SEVERITY if documented_exception else LIQUID_GLASS_SEVERITY[kind]


def suggested_priority(severity: Severity) -> str:
    """P0 for critical, P1 high, P2 medium, P3 low."""
    return SUGGESTED_PRIORITY[severity]


def verdict(by_severity: Mapping[str, int], *, driver_blocked: bool) -> Verdict:
    """The run's verdict from its finding counts; see the module docstring for the rule."""
    if driver_blocked or by_severity.get("critical", 0) > 0:
        return "BLOCKED"
    if by_severity.get("high", 0) > 0:
        return "FIX_REQUIRED"
    if by_severity.get("medium", 0) > 0 or by_severity.get("low", 0) > 0:
        return "PROCEED_WITH_FOLLOWUPS"
    return "PROCEED"
