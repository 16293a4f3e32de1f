"""``export_html`` and the ``serve`` / ``export`` commands; and a real pack job seen through the API."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Annotated

import httpx
import pytest
import typer
from typer.testing import CliRunner

from orchestrator.cli._context import CliContext
from orchestrator.cli._serve import export_command
from orchestrator.config import ProjectConfig, load_config
from orchestrator.errors import RunNotFoundError
from orchestrator.events import EventBus
from orchestrator.viewer import STATIC_DIR, export_html
from tests.viewer.viewer_support import delegate, finish, open_run, project, serve

_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*https?://""", re.IGNORECASE)
_HOSTILE = "</script><script>alert(1)</script> <!-- and https://example.com"


def _seed(config: ProjectConfig) -> str:
    with EventBus(config.events_db) as bus:
        emit = open_run(config, bus)
        emit("conductor.task.started", {"status": "running"}, actor="conductor")
        emit(
            "conductor.worker.call",
            {"worker_type": "x", "worker_objective": _HOSTILE},
            actor="conductor",
            call_id="c0",
        )
        delegate(emit, call_id="c1", task_id="t1", worker_id="w1")
        finish(emit, "completed")
        return emit.run_id


def _inlined(html: str) -> dict[str, object]:
    match = re.search(r"window\.__ORCHESTRATE_TRACE__ = (.*?);</script>", html, re.DOTALL)
    assert match is not None
    return json.loads(match.group(1).replace("<\\/", "</").replace("<\\!--", "<!--"))  # type: ignore[no-any-return]


def _page(folder: Path) -> Path:
    folder.mkdir()
    (folder / "index.html").write_text(
        '<!doctype html><html><head><link rel="stylesheet" href="/static/style.css">'
        '<script src="/static/app.js" defer></script></head><body><main id="app"></main></body></html>'
    )
    (folder / "app.js").write_text("document.title = window.__ORCHESTRATE_TRACE__.run.run_id;\n")
    (folder / "style.css").write_text(".trace-pill { color: green }\n")
    return folder


def test_export_inlines_the_detail_and_links_nothing_outside(tmp_path: Path) -> None:
    config = project(tmp_path)
    run_id = _seed(config)
    target = tmp_path / "out" / "trace.html"
    written = export_html(config, run_id, target, static_dir=_page(tmp_path / "static"))
    assert written == target
    html = target.read_text(encoding="utf-8")
    assert not _EXTERNAL.search(html)
    assert "/static/" not in html and ".trace-pill { color: green }" in html
    assert "document.title = window.__ORCHESTRATE_TRACE__" in html
    # The hostile objective can neither close the data's script element nor open a comment in it.
    assert html.count("</script>") == 2 and "<!--" not in html
    document = _inlined(html)
    with serve(config) as served:
        assert document == served.client.get(f"/runs/{run_id}").json()
    bands = document["delegations"]
    assert isinstance(bands, list) and bands[0]["objective"] == _HOSTILE


def test_export_with_the_shipped_page(tmp_path: Path) -> None:
    if not all((STATIC_DIR / name).is_file() for name in ("index.html", "app.js", "style.css")):
        pytest.skip("the page's files are not in the package yet")
    config = project(tmp_path)
    run_id = _seed(config)
    html = export_html(config, run_id, tmp_path / "trace.html").read_text(encoding="utf-8")
    assert not _EXTERNAL.search(html)
    assert _inlined(html)["run"]["run_id"] == run_id  # type: ignore[index]


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context, project: Annotated[Path, typer.Option("-C")]) -> None:
        ctx.obj = CliContext(project_option=project)

    app.command("export")(export_command)
    return app


def test_export_command_writes_the_file_and_names_an_unknown_run(tmp_path: Path) -> None:
    config = project(tmp_path)
    run_id = _seed(config)
    target = tmp_path / "trace.html"
    result = CliRunner().invoke(_cli(), ["-C", str(config.root), "export", run_id, "--html", str(target)])
    assert result.exit_code == 0, result.output
    assert str(target) in result.output and target.is_file()
    wrong = run_id[:-1] + "9"
    result = CliRunner().invoke(
        _cli(), ["-C", str(config.root), "export", wrong, "--html", str(tmp_path / "x.html")]
    )
    assert isinstance(result.exception, RunNotFoundError) and result.exception.exit_code == 2
    assert f"no run {wrong!r}" in str(result.exception) and run_id in str(result.exception)
    assert not (tmp_path / "x.html").exists()


SERVE = textwrap.dedent(
    """
    import sys, typer
    from orchestrator.cli._context import CliContext
    from orchestrator.cli._serve import serve_command

    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = CliContext(project_option=None)

    app.command("serve")(serve_command)
    app(["serve", "--port", "0"])
    """
)


def test_serve_prints_its_url_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = project(tmp_path)
    run_id = _seed(config)
    script = tmp_path / "serve.py"
    script.write_text(SERVE, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=config.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("Trace viewer at http://127.0.0.1:"), line
        url = line.split()[3].rstrip("/")
        runs = httpx.get(f"{url}/runs", timeout=20).json()["runs"]
        assert [run["run_id"] for run in runs] == [run_id]
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped" in err


@pytest.mark.slow
def test_a_pack_job_through_the_api(tmp_path: Path) -> None:
    from orchestrator.packs import load_pack
    from orchestrator.pipelines.pack import run_domain_job
    from tests.packs.loop_support import PACK, example_copy

    root = example_copy(tmp_path)
    config = load_config(root)
    pack = load_pack(root / PACK)
    result = run_domain_job(config, list(pack.scenarios), pack_id=pack.id)
    with serve(config) as served:
        (summary,) = served.client.get("/runs").json()["runs"]
        assert summary["run_id"] == result.run_id
        assert (summary["kind"], summary["status"], summary["target"]) == ("pack", "completed", pack.id)
        assert summary["worker_calls"] == len(pack.scenarios) > 0
        detail = served.client.get(f"/runs/{result.run_id}").json()
    bands = detail["delegations"]
    assert {band["worker_type"] for band in bands} == {"domain-runner"}
    assert len(bands) == len(pack.scenarios) and all(band["outcome"] != "inflight" for band in bands)
    assert all(band["task_id"] is not None for band in bands)
    assert detail["job"]["kind"] == "pack" and detail["job"]["iterations"][0]["status"] == result.status
    assert detail["grid"]["steps"] > 0 and detail["lifecycles"]
