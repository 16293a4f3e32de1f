"""A pack run's own files under ``<domain_runs>/<pack_id>/`` (its scenarios' files go below them).

``pack_manifest.json`` (what ran, against what, when, and how it ended), ``pack_state.json``
(each scenario's and step's status, and the counts), ``pack_summary.md`` (a table per scenario)
and ``final_status.md``; ``scenarios/<scenario_id>/`` holds each scenario's files. Every JSON file
has a ``schema_version``; every file is written atomically.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.agents.analyst import count_statuses, score
from orchestrator.agents.domain_runner import DomainScenarioDone, markdown_cell
from orchestrator.artifacts import atomic_write_json, atomic_write_text
from orchestrator.packs import StepStatus, worst
from orchestrator.twins import redact_data

__all__ = ["PACK_FILES", "SCHEMA_VERSION", "PackFiles", "PackResult", "publish_latest"]

SCHEMA_VERSION = 1
PACK_FILES = ("pack_manifest.json", "pack_state.json", "pack_summary.md", "final_status.md")


class PackResult:
    """Every scenario of a pack run as it ended, in the pack's order."""

    def __init__(self, pack_id: str, scenarios: Sequence[DomainScenarioDone]) -> None:
        self.pack_id = pack_id
        self.scenarios = list(scenarios)

    @property
    def status(self) -> StepStatus:
        return worst(done.status for done in self.scenarios)

    @property
    def outcomes(self) -> list[Any]:
        return [outcome for done in self.scenarios for outcome in done.outcomes]

    @property
    def steps(self) -> int:
        return len(self.outcomes)

    def counts(self) -> dict[str, int]:
        return count_statuses(self.outcomes).model_dump()

    def rule_score(self) -> int:
        return score(self.outcomes)


class PackFiles:
    """Writes a pack run's files into ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path, pack_id: str, secrets: Iterable[str] = ()) -> None:
        self.directory = directory
        self.pack_id = pack_id
        self._secrets = [secret for secret in secrets if secret]

    def scenario_dir(self, scenario_id: str) -> Path:
        return self.directory / "scenarios" / scenario_id

    def _json(self, name: str, document: Mapping[str, Any]) -> None:
        atomic_write_json(
            self.directory / name, redact_data({"schema_version": SCHEMA_VERSION, **document}, self._secrets)
        )

    def start(self, manifest: Mapping[str, Any]) -> None:
        """Clear the last run's scenario files and summaries, then write the manifest."""
        scenarios = self.directory / "scenarios"
        if scenarios.is_dir():
            shutil.rmtree(scenarios)
        for name in ("pack_state.json", "pack_summary.md", "final_status.md"):
            (self.directory / name).unlink(missing_ok=True)
        self._json("pack_manifest.json", manifest)

    def finish(self, result: PackResult, manifest: Mapping[str, Any]) -> None:
        self._json(
            "pack_state.json",
            {
                "pack_id": self.pack_id,
                "status": result.status,
                "counts": result.counts(),
                "scenarios": {
                    done.scenario_id: {
                        "status": done.status,
                        "session_id": done.session_id,
                        "steps": {outcome.step: outcome.status for outcome in done.outcomes},
                    }
                    for done in result.scenarios
                },
            },
        )
        atomic_write_text(self.directory / "pack_summary.md", _summary(result))
        counts = ", ".join(f"{count} {name}" for name, count in result.counts().items() if count)
        atomic_write_text(
            self.directory / "final_status.md",
            f"# {result.status}\n\nPack `{self.pack_id}`: {len(result.scenarios)} scenario(s), "
            f"{result.steps} step(s): {counts or 'none'}.\n",
        )
        self._json("pack_manifest.json", manifest)


def _summary(result: PackResult) -> str:
    lines = [f"# {result.pack_id}: {result.status}", ""]
    lines += ["| scenario | status | steps | accepted | partial | needs capability | blocked |"]
    lines += ["| --- | --- | --- | --- | --- | --- | --- |"]
    for done in result.scenarios:
        counts = count_statuses(done.outcomes)
        lines.append(
            f"| `{done.scenario_id}` | {done.status} | {len(done.outcomes)} | {counts.accepted} | "
            f"{counts.partial} | {counts.needs_exact_capability} | {counts.blocked} |"
        )
    lines += ["", "## Steps not accepted", ""]
    shown = False
    for outcome in result.outcomes:
        if outcome.status == "accepted":
            continue
        shown = True
        unmet = [f"{r.kind}: {r.detail}" for r in outcome.expectations if not r.met]
        if outcome.error:
            unmet = [outcome.error, *(item for item in unmet if item.split(": ", 1)[-1] not in outcome.error)]
        why = markdown_cell("; ".join(unmet)) or "-"
        lines.append(f"- `{outcome.scenario}/{outcome.step}` {outcome.status}: {why}")
    if not shown:
        lines.append("None: every step was accepted.")
    return "\n".join(lines) + "\n"


def publish_latest(source: Path, target: Path, names: Iterable[str]) -> None:
    """Make ``target``'s top-level files describe ``source`` (an iteration): ``names`` and ``scenarios/``.

    Each file is replaced atomically; ``scenarios/`` is copied beside the old one and swapped in
    with renames, so a reader sees the old or the new folder, never half of one.
    """
    for name in names:
        path = source / name
        if path.is_file():
            atomic_write_text(target / name, path.read_text(encoding="utf-8"))
    scenarios = source / "scenarios"
    if not scenarios.is_dir():
        return
    fresh, old, live = target / ".scenarios.new", target / ".scenarios.old", target / "scenarios"
    for leftover in (fresh, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    shutil.copytree(scenarios, fresh)
    if live.exists():
        live.rename(old)
    fresh.rename(live)
    if old.exists():
        shutil.rmtree(old)
