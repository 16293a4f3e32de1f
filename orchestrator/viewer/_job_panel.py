"""The job panel of a run's detail: what each kind of job left beside its events.

- UI gate: the findings (``findings.jsonl``), the report and the Playwright traces and screenshots
  its capture manifests name (paths relative to the run dir).
- Scenario run: each scenario's trajectories (``trajectories/``) with their status, the judge's
  verdict (``judgments/``) and whether chaos was injected.
- Pack and pack loop: the artifacts folder ``<domain_dir>/<pack>/``; a loop's ``loop_state.json``
  gives the score per iteration and why it stopped, a pack's ``pack_state.json`` its status.

Reading never raises for a missing or damaged file: the panel shows what is there and lists what
it could not read under ``problems``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.config import ProjectConfig
from orchestrator.runs import RunInfo

__all__ = ["job_panel"]


def _json_file(path: Path, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name} could not be read: {exc}")
        return None


def _ui_panel(run_dir: Path) -> dict[str, Any]:
    # Imported here: the gate pipeline pulls in Playwright, which only UI runs need.
    from orchestrator.pipelines.test import read_run_files

    files = read_run_files(run_dir)
    report = next((name for name in ("report.html", "report.md") if (run_dir / name).is_file()), None)
    screenshots = [
        {"name": capture.name, "path": capture.screenshot, "ok": capture.ok}
        for manifest in files.manifests
        for capture in manifest.captures
        if capture.screenshot
    ]
    return {
        "kind": "ui",
        "findings": [finding.model_dump() for finding in files.findings],
        "report": report,
        "traces": [trace for manifest in files.manifests for trace in manifest.traces],
        "screenshots": screenshots,
        "problems": list(files.problems),
    }


def _scenario_panel(run_dir: Path) -> dict[str, Any]:
    problems: list[str] = []
    scenarios: dict[str, list[dict[str, Any]]] = {}
    folder = run_dir / "trajectories"
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    for path in paths:
        trajectory = _json_file(path, problems)
        if not isinstance(trajectory, dict):
            continue
        judgment = _json_file(run_dir / "judgments" / path.name, problems)
        judged = judgment if isinstance(judgment, dict) else {}
        chaos = bool(trajectory.get("chaos")) or bool(judged.get("chaos_injected"))
        scenario_id = str(trajectory.get("scenario_id") or path.stem.rsplit("-", 1)[0])
        scenarios.setdefault(scenario_id, []).append(
            {
                "id": str(trajectory.get("id") or path.stem),
                "verdict": judged.get("verdict"),
                "chaos": chaos,
                "status": trajectory.get("status"),
                "duration_ms": trajectory.get("duration_ms"),
            }
        )
    return {
        "kind": "scenario",
        "scenarios": [{"id": key, "trajectories": value} for key, value in scenarios.items()],
        "problems": problems,
    }


def _pack_panel(config: ProjectConfig, info: RunInfo, kind: str) -> dict[str, Any]:
    problems: list[str] = []
    directory = config.domain_runs_dir / (info.target or "")
    panel: dict[str, Any] = {
        "kind": kind,
        "directory": str(directory),
        "iterations": [],
        "stop_reason": None,
        "stop_detail": None,
        "problems": problems,
    }
    if kind == "pack_loop":
        state = _json_file(directory / "loop_state.json", problems)
        if isinstance(state, dict):
            panel["iterations"] = [
                {"n": item.get("n"), "score": item.get("score"), "status": item.get("status")}
                for item in state.get("iterations") or []
                if isinstance(item, dict)
            ]
            panel["stop_reason"] = state.get("stop_reason")
            panel["stop_detail"] = state.get("stop_detail")
            # The folder holds the latest loop of this pack; an older run's loop was replaced.
            panel["current"] = state.get("run_id") == info.run_id
        return panel
    state = _json_file(directory / "pack_state.json", problems)
    if isinstance(state, dict):
        panel["iterations"] = [{"n": 1, "score": None, "status": state.get("status")}]
        panel["counts"] = state.get("counts")
        scenarios = state.get("scenarios")
        if isinstance(scenarios, dict):
            panel["scenarios"] = {
                key: value.get("status") for key, value in scenarios.items() if isinstance(value, dict)
            }
    return panel


def job_panel(config: ProjectConfig, info: RunInfo | None, kind: str) -> dict[str, Any] | None:
    """The job panel of a run of ``kind`` (None for a custom run, which has no job files)."""
    if info is None:
        return None
    if kind == "ui":
        return _ui_panel(info.path)
    if kind == "scenario":
        return _scenario_panel(info.path)
    if kind in ("pack", "pack_loop"):
        return _pack_panel(config, info, kind)
    return None
