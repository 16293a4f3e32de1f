"""The files a domain scenario leaves under ``<domain_runs>/<scenario_id>/`` (or a pack's
``scenarios/<scenario_id>/``), with exactly the names users and scripts rely on.

Per scenario: ``scenario_brief.md``, ``scenario_manifest.json``, ``scenario_state.json`` (carried
values and the session's memory), ``scenario_summary.md``, ``scenario_output.md`` and
``final_status.md``; per step, under ``steps/<step_id>/``: ``output.md``, ``debug.json``,
``turn.json``, ``session.json``, ``assistant_response.json`` and ``step_state.json``. Every JSON
file has a ``schema_version``; every file is written atomically, with the configured secrets
(header tokens) redacted.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from orchestrator.agents.domain_runner._step import StepRun
from orchestrator.artifacts import atomic_write_json, atomic_write_text
from orchestrator.packs import DomainScenario, StepAnswer
from orchestrator.twins import redact_data

__all__ = [
    "MAX_KEPT_BYTES",
    "MAX_KEPT_TEXT",
    "SCHEMA_VERSION",
    "STEP_FILES",
    "ScenarioFiles",
    "kept",
    "markdown_cell",
]

SCHEMA_VERSION = 1
STEP_FILES = (
    "output.md",
    "debug.json",
    "turn.json",
    "session.json",
    "assistant_response.json",
    "step_state.json",
)


def markdown_cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


MAX_KEPT_BYTES = 1024 * 1024
"""The most of one answer's JSON (body, data, session) a step's files keep; past it, a marker."""
MAX_KEPT_TEXT = 64 * 1024
"""The most of one answer's text the Markdown files keep."""


def kept(value: Any) -> Any:
    """``value`` as the files keep it: itself, or past :data:`MAX_KEPT_BYTES` a marker with its size
    and the start of its JSON, so a huge answer never fills the disk several times over."""
    encoded = orjson.dumps(value, default=str)
    if len(encoded) <= MAX_KEPT_BYTES:
        return value
    head = encoded[:MAX_KEPT_TEXT].decode("utf-8", errors="ignore")
    return {"truncated": True, "size_bytes": len(encoded), "json_head": head}


def _cut(text: str) -> str:
    if len(text) <= MAX_KEPT_TEXT:
        return text
    return text[:MAX_KEPT_TEXT] + f"\n\n[... {len(text) - MAX_KEPT_TEXT} more characters not kept]"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


def _answer(run: StepRun) -> str:
    return _quote(_cut(run.reply.text or "(no text)")) if run.reply is not None else "(no answer)"


