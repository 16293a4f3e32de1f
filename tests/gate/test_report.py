"""report.md and report.html, rendered from run dirs made here with the product's own writers.

Each run dir is built the way a run builds it: the capture manifest through ``finish_capture``,
``findings.jsonl`` through ``findings_lines``, ``issues.json`` from a real reconcile against the
local tracker (or a dry run of it). Findings carry hostile text (markup, script, a link that
climbs out of the run dir) so the tests prove it stays inert in both formats.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from orchestrator.agents.issue_reconciler import reconcile
from orchestrator.config import IssuesSection
from orchestrator.gate import (
    RUBRIC_VERSION,
    Capture,
    CaptureManifest,
    Finding,
    findings_lines,
    fingerprint,
    finish_capture,
)
from orchestrator.pipelines.test import GateSummary, render_report
from orchestrator.trackers import open_tracker

RUN_ID = "web-1700000000000"
HOSTILE = '<img src=x onerror="alert(1)"> | [click](javascript:alert(1)) *bold* <script>alert(2)</script>'
# A real (1x1, transparent) PNG, so the screenshots are files a browser would show.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def finding(severity: str, check: str, scope: str, title: str, evidence: str, check_id: str) -> Finding:
    return Finding(
        run_id=RUN_ID,
        rubric_version=RUBRIC_VERSION,
        severity=severity,  # type: ignore[arg-type]
        check=check,  # type: ignore[arg-type]
        fingerprint=fingerprint(scope, check_id, "main > img"),
        evidence_path=evidence,
        suggested_priority="P0" if severity == "critical" else "P2",
        scope=scope,
        checkId=check_id,
        locator="main > img",
        title=title,
        description=f"{title}\nsecond line",
        recommendation="Add alt text.",
    )


GALLERY_SHOT = "web/routes/gallery/screenshot.png"
FINDINGS = [
    finding("critical", "axe_violations", "/gallery", "Images must have alt text on /gallery", GALLERY_SHOT,
            "image-alt"),
    finding("high", "console_errors", "/checkout", HOSTILE, "../../../etc/passwd", "uncaught-exception"),
    finding("medium", "console_errors", "network", "HTTP 404 for /static/a b.png",
            "web/routes/a b/screenshot.png", "http-404"),
]  # fmt: skip


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def make_run_dir(root: Path, *, dry_run: bool = False) -> tuple[Path, GateSummary]:
    """A run dir as a web run with three findings leaves it, and the summary the gate would make."""
    run_dir = root / ".orchestrator" / "runs" / RUN_ID
    for route in ("gallery", "a b"):
        write(run_dir / "web" / "routes" / route / "screenshot.png", PNG)
    write(run_dir / "web" / "routes" / "gallery" / "axe.json", b'{"violations": []}')
    trace = run_dir / "web" / "traces" / "lane-1.zip"
    trace.parent.mkdir(parents=True)
    with zipfile.ZipFile(trace, "w") as archive:
        archive.writestr("trace.trace", "{}")
    finish_capture(
        run_dir,
        CaptureManifest(
            driver="web",
            exit_code=1,
            captures=[
                Capture(
                    kind="route",
                    name="/gallery",
                    url="http://127.0.0.1:8000/gallery",
                    screenshot="web/routes/gallery/screenshot.png",
                    axe="web/routes/gallery/axe.json",
                ),
                Capture(kind="route", name="/a b", screenshot="web/routes/a b/screenshot.png"),
                Capture(kind="route", name="/slow", ok=False, error=f"timed out: {HOSTILE}"),
            ],
            traces=["web/traces/lane-1.zip"],
        ),
    )
    (run_dir / "findings.jsonl").write_text(findings_lines(RUN_ID, FINDINGS, {}), encoding="utf-8")
    tracker = open_tracker(IssuesSection(), project_root=root, label="from:test-runner", env={})
    try:
        outcome = reconcile(FINDINGS, tracker, triage="skip", dry_run=dry_run)
    finally:
        tracker.close()
    (run_dir / "issues.json").write_text(json.dumps(outcome.as_data()), encoding="utf-8")
    summary = GateSummary(
        run_id=RUN_ID,
        target="web",
        profile="smoke",
        timestamp="2024-01-01T00:00:00Z",
        duration_ms=1234,
        exit_code=1,
        verdict="BLOCKED",
        finding_counts={"critical": 1, "high": 1, "medium": 1, "low": 0},
        check_counts={"axe_violations": 1, "console_errors": 2},
        skipped_checks={"liquid_glass": "not selected by the profile"},
        driver_exit_codes={"web": 1},
        issues={key: list(outcome.as_data()[key]) for key in ("created", "commented", "noop", "skipped")},  # type: ignore[arg-type]
        dry_run=dry_run,
    )
    return run_dir, summary


@dataclass
class Page(HTMLParser):
    """The tags, attributes and text of an HTML document, as a browser's parser sees them."""

    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def links(self) -> list[str]:
        return [str(a[key]) for tag, a in self.tags for key in ("href", "src") if a.get(key)]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def test_report_md_lists_every_finding_with_its_route_evidence_and_issue(tmp_path: Path) -> None:
    run_dir, summary = make_run_dir(tmp_path)
    render_report(summary, run_dir / "report.md")
    report = (run_dir / "report.md").read_text(encoding="utf-8")

    rows = [line for line in report.splitlines() if line.startswith(("| 1 |", "| 2 |", "| 3 |"))]
    assert len(rows) == 3
    assert rows[0].startswith(
        "| 1 | critical | axe_violations | /gallery | Images must have alt text on /gallery |"
    )
    assert "[evidence](web/routes/gallery/screenshot.png)" in rows[0]
    assert rows[0].endswith("| #1 created |")
    # The hostile title is one cell of inert text: no raw tag, no working link, no extra column.
    assert not re.search(r"(?<!\\)[<>\[\]|]", rows[1][1:-1].replace(" | ", "  "))
    assert '\\<img src=x onerror="alert(1)"\\> \\| \\[click\\](javascript:alert(1))' in rows[1]
    assert rows[1].count(" | ") == 6  # seven cells, as in every row
    # Evidence outside the run dir is shown, never linked.
    assert "](../" not in rows[1] and "../../../etc/passwd" in rows[1]
    assert "#2 created" in rows[1]
    # A path with a space is percent-encoded in the link; the medium finding was skipped by triage.
    assert "[evidence](web/routes/a%20b/screenshot.png)" in rows[2]
    assert rows[2].endswith("| skipped (triage) |")


