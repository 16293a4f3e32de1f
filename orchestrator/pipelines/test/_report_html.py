"""``report.html``: a gate run's report as one self-contained page, to open from CI artifacts.

One file with its CSS inline: no script, no font, nothing fetched from a CDN, so it opens the
same from a laptop, an artifact viewer or an air-gapped runner. Screenshots, evidence and traces
are linked relative to the run dir (``report.html`` sits in it), so the page works wherever the
whole run dir is unpacked. Every piece of text that came from a run (titles, routes, page text,
errors, tracker requests) is HTML-escaped, and every link is a percent-encoded path inside the
run dir (:func:`~._run_files.run_dir_link`), so a page under test cannot inject markup, script or
a foreign link into the report.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import TYPE_CHECKING

from orchestrator.gate import CHECKS, SEVERITIES, Capture, CaptureManifest
from orchestrator.pipelines.test._run_files import RunFiles, run_dir_link

if TYPE_CHECKING:
    from orchestrator.pipelines.test._report import GateSummary

__all__ = ["render_html"]

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #1f2328; background: #f6f8fa }
main { max-width: 1200px; margin: 0 auto; padding: 24px }
h1 { font-size: 22px; margin: 0 0 4px }
h2 { font-size: 17px; margin: 28px 0 8px }
.facts { color: #57606a; margin: 0 0 12px }
.facts span { margin-right: 16px }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600;
  color: #fff; background: #1a7f37 }
.verdict.blocked { background: #cf222e }
.verdict.error { background: #8250df }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #d0d7de }
table.narrow { width: auto; min-width: 360px }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid #d0d7de }
th { background: #f6f8fa; font-weight: 600 }
td.num { text-align: right }
.sev { display: inline-block; min-width: 64px; text-align: center; padding: 1px 6px;
  border-radius: 4px; color: #fff; font-size: 12px }
.sev-critical { background: #a40e26 }
.sev-high { background: #bc4c00 }
.sev-medium { background: #9a6700 }
.sev-low { background: #1a7f37 }
.counts { display: flex; gap: 12px; flex-wrap: wrap }
.counts div { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 14px }
.counts b { display: block; font-size: 20px }
details summary { cursor: pointer }
details p { margin: 6px 0; white-space: pre-wrap; word-break: break-word }
.routes { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px }
figure { margin: 0; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; overflow: hidden }
figure img { display: block; width: 100%; height: 170px; object-fit: cover; object-position: top;
  border-bottom: 1px solid #d0d7de }
figcaption { padding: 6px 8px; word-break: break-all }
.failed { color: #cf222e }
.muted { color: #57606a }
code, pre { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace }
pre { white-space: pre-wrap; word-break: break-all; margin: 0 }
ul { padding-left: 20px }
"""


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _link(files: RunFiles, path: str | None, label: str) -> str:
    """A link to ``path`` inside the run dir, or the path as text when it cannot be linked."""
    href = run_dir_link(files.run_dir, path)
    if href is None:
        return f'<span class="muted">{_text(path)}</span>' if path else ""
    return f'<a href="{_text(href)}">{_text(label)}</a>'


def _head(*columns: str) -> str:
    return "<tr>" + "".join(f"<th>{column}</th>" for column in columns) + "</tr>"


def _verdict(summary: GateSummary) -> str:
    kind = "error" if summary.exit_code == 2 else "blocked" if summary.exit_code == 1 else ""
    return f'<span class="verdict {kind}">{_text(summary.verdict)} · exit {summary.exit_code}</span>'


def _header(summary: GateSummary) -> str:
    facts = (
        ("Target", summary.target),
        ("Profile", summary.profile),
        ("Run", summary.run_id),
        ("Started", summary.timestamp),
        ("Duration", f"{summary.duration_ms} ms"),
    )
    shown = "".join(f"<span>{name}: <b>{_text(value)}</b></span>" for name, value in facts)
    return f'<h1>Test run report</h1>\n<p class="facts">{shown}</p>\n<p>{_verdict(summary)}</p>'


def _counts(summary: GateSummary) -> str:
    cells = "".join(
        f"<div><b>{summary.finding_counts.get(severity, 0)}</b>"
        f'<span class="sev sev-{severity}">{severity}</span></div>'
        for severity in SEVERITIES
    )
    rows = "".join(
        f'<tr><td>{check}</td><td class="num">{summary.check_counts.get(check, 0)}</td>'
        f'<td class="muted">{_text(summary.skipped_checks.get(check, ""))}</td></tr>'
        for check in CHECKS
    )
    return (
        f'<h2>Findings: {summary.findings}</h2>\n<div class="counts">{cells}</div>\n'
        f'<h2>Checks</h2>\n<table class="narrow">{_head("Check", "Findings", "Note")}{rows}</table>'
    )


def _findings(files: RunFiles) -> str:
    if not files.findings:
        message = "None." if files.evaluated else "Not evaluated: the findings file is missing or unreadable."
        return f'<h2>All findings</h2>\n<p class="muted">{message}</p>'
    rows: list[str] = []
    for number, finding in enumerate(files.findings, 1):
        action = files.actions.get(finding.fingerprint)
        issue = _text(action.describe()) if action else '<span class="muted">not reconciled</span>'
        rows.append(
            f'<tr><td class="num">{number}</td>'
            f'<td><span class="sev sev-{finding.severity}">{finding.severity}</span></td>'
            f"<td>{finding.check}<br><code>{_text(finding.checkId)}</code></td>"
            f"<td>{_text(finding.scope)}</td>"
            f"<td><details><summary>{_text(finding.title)}</summary>"
            f"<p>{_text(finding.description)}</p><p><b>Fix:</b> {_text(finding.recommendation)}</p>"
            f'<p class="muted">locator <code>{_text(finding.locator)}</code> · '
            f"fingerprint <code>{_text(finding.fingerprint)}</code></p></details></td>"
            f"<td>{_link(files, finding.evidence_path, 'evidence')}</td>"
            f"<td>{issue}</td></tr>"
        )
    head = _head("#", "Severity", "Check", "Route", "Title", "Evidence", "Issue")
    return f"<h2>All findings</h2>\n<table>{head}{''.join(rows)}</table>"