class ScenarioFiles:
    """Writes one scenario's artifacts into ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path, scenario: DomainScenario, secrets: Iterable[str] = ()) -> None:
        self.directory = directory
        self.scenario = scenario
        self._secrets = [secret for secret in secrets if secret]

    def step_dir(self, step_id: str) -> Path:
        return self.directory / "steps" / step_id

    def _json(self, path: Path, document: Mapping[str, Any]) -> None:
        atomic_write_json(path, redact_data({"schema_version": SCHEMA_VERSION, **document}, self._secrets))

    def _text(self, path: Path, text: str) -> None:
        atomic_write_text(path, redact_data(text, self._secrets))

    # --- at the start --------------------------------------------------------------------------

    def start(self, manifest: Mapping[str, Any]) -> None:
        """Clear the last run's step files, then write the brief and the manifest."""
        steps = self.directory / "steps"
        if steps.is_dir():
            shutil.rmtree(steps)
        for name in ("scenario_summary.md", "scenario_output.md", "final_status.md"):
            (self.directory / name).unlink(missing_ok=True)
        self._text(self.directory / "scenario_brief.md", self._brief())
        self._json(self.directory / "scenario_manifest.json", manifest)

    def _brief(self) -> str:
        scenario = self.scenario
        lines = [f"# {scenario.id}", "", scenario.brief.strip(), ""]
        if scenario.persona is not None:
            persona = scenario.persona
            lines += [f"**Persona:** {persona.role} ({persona.expertise})"]
            lines += [f"- goal: {goal}" for goal in persona.goals] + [""]
        lines += ["## Steps", ""]
        for number, step in enumerate(scenario.steps, 1):
            flag = " (a decision for the user)" if step.decision else ""
            lines.append(f"{number}. `{step.id}`{flag}: {' '.join(step.question.split())}")
        return "\n".join(lines) + "\n"

    # --- after each step -----------------------------------------------------------------------

    def write_step(self, run: StepRun, *, scenario_id: str, session_id: str | None) -> list[Path]:
        """Write the step's six files; return their paths."""
        folder = self.step_dir(run.step.id)
        reply = run.reply
        self._text(folder / "output.md", self._step_output(run))
        self._json(
            folder / "debug.json",
            {
                "step": run.step.id,
                "started_at": run.started_at,
                "timings": {"answer_ms": round(run.elapsed_ms, 3), "session_ms": round(run.session_ms, 3)},
                "resolved_placeholders": run.resolved,
                "route": reply.route if reply else None,
                "raw_status": run.http_status,
                "capability_missing": reply.capability_missing if reply else None,
                "error": run.error,
            },
        )
        self._json(
            folder / "turn.json",
            {
                "step": run.step.id,
                "question_template": run.step.question,
                "question": run.question,
                "request": run.sent,
                "session_id": session_id,
            },
        )
        self._json(
            folder / "session.json",
            {"session_id": session_id, "session": kept(run.session), "error": run.session_error},
        )
        self._json(
            folder / "assistant_response.json", {"http_status": run.http_status, "body": kept(run.raw)}
        )
        self._json(
            folder / "step_state.json",
            {
                "scenario": scenario_id,
                "step": run.step.id,
                "status": run.status,
                "decision": run.step.decision,
                "expectations_met": [r.model_dump() for r in run.results if r.met],
                "expectations_unmet": [r.model_dump() for r in run.results if not r.met],
                "values_extracted": {
                    "text": _cut(reply.text) if reply and reply.text else None,
                    "data": kept(reply.data) if reply else None,
                    "route": reply.route if reply else None,
                    "sources": reply.sources if reply else [],
                    "session_id": reply.session_id if reply else None,
                },
                "error": run.error,
            },
        )
        return [folder / name for name in STEP_FILES]

    def _step_output(self, run: StepRun) -> str:
        lines = [f"# {run.step.id}: {run.status}", "", "**Question:**", ""]
        lines += [_quote(run.question or run.step.question), "", "**Answer:**", "", _answer(run)]
        if run.error:
            lines += ["", f"**Why {run.status}:** {run.error}"]
        return "\n".join(lines) + "\n"

    def write_state(
        self, *, session_id: str | None, answers: Mapping[str, StepAnswer], session: Any, status: str
    ) -> None:
        """``scenario_state.json``: the values carried to later steps and the session's memory."""
        self._json(
            self.directory / "scenario_state.json",
            {
                "scenario_id": self.scenario.id,
                "status": status,
                "session_id": session_id,
                "carried": {
                    key: {"text": _cut(value.text), "data": kept(value.data)}
                    for key, value in answers.items()
                },
                "session_memory": kept(session),
            },
        )

    # --- at the end ----------------------------------------------------------------------------

    def finish(self, runs: Sequence[StepRun], status: str, manifest: Mapping[str, Any]) -> None:
        """The summary, the output, the final status and the manifest's end."""
        self._text(self.directory / "scenario_summary.md", self._summary(runs, status))
        self._text(self.directory / "scenario_output.md", self._output(runs))
        self._text(self.directory / "final_status.md", self._final(runs, status))
        self._json(self.directory / "scenario_manifest.json", manifest)

    def _summary(self, runs: Sequence[StepRun], status: str) -> str:
        lines = [
            f"# {self.scenario.id}: {status}",
            "",
            "| step | status | unmet expectations |",
            "| --- | --- | --- |",
        ]
        for run in runs:
            unmet = [f"{r.kind}: {r.detail}" for r in run.results if not r.met]
            if run.error and run.status in ("blocked", "needs_exact_capability"):
                unmet.insert(0, run.error)
            cell = markdown_cell("; ".join(unmet)) or "-"
            lines.append(f"| `{run.step.id}` | {run.status} | {cell} |")
        return "\n".join(lines) + "\n"

    def _output(self, runs: Sequence[StepRun]) -> str:
        lines = [f"# {self.scenario.id}: every answer in order", ""]
        for run in runs:
            lines += [f"## {run.step.id} ({run.status})", "", "**Question:**", "", _quote(run.question or "")]
            lines += ["", "**Answer:**", "", _answer(run), ""]
        return "\n".join(lines)

    def _final(self, runs: Sequence[StepRun], status: str) -> str:
        counts: dict[str, int] = {}
        for run in runs:
            counts[run.status] = counts.get(run.status, 0) + 1
        shown = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
        return f"# {status}\n\nScenario `{self.scenario.id}`: {len(runs)} step(s): {shown}.\n"
