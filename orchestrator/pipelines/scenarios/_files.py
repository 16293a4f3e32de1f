"""The files of a scenario run dir, written atomically and read back one at a time.

::

    .scenarios/runs/<YYYY-MM-DD>-<seq>/
        run.json                  the run's liveness record (owner, heartbeat, status)
        run-manifest.json         what was run, with what settings, and how it ended
        scenarios/<id>.json       the scenarios exactly as they ran (judging reads these)
        trajectories/<id>-<NNN>.json
        judgments/<id>-<NNN>.json
        events.jsonl
        report.md

A trajectory file is complete once it exists: it is written by rename, so a crash leaves either
the whole file or none, and ``--resume`` keeps exactly the complete ones. Readers iterate over
files instead of loading a run at once, so memory stays flat however many trajectories a run has.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError

from orchestrator.artifacts import atomic_write_bytes, atomic_write_json
from orchestrator.errors import ArtifactError, UsageError
from orchestrator.scenarios import Judgment, Scenario, Trajectory

__all__ = [
    "JUDGMENTS_DIR",
    "MANIFEST_NAME",
    "SCENARIOS_DIR",
    "TRAJECTORIES_DIR",
    "RunFiles",
]

log = structlog.get_logger(__name__)

MANIFEST_NAME = "run-manifest.json"
TRAJECTORIES_DIR = "trajectories"
JUDGMENTS_DIR = "judgments"
SCENARIOS_DIR = "scenarios"


class RunFiles:
    """Reads and writes the files of one scenario run dir (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST_NAME

    def trajectory_path(self, trajectory_id: str) -> Path:
        return self.path / TRAJECTORIES_DIR / f"{trajectory_id}.json"

    def judgment_path(self, trajectory_id: str) -> Path:
        return self.path / JUDGMENTS_DIR / f"{trajectory_id}.json"

    # --- manifest -------------------------------------------------------------------------------

    def read_manifest(self) -> dict[str, Any]:
        try:
            document = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{self.path} is not a scenario run: it has no {MANIFEST_NAME}") from None
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"cannot read {self.manifest_path}: {exc}") from exc
        if not isinstance(document, dict):
            raise ArtifactError(f"{self.manifest_path} is not a JSON object")
        return document

    def write_manifest(self, document: Mapping[str, Any]) -> None:
        atomic_write_json(self.manifest_path, dict(document))

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        document = self.read_manifest()
        document.update(fields)
        self.write_manifest(document)
        return document

    # --- scenarios as they ran ------------------------------------------------------------------

    def write_scenario(self, scenario: Scenario) -> None:
        atomic_write_json(
            self.path / SCENARIOS_DIR / f"{scenario.id}.json",
            # Only what the file said: checks tell "path alone" from "path and equals: null".
            scenario.model_dump(mode="json", by_alias=True, exclude_unset=True),
        )

    def read_scenarios(self) -> dict[str, Scenario]:
        found: dict[str, Scenario] = {}
        for path in sorted((self.path / SCENARIOS_DIR).glob("*.json")):
            try:
                scenario = Scenario.model_validate_json(path.read_bytes())
            except (OSError, ValidationError) as exc:
                raise ArtifactError(f"cannot read the scenario {path}: {exc}") from exc
            found[scenario.id] = scenario
        return found

    # --- trajectories and judgments -------------------------------------------------------------

    def write_trajectory(self, trajectory: Trajectory) -> Path:
        path = self.trajectory_path(trajectory.id)
        atomic_write_bytes(path, trajectory.model_dump_json(by_alias=True, indent=1).encode() + b"\n")
        return path

    def write_judgment(self, judgment: Judgment) -> Path:
        path = self.judgment_path(judgment.trajectory_id)
        atomic_write_bytes(path, judgment.model_dump_json(indent=1).encode() + b"\n")
        return path

    def trajectory_ids(self) -> list[str]:
        """Ids of the trajectory files present (complete by construction), sorted."""
        return sorted(path.stem for path in (self.path / TRAJECTORIES_DIR).glob("*.json"))

    def judged_ids(self) -> set[str]:
        return {path.stem for path in (self.path / JUDGMENTS_DIR).glob("*.json")}

    def read_trajectory(self, trajectory_id: str) -> Trajectory:
        path = self.trajectory_path(trajectory_id)
        try:
            return Trajectory.model_validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise ArtifactError(f"cannot read the trajectory {path}: {exc}") from exc

    def read_judgment(self, trajectory_id: str) -> Judgment | None:
        path = self.judgment_path(trajectory_id)
        try:
            return Judgment.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError) as exc:
            log.warning("an unreadable judgment is judged again", path=str(path), error=str(exc))
            return None

    def trajectories(self) -> Iterator[Trajectory]:
        """Every trajectory of the run, one at a time."""
        for trajectory_id in self.trajectory_ids():
            yield self.read_trajectory(trajectory_id)