def test_report_md_lists_routes_traces_and_driver_exit_codes(tmp_path: Path) -> None:
    run_dir, summary = make_run_dir(tmp_path)
    render_report(summary, run_dir / "report.md")
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "## Routes Visited" in report
    assert "| /gallery | route | web | ok | [screenshot](web/routes/gallery/screenshot.png) |" in report
    assert "| /a b | route | web | ok | [screenshot](web/routes/a%20b/screenshot.png) |" in report
    slow = next(line for line in report.splitlines() if line.startswith("| /slow |"))
    assert "failed: timed out:" in slow and "<script>" not in slow
    assert "- [web/traces/lane-1.zip](web/traces/lane-1.zip)" in report
    assert "| web | 1 |" in report
    assert "**Created:** #1, #2" in report


def test_report_html_is_self_contained_and_shows_findings_routes_and_traces(tmp_path: Path) -> None:
    run_dir, summary = make_run_dir(tmp_path)
    render_report(summary, run_dir / "report.md")
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    page = parse(html)
    tags = [tag for tag, _ in page.tags]

    # Self-contained: inline CSS, no script, nothing fetched from anywhere but the run dir.
    assert "style" in tags and "script" not in tags
    assert not [a for tag, a in page.tags if tag == "link"]
    for link in page.links():
        assert "://" not in link and not link.startswith(("/", "javascript:", "data:")), link
        assert (run_dir / unquote(link)).is_file(), link
    # No attribute came from page text.
    assert all("onerror" not in attrs for _, attrs in page.tags)

    text = " ".join(page.text)
    assert HOSTILE in text  # shown to the reader as the page had it, as text
    assert "Images must have alt text on /gallery" in text
    assert "#1 created" in text and "#2 created" in text and "skipped (triage)" in text
    images = {str(a["src"]) for tag, a in page.tags if tag == "img"}
    assert images == {"web/routes/gallery/screenshot.png", "web/routes/a%20b/screenshot.png"}
    hrefs = {str(a["href"]) for tag, a in page.tags if tag == "a"}
    assert {
        "web/traces/lane-1.zip",
        "web/routes/gallery/screenshot.png",
        "web/routes/gallery/axe.json",
    } <= hrefs
    assert "../../../etc/passwd" in text and not any("passwd" in link for link in page.links())
    assert "/slow" in text and "Routes visited: 3" in text
    assert "BLOCKED" in text and "exit 1" in text


