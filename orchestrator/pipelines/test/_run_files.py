"""What a gate run's report reads from its run dir: findings, issue actions, capture manifests.

The report is written from the run dir's own files, so it shows what the run really left:
``findings.jsonl`` (every finding), ``issues.json`` (what the tracker was asked for each finding,
and in a dry run the requests that would have been sent) and ``captures/<driver>.json`` (the
routes visited, their screenshots, the Playwright traces). :func:`read_run_files` never raises
for a file that is missing or unreadable: the report must still be written, and it says what it
could not read in that file's place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from orchestrator.agents.issue_reconciler import ISSUES_FILE, format_request, load_findings
from orchestrator.artifacts import read_jsonl
from orchestrator.errors import OrchestrateError
from orchestrator.gate import CAPTURES_DIR, CaptureManifest, Finding
from orchestrator.validation import explain_validation_error

__all__ = ["FINDINGS_FILE", "IssueAction", "RunFiles", "read_run_files", "run_dir_link"]

FINDINGS_FILE = "findings.jsonl"


@dataclass(frozen=True)
class IssueAction:
    """What the reconciler did with one finding, from ``issues.json``."""

    action: str
    """``created``, ``commented``, ``noop``, ``skipped``, ``failed``, ``would_create``, ``would_comment``."""
    issue: int | None = None
    error: str | None = None

    def describe(self) -> str:
        """``#3 created``, ``#1 already filed``, ``skipped (triage)``, ``not filed: <why>``."""
        number = f"#{self.issue} " if self.issue is not None else ""
        words = {
            "created": "created",
            "commented": "commented on",
            "noop": "already filed",
            "skipped": "skipped (triage)",
            "would_create": "would be created",
            "would_comment": "would be commented on",
        }
        if self.action == "failed":
            return "not filed" + (f": {self.error}" if self.error else "")
        return number + words.get(self.action, self.action)


@dataclass(frozen=True)
class RunFiles:
    """What the report reads from the run dir, and each file it could not read (and why)."""

    run_dir: Path
    evaluated: bool = False
    """Whether ``findings.jsonl`` was there and read (else the evaluation did not finish)."""
    findings: list[Finding] = field(default_factory=list)
    actions: dict[str, IssueAction] = field(default_factory=dict)
    """By finding fingerprint."""
    manifests: list[CaptureManifest] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    """Dry run: each request or command the tracker would have been sent, one line each."""
    tracker: str | None = None
    tracker_error: str | None = None
    problems: list[str] = field(default_factory=list)


class _Action(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    fingerprint: str
    action: str
    issue: int | None = None


class _IssuesFile(BaseModel):
    """The part of ``issues.json`` the report shows; the reconciler owns the format."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    backend: str | None = None
    actions: list[_Action] = []
    requests: list[dict[str, JsonValue]] = []
    failed: list[dict[str, JsonValue]] = []
    error: str | None = None


def read_run_files(run_dir: Path) -> RunFiles:
    """Read findings, issue actions and capture manifests from ``run_dir``; never raises for a bad file."""
    problems: list[str] = []
    findings: list[Finding] = []
    evaluated = False
    findings_file = run_dir / FINDINGS_FILE
    if findings_file.is_file():
        try:
            findings, evaluated = _read_findings(findings_file), True
        except OrchestrateError as exc:
            problems.append(f"{FINDINGS_FILE} could not be read: {exc}")
    else:
        problems.append(f"{FINDINGS_FILE} was not written: the evaluation did not finish")
    issues = _read_issues(run_dir / ISSUES_FILE, problems, expected=evaluated)
    errors = {str(item.get("fingerprint")): str(item.get("error") or "") for item in issues.failed}
    actions = {
        item.fingerprint: IssueAction(item.action, item.issue, errors.get(item.fingerprint) or None)
        for item in issues.actions
    }
    return RunFiles(
        run_dir=run_dir,
        evaluated=evaluated,
        findings=findings,
        actions=actions,
        manifests=_read_manifests(run_dir, problems),
        requests=[format_request(request) for request in issues.requests],
        tracker=issues.backend,
        tracker_error=issues.error,
        problems=problems,
    )


def _read_findings(path: Path) -> list[Finding]:
    """The findings, after checking the file is whole: it starts with its ``_meta`` line, untorn."""
    read = read_jsonl(path)
    if read.torn_last_line or not read.records or "_meta" not in read.records[0]:
        raise OrchestrateError(f"{path.name} is damaged: it must start with its _meta line and end whole")
    return load_findings(path)


def _read_issues(path: Path, problems: list[str], *, expected: bool) -> _IssuesFile:
    if not path.is_file():
        if expected:
            problems.append(f"{ISSUES_FILE} was not written: the findings were not reconciled")
        return _IssuesFile()
    try:
        return _IssuesFile.model_validate_json(path.read_bytes())
    except OSError as exc:
        problems.append(f"{ISSUES_FILE} could not be read: {exc.strerror or exc}")
    except ValidationError as exc:
        problems.append(f"{ISSUES_FILE} could not be read: {_explain(exc, _IssuesFile)}")
    return _IssuesFile()


def _read_manifests(run_dir: Path, problems: list[str]) -> list[CaptureManifest]:
    manifests: list[CaptureManifest] = []
    for path in sorted((run_dir / CAPTURES_DIR).glob("*.json")):
        try:
            manifests.append(CaptureManifest.model_validate_json(path.read_bytes()))
        except OSError as exc:
            problems.append(f"{CAPTURES_DIR}/{path.name} could not be read: {exc.strerror or exc}")
        except ValidationError as exc:
            problems.append(f"{CAPTURES_DIR}/{path.name} could not be read: {_explain(exc, CaptureManifest)}")
    return manifests


def _explain(exc: ValidationError, model: type[BaseModel]) -> str:
    if any(error["type"] == "json_invalid" for error in exc.errors(include_url=False)):
        return "it is not valid JSON"
    return str(explain_validation_error(exc, model=model, syntax="json"))


def run_dir_link(run_dir: Path, path: str | None) -> str | None:
    """``path`` as a URL relative to the run dir, when it names a file inside it; else ``None``.

    Paths come from drivers and findings; one that is absolute, climbs out with ``..`` or does
    not exist is shown as text, never linked. The result is percent-encoded, so it is a plain
    relative URL whatever the name holds (a ``:`` cannot make it ``javascript:``).
    """
    if not path:
        return None
    parts = PurePosixPath(path.replace("\\", "/"))
    if parts.is_absolute() or ".." in parts.parts or not (run_dir / parts).is_file():
        return None
    return quote(parts.as_posix())
