"""One run's detail as a single self-contained HTML file (``orchestrate export RUN --html FILE``).

The file is the viewer's own page with its script and style sheet inlined and the run's detail
document set as ``window.__ORCHESTRATE_TRACE__``, so the page renders that run without a server
or a network: CI keeps it as an artifact and anyone opens it in a browser. Inlined text cannot end
its ``<script>`` or ``<style>`` element early (every ``</`` in it is written ``<\\/``), and the
file is written atomically, so a reader never sees half of it.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
from starlette.exceptions import HTTPException

from orchestrator.artifacts import StrPath, atomic_write_text
from orchestrator.config import ProjectConfig
from orchestrator.errors import ArtifactError, EventStoreError
from orchestrator.runs import run_not_found
from orchestrator.viewer._app import STATIC_DIR, ViewerState, run_detail
from orchestrator.viewer._stream import StreamSettings

__all__ = ["export_html", "inline_page"]

_SCRIPT_TAG = re.compile(r"<script\b[^>]*\bsrc=[^>]*>\s*</script>", re.IGNORECASE)
_LINK_TAG = re.compile(r"<link\b[^>]*\brel=[\"']?stylesheet[^>]*>", re.IGNORECASE)


def _inert(text: str) -> str:
    """``text`` safe inside a ``<script>`` or ``<style>`` element: no ``</`` can close it."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ArtifactError(
            f"the viewer's page is not installed completely: cannot read {path}: {exc}"
        ) from exc


def inline_page(static_dir: Path, detail_json: str) -> str:
    """The page in ``static_dir`` with its script, style sheet and ``detail_json`` inlined."""
    page = _read(static_dir / "index.html")
    script = _read(static_dir / "app.js")
    style = _read(static_dir / "style.css")
    page = _SCRIPT_TAG.sub("", page)
    page = _LINK_TAG.sub("", page)
    head = f"<style>\n{_inert(style)}\n</style>\n"
    body = (
        f"<script>window.__ORCHESTRATE_TRACE__ = {_inert(detail_json)};</script>\n"
        f"<script>\n{_inert(script)}\n</script>\n"
    )
    # A callable replacement: the inlined text is taken as is, never as a regex template.
    page = re.sub(r"</head>", lambda _: head + "</head>", page, count=1, flags=re.IGNORECASE)
    if re.search(r"</body>", page, re.IGNORECASE):
        return re.sub(r"</body>", lambda _: body + "</body>", page, count=1, flags=re.IGNORECASE)
    return page + body


def export_html(config: ProjectConfig, run_id: str, path: StrPath, *, static_dir: Path | None = None) -> Path:
    """Write the run's detail page to ``path`` (atomically) and return it.

    Raises :class:`~orchestrator.errors.RunNotFoundError` naming close ids for an unknown run, and
    :class:`~orchestrator.errors.EventStoreError` when nothing was indexed yet.
    """
    if not config.events_db.is_file():
        raise EventStoreError(
            f"no events indexed yet: {config.events_db} does not exist; "
            "run `orchestrate events reindex` to build it from the run dirs"
        )
    state = ViewerState(config, StreamSettings())
    try:
        try:
            detail = run_detail(state, run_id)
        except HTTPException:
            known = {row.run_id for row in state.store.runs()}
            raise run_not_found(run_id, known, f"the event index {config.events_db}") from None
    finally:
        state.close()
    document = orjson.dumps(detail).decode()
    target = Path(path)
    atomic_write_text(target, inline_page(static_dir or STATIC_DIR, document))
    return target