def test_a_dry_run_report_shows_the_requests_that_would_be_sent(tmp_path: Path) -> None:
    run_dir, summary = make_run_dir(tmp_path, dry_run=True)
    render_report(summary, run_dir / "report.md")
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    issues = json.loads((run_dir / "issues.json").read_text(encoding="utf-8"))
    assert len(issues["requests"]) == 2  # critical and high; the medium one was skipped
    assert "## Tracker Requests (dry run on local: nothing was sent)" in report
    requests = report.split("## Tracker Requests")[1].split("##")[0]
    assert requests.count("\n- local create ") == 2
    assert "would be created" in report
    assert not (tmp_path / ".orchestrator" / "issues").exists() or not list(
        (tmp_path / ".orchestrator" / "issues").glob("*.md")
    )
    page = parse((run_dir / "report.html").read_text(encoding="utf-8"))
    text = " ".join(page.text)
    assert "Tracker requests that would be sent" in text
    assert text.count("local create ") == 2
    assert "<script>" not in (run_dir / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("damage", ["missing", "garbage"])
def test_a_run_whose_files_are_missing_or_damaged_still_gets_a_report(tmp_path: Path, damage: str) -> None:
    run_dir, summary = make_run_dir(tmp_path)
    for name in ("findings.jsonl", "issues.json", "captures/web.json"):
        if damage == "missing":
            (run_dir / name).unlink()
        else:
            (run_dir / name).write_text("{not json", encoding="utf-8")
    failed = GateSummary(
        **{**summary.__dict__, "exit_code": 2, "errors": ["evaluate (ux-evaluator): [/bold] broke"]}
    )
    render_report(failed, run_dir / "report.md")
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "Not evaluated" in report
    assert "## Report Notes" in report
    assert "findings.jsonl" in report.split("## Report Notes")[1]
    if damage == "garbage":
        assert "captures/web.json could not be read" in report
        assert "issues.json could not be read" in report
    assert "## Errors" in report and "\\[/bold\\] broke" in report
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Not evaluated" in html and "[/bold] broke" in html


def test_unfiled_findings_are_inert_markdown() -> None:
    from orchestrator.pipelines.test._report import _failed_lines

    lines = _failed_lines(
        [
            {
                "fingerprint": "abcdef0123456789",
                "severity": "high",
                "title": "boom <img src=x onerror=alert(1)> [link](http://evil.example) |",
                "reason": "github answered 422: <script>alert(1)</script>",
                "error_code": "tracker_rejected",
                "fix": "see [docs](http://evil.example)",
            }
        ]
    )
    text = "\n".join(lines)
    # Every Markdown and HTML special character is escaped, so nothing renders as a tag or a link.
    assert "\\<img" in text and "\\<script\\>" in text and "\\](http" in text
    assert " <img" not in text and " <script>" not in text
    assert "[tracker_rejected]" in text and "`abcdef0123456789` high" in text