def _issue_actions(summary: GateSummary, files: RunFiles) -> str:
    buckets = (
        ("Created", "created"),
        ("Commented", "commented"),
        ("Already filed", "noop"),
        ("Skipped (triage)", "skipped"),
    )
    items = "".join(
        f"<li>{label}: {_text(', '.join(_issue_id(v) for v in summary.issues.get(key, [])) or 'none')}</li>"
        for label, key in buckets
    )
    failed = summary.issues.get("failed", [])
    if failed:
        items += f'<li class="failed">Not filed: {len(failed)} (see the findings above)</li>'
    dry = " (dry run: nothing was sent)" if summary.dry_run else ""
    tracker = f" in the {_text(files.tracker)} tracker" if files.tracker else ""
    section = f"<h2>Issue actions{tracker}{dry}</h2>\n<ul>{items}</ul>"
    if files.requests:
        requests = "".join(f"<li><pre>{_text(request)}</pre></li>" for request in files.requests)
        section += f"\n<h2>Tracker requests that would be sent</h2>\n<ul>{requests}</ul>"
    return section


def _issue_id(value: object) -> str:
    return f"#{value}" if isinstance(value, int) else str(value)


def _capture_card(files: RunFiles, manifest: CaptureManifest, capture: Capture) -> str:
    href = run_dir_link(files.run_dir, capture.screenshot)
    picture = (
        f'<a href="{_text(href)}"><img src="{_text(href)}" alt="Screenshot of {_text(capture.name)}" '
        f'loading="lazy"></a>'
        if href
        else ""
    )
    error = _text(capture.error or "no reason given")
    status = "" if capture.ok else f'<br><span class="failed">failed: {error}</span>'
    where = f'<br><span class="muted">{_text(capture.url)}</span>' if capture.url else ""
    paths = ((capture.aria_snapshot, "ARIA"), (capture.axe, "axe"), (capture.console, "console"))
    evidence = [_link(files, path, label) for path, label in paths if path]
    links = f"<br>{' · '.join(item for item in evidence if item)}" if evidence else ""
    kind = "" if capture.kind == "route" else f' <span class="muted">({capture.kind})</span>'
    return (
        f"<figure>{picture}<figcaption><b>{_text(capture.name)}</b>{kind} "
        f'<span class="muted">· {_text(manifest.driver)}</span>{where}{status}{links}</figcaption></figure>'
    )


def _routes(files: RunFiles) -> str:
    cards = [
        _capture_card(files, manifest, capture)
        for manifest in files.manifests
        for capture in manifest.captures
    ]
    skipped = [
        f"<li>{_text(manifest.driver)} did not capture: {_text(manifest.skipped)}</li>"
        for manifest in files.manifests
        if manifest.skipped
    ]
    body = f'<div class="routes">{"".join(cards)}</div>' if cards else '<p class="muted">None.</p>'
    if skipped:
        body += f"<ul>{''.join(skipped)}</ul>"
    return f"<h2>Routes visited: {len(cards)}</h2>\n{body}"


def _traces(files: RunFiles) -> str:
    items = [
        f'<li>{_link(files, trace, trace)} <span class="muted">({_text(manifest.driver)})</span></li>'
        for manifest in files.manifests
        for trace in manifest.traces
    ]
    items += [
        f"<li>{_link(files, manifest.har, manifest.har)} "
        f'<span class="muted">(HAR, {_text(manifest.driver)})</span></li>'
        for manifest in files.manifests
        if manifest.har
    ]
    if not items:
        return ""
    hint = (
        '<p class="muted">Open a trace with <code>npx playwright show-trace FILE</code>, '
        "or drop it on the Playwright trace viewer.</p>"
    )
    return f"<h2>Traces</h2>\n{hint}<ul>{''.join(items)}</ul>"


def _drivers(summary: GateSummary) -> str:
    rows = "".join(
        f'<tr><td>{_text(driver)}</td><td class="num">{code}</td></tr>'
        for driver, code in sorted(summary.driver_exit_codes.items())
    )
    return f'<h2>Driver exit codes</h2>\n<table class="narrow">{_head("Driver", "Exit code")}{rows}</table>'


def _notes(title: str, notes: Iterable[str], css: str = "") -> str:
    items = "".join(f"<li>{_text(note)}</li>" for note in notes)
    return f'<h2>{title}</h2>\n<ul class="{css}">{items}</ul>' if items else ""


def render_html(summary: GateSummary, files: RunFiles) -> str:
    """The whole ``report.html`` of a run (see the module)."""
    problems = [*files.problems]
    if files.tracker_error:
        problems.append(f"the tracker could not be used: {files.tracker_error}")
    sections = [
        _header(summary),
        _notes("Errors", summary.errors, "failed"),
        _counts(summary),
        _findings(files),
        _issue_actions(summary, files),
        _routes(files),
        _traces(files),
        _drivers(summary),
        _notes("Report notes", problems, "muted"),
    ]
    body = "\n".join(section for section in sections if section)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No script, style or image may come from anywhere but this file and the run dir.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src 'self' file:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n"
        f"<title>{_text(summary.verdict)}: {_text(summary.target)} / {_text(summary.profile)} · "
        f"{_text(summary.run_id)}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
