"""Triage: which findings are filed without asking, and what happens to each one in the tracker.

Two pure rules the issue reconciler applies:

- **Severity routing.** Severities in ``auto_file`` (critical and high by default) are filed
  without asking; those in ``batch`` (medium and low) are triaged together in one batch: an
  interactive prompt on a terminal, else the ``--triage create|skip`` choice, else
  ``default_triage``.
- **The decision per finding.** Its fingerprint is already in an open issue: ignore it. Else an
  open issue's title, minus our own title prefix, is within ``title_distance`` edits
  (Levenshtein) of the finding's title: comment on that issue. Else: create an issue.

No I/O, and no string-distance code of its own: :func:`decide` takes the distance function as an
argument (the reconciler passes ``rapidfuzz.distance.Levenshtein.distance``), so the rule is
testable with any metric and this package stays free of third-party imports. The settings are
the policy document ``triage`` (default in ``defaults/triage.yaml``; a project overrides fields
in ``.orchestrator/policy/triage.yaml``), validated as :class:`TriagePolicy`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "POLICY_NAME",
    "SEVERITY_NAMES",
    "Action",
    "Decision",
    "KnownIssue",
    "Route",
    "TriageMode",
    "TriagePolicy",
    "TriageResolution",
    "decide",
    "resolve_triage",
    "route",
    "strip_prefix",
]

POLICY_NAME = "triage"
SeverityName = Literal["critical", "high", "medium", "low"]
SEVERITY_NAMES: tuple[SeverityName, ...] = ("critical", "high", "medium", "low")
Action = Literal["ignore", "comment", "create"]
Route = Literal["auto", "batch"]
TriageMode = Literal["prompt", "create", "skip"]
DistanceFn = Callable[[str, str], int]


class TriagePolicy(BaseModel):
    """The ``triage`` policy document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auto_file: tuple[SeverityName, ...] = Field(
        default=("critical", "high"), description="Severities filed without asking."
    )
    batch: tuple[SeverityName, ...] = Field(
        default=("medium", "low"), description="Severities triaged together in one batch."
    )
    default_triage: Literal["create", "skip"] = Field(
        default="skip",
        description="What happens to the batch when nobody can be asked and no --triage is given.",
    )
    title_prefix: str = Field(default="[test-runner]", description="Prefix of the titles of our issues.")
    label: str = Field(
        default="from:test-runner", min_length=1, description="Label on every issue we file; listings use it."
    )
    priority_label: str = Field(
        default="priority:{severity}",
        description="Second label; {severity} is replaced by the finding's severity.",
    )
    title_distance: int = Field(
        default=2, ge=0, description="Largest Levenshtein distance at which two titles are the same issue."
    )
    max_body_bytes: int = Field(
        default=65536,
        ge=1024,
        le=65536,
        description="Largest issue or comment body ever sent, in UTF-8 bytes (at most 64 KiB).",
    )

    @model_validator(mode="after")
    def _every_severity_routed_once(self) -> TriagePolicy:
        both = sorted(set(self.auto_file) & set(self.batch))
        if both:
            raise ValueError(
                f"{', '.join(both)} is listed in both auto_file and batch; a severity is routed one way, "
                "e.g. `auto_file: [critical, high]` and `batch: [medium, low]`"
            )
        missing = [s for s in SEVERITY_NAMES if s not in self.auto_file and s not in self.batch]
        if missing:
            raise ValueError(
                f"{', '.join(missing)} is in neither auto_file nor batch; route every severity, "
                "e.g. `auto_file: [critical, high]` and `batch: [medium, low]`"
            )
        if "{severity}" not in self.priority_label:
            raise ValueError('priority_label must contain {severity}, e.g. "priority:{severity}"')
        return self

    def priority_label_for(self, severity: str) -> str:
        """The priority label of a finding of ``severity`` (``priority:high``)."""
        return self.priority_label.replace("{severity}", severity)

    def labels_for(self, severity: str) -> tuple[str, str]:
        """Both labels of an issue filed for a finding of ``severity``."""
        return (self.label, self.priority_label_for(severity))

    def title_for(self, title: str) -> str:
        """The issue title for a finding title: our prefix, a space, the title."""
        return f"{self.title_prefix} {title}" if self.title_prefix else title


@dataclass(frozen=True, slots=True)
class KnownIssue:
    """An open issue as the decision sees it: its number, title and the fingerprints it carries."""

    number: int
    title: str
    fingerprints: frozenset[str]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one finding: ``issue`` is the issue that holds it or will get the comment."""

    action: Action
    issue: int | None = None
    distance: int | None = None


@dataclass(frozen=True, slots=True)
class TriageResolution:
    """How the batch is handled in this run, and why (said in logs and the run's summary)."""

    mode: TriageMode
    reason: str


def route(severity: str, policy: TriagePolicy) -> Route:
    """``auto`` for severities filed without asking, ``batch`` for the triaged ones."""
    return "auto" if severity in policy.auto_file else "batch"


def strip_prefix(title: str, prefix: str) -> str:
    """``title`` without our prefix (and the space after it), for comparing with finding titles."""
    if prefix and title.startswith(prefix):
        return title[len(prefix) :].strip()
    return title.strip()


def decide(
    fingerprint: str,
    title: str,
    issues: Sequence[KnownIssue],
    *,
    policy: TriagePolicy,
    distance: DistanceFn,
) -> Decision:
    """The decision for one finding against the open issues.

    A fingerprint match wins over any title match (the lowest issue number if several hold it).
    Among titles within ``policy.title_distance``, the closest wins, then the lowest number, so
    the same tracker state always gives the same decision.
    """
    holders = sorted(issue.number for issue in issues if fingerprint in issue.fingerprints)
    if holders:
        return Decision("ignore", holders[0])
    best: tuple[int, int] | None = None
    for issue in issues:
        edits = distance(title, strip_prefix(issue.title, policy.title_prefix))
        if edits <= policy.title_distance and (best is None or (edits, issue.number) < best):
            best = (edits, issue.number)
    if best is not None:
        return Decision("comment", best[1], best[0])
    return Decision("create")


def resolve_triage(
    requested: TriageMode | None, *, interactive: bool, policy: TriagePolicy
) -> TriageResolution:
    """How the medium/low batch is handled.

    An explicit ``create`` or ``skip`` is obeyed. Otherwise a terminal gets the prompt; without
    one (CI, a pipe), asking is impossible and the policy's ``default_triage`` applies.
    """
    if requested in ("create", "skip"):
        return TriageResolution(requested, f"--triage {requested}")
    if interactive:
        return TriageResolution("prompt", "interactive terminal")
    if requested == "prompt":
        why = "prompt asked for, but stdin or stdout is not a terminal"
    else:
        why = "not a terminal and no --triage given"
    return TriageResolution(policy.default_triage, f"{why}: policy default_triage={policy.default_triage}")
