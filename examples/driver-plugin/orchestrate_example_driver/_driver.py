"""The static-html driver: a UI-gate driver that audits HTML files instead of driving a browser.

It follows the driver contract of orchestrate's UI gate exactly, using only its public API:

- it is a :class:`orchestrator.actors.Worker` that declares the gate's ``capture`` capability
  (``capabilities = CAPTURE.declare()``), so the worker base hands :meth:`handle` a validated
  :class:`orchestrator.gate.CaptureRequest` and checks the answer;
- it reads ``run_dir`` and ``project_root`` (absolute paths), ``target.base_url`` (names the
  site: a folder relative to the project root, or a ``file://`` URL; without one,
  ``<project root>/site``) and ``profile.routes`` (without any, every ``*.html`` file of the site);
- it writes evidence only under the run dir, then ``captures/static-html.json`` (a
  :class:`orchestrator.gate.CaptureManifest`) and ``drivers/static-html/exit_code``, with
  :func:`orchestrator.gate.finish_capture`;
- it answers with the :class:`orchestrator.gate.CaptureResult` that ``finish_capture`` returned
  (``success`` true only for exit 0), and never raises for what it finds: 0 every page was read,
  1 a route has no page, 2 the site folder is missing or the target names no folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from orchestrate_example_driver._audit import audit_page
from orchestrator.actors import Done, Worker
from orchestrator.artifacts import atomic_write_json
from orchestrator.gate import (
    CAPTURE,
    Capture,
    CaptureManifest,
    CaptureRequest,
    CaptureResult,
    DriverExit,
    capture_result,
    finish_capture,
    safe_name,
)
from orchestrator.messages import WorkRequest

__all__ = ["DRIVER_NAME", "StaticHtmlDriver", "capture_static_site", "site_folder"]

DRIVER_NAME = "static-html"
_EVIDENCE_DIR = "static-html"


class StaticHtmlDriver(Worker):
    """Audits a folder of static HTML pages (axe rules a parser can decide, missing files)."""

    worker_type: ClassVar[str] = "static-html-driver"
    capabilities = CAPTURE.declare()

    def handle(self, request: WorkRequest, params: CaptureRequest) -> Done[CaptureResult]:
        try:
            site = site_folder(params.project_root, params.target.base_url)
        except ValueError as exc:
            manifest = _finish(params.run_dir, 2, [], error=str(exc))
        else:
            routes = params.profile.routes
            pages = list(routes) if isinstance(routes, list) else []
            self.progress(f"auditing {len(pages) or 'every'} page(s) of {site}")
            manifest = capture_static_site(params.run_dir, site=site, routes=pages)
        result = capture_result(manifest)
        return Done(
            result,
            summary=manifest.error or f"{result.captured} page(s) audited, {result.failed} missing",
            success=manifest.exit_code == 0,
        )


def site_folder(project_root: Path, base_url: str | None) -> Path:
    """The folder a target's ``base_url`` names; :class:`ValueError` for a URL that is not a folder."""
    if base_url is None:
        return (project_root / "site").resolve()
    parts = urlsplit(base_url)
    if parts.scheme == "file":
        path = Path(url2pathname(parts.path))
    elif not parts.scheme:
        path = Path(unquote(base_url))
    else:
        raise ValueError(
            f"the static-html driver reads files; base_url {base_url!r} is not a folder "
            '(write a folder relative to the project root, e.g. base_url = "site", or a file:// URL)'
        )
    return (project_root / path).resolve()


def capture_static_site(run_dir: Path, *, site: Path, routes: Sequence[str] = ()) -> CaptureManifest:
    """Audit the pages of ``site`` named by ``routes`` (default: all), writing evidence under ``run_dir``."""
    site = site.resolve()
    if not site.is_dir():
        return _finish(run_dir, 2, [], error=f"the site folder {site} does not exist")
    wanted = list(routes) or ["/" + p.relative_to(site).as_posix() for p in sorted(site.rglob("*.html"))]
    captures: list[Capture] = []
    used: set[str] = set()
    for route in wanted:
        page = _page_for(site, route)
        if page is None:
            captures.append(
                Capture(kind="route", name=route, url=route, ok=False, error="no page for this route")
            )
            continue
        name = _unique(safe_name(route), used)
        audit = audit_page(page, site=site, route=route)
        axe = f"{_EVIDENCE_DIR}/{name}.axe.json"
        network = f"{_EVIDENCE_DIR}/{name}.network.json"
        atomic_write_json(run_dir / axe, audit.axe_results(route))
        atomic_write_json(run_dir / network, audit.missing)
        captures.append(Capture(kind="route", name=route, url=route, axe=axe, network=network))
    exit_code: DriverExit = 0 if all(c.ok for c in captures) else 1
    return _finish(run_dir, exit_code, captures)


def _page_for(site: Path, route: str) -> Path | None:
    """The file serving ``route`` (``/`` -> ``index.html``, ``/a`` -> ``a.html`` or ``a/index.html``)."""
    relative = unquote(urlsplit(route).path).strip("/")
    candidates = [f"{relative}/index.html" if relative else "index.html"]
    if relative and not relative.endswith((".html", ".htm")):
        candidates.insert(0, f"{relative}.html")
    elif relative:
        candidates = [relative]
    for candidate in candidates:
        path = (site / candidate).resolve()
        if path.is_relative_to(site) and path.is_file():
            return path
    return None


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}-{n}"
    used.add(candidate)
    return candidate


def _finish(
    run_dir: Path, exit_code: DriverExit, captures: list[Capture], *, error: str | None = None
) -> CaptureManifest:
    manifest = CaptureManifest(driver=DRIVER_NAME, exit_code=exit_code, error=error, captures=captures)
    finish_capture(run_dir, manifest)
    return manifest
