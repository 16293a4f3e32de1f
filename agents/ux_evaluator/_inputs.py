"""The evaluator's inputs: a run dir's capture manifests, their captures, and the files they name.

Everything is read through the capture manifests (``captures/*.json``); nothing here guesses a
file name. A file a manifest names is used only when its path is relative, stays inside the run
dir and exists; otherwise it is reported as a problem, never followed. Problems are described
with run-dir-relative paths so two evaluations of copies of one run dir say the same thing.

Captures are visited in one fixed order (page scope, kind, journey, step, name, manifest), not in
the order drivers listed them, so which capture lends its screenshot as a finding's evidence does
not depend on how parallel captures happened to finish.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from orchestrator.agents.ux_evaluator._locators import page_scope
from orchestrator.gate import CAPTURES_DIR, Capture, CaptureManifest
from orchestrator.validation import explain_validation_error

__all__ = ["CaptureRef", "RunInputs", "load_inputs"]

_KIND_ORDER = {"route": 0, "journey_step": 1, "scenario": 2, "test": 3}


@dataclass(frozen=True)
class CaptureRef:
    """One capture with the manifest it came from and the page scope it belongs to."""

    manifest: str
    """The manifest's path relative to the run dir, e.g. ``captures/web.json``."""
    capture: Capture
    scope: str

    @property
    def label(self) -> str:
        """How descriptions name the capture: ``route /gallery``, ``journey signup step 3 (Plan)``."""
        capture = self.capture
        if capture.kind == "journey_step":
            return f"journey {capture.journey or '?'} step {capture.step_index} ({capture.name})"
        return f"{capture.kind.replace('_', ' ')} {capture.name}"

    def sort_key(self) -> tuple[str, int, str, int, str, str]:
        capture = self.capture
        step = capture.step_index if capture.step_index is not None else -1
        return (
            self.scope,
            _KIND_ORDER.get(capture.kind, 9),
            capture.journey or "",
            step,
            capture.name,
            self.manifest,
        )


@dataclass
class RunInputs:
    """The readable manifests of a run dir, and what was wrong with the rest."""

    run_dir: Path
    manifests: list[tuple[str, CaptureManifest]] = field(default_factory=list)
    manifest_problems: list[str] = field(default_factory=list)

    def no_input_reason(self) -> str | None:
        """Why no check on captured evidence can run, or ``None`` when some manifest was read."""
        if self.manifests:
            return None
        if self.manifest_problems:
            return "no readable capture manifest: " + "; ".join(self.manifest_problems)
        return f"no capture manifest in {CAPTURES_DIR}/ (no driver recorded what it captured)"

    def captures(self) -> list[CaptureRef]:
        refs = [
            CaptureRef(manifest=name, capture=capture, scope=page_scope(capture))
            for name, manifest in self.manifests
            for capture in manifest.captures
        ]
        return sorted(refs, key=CaptureRef.sort_key)

    def not_captured(self) -> str:
        """Why the manifests hold nothing: the drivers' own skip reasons or errors, if they gave any."""
        notes = []
        for name, manifest in self.manifests:
            why = manifest.skipped or manifest.error
            if why:
                notes.append(
                    f"{name}: {manifest.driver} {'skipped' if manifest.skipped else 'failed'}: {why}"
                )
        return ("; " + "; ".join(notes)) if notes else ""

    def resolve(self, relative: str | None) -> tuple[Path | None, str | None]:
        """The file a manifest names, or a problem: absolute, escaping the run dir, or missing."""
        if not relative:
            return None, None
        posix = PurePosixPath(relative.replace("\\", "/"))
        if posix.is_absolute() or ".." in posix.parts or re.match(r"^[A-Za-z]:", relative):
            return None, f"{relative}: not a path inside the run dir; ignored"
        path = self.run_dir.joinpath(*posix.parts)
        if not path.is_file():
            return None, f"{relative}: named in a manifest but missing"
        return path, None

    def existing(self, relative: str | None) -> str | None:
        """``relative`` when it names an existing file inside the run dir, else ``None``."""
        path, _ = self.resolve(relative)
        return relative if path is not None else None

    def evidence_for(self, refs: list[CaptureRef], fallback: str) -> str:
        """The screenshot of the first capture (in capture order) that has one, else ``fallback``.

        ``fallback`` must be a file the check read (so it exists).
        """
        for ref in sorted(refs, key=CaptureRef.sort_key):
            screenshot = self.existing(ref.capture.screenshot)
            if screenshot is not None:
                return screenshot
        return fallback

    def read_json(self, relative: str) -> tuple[Any, str | None]:
        """The parsed JSON file, or ``(None, problem)``."""
        path, problem = self.resolve(relative)
        if path is None:
            return None, problem
        try:
            return json.loads(path.read_text(encoding="utf-8", errors="replace")), None
        except json.JSONDecodeError as exc:
            return None, f"{relative}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        except OSError as exc:
            return None, f"{relative}: cannot be read ({exc.strerror})"

    def read_lines(self, relative: str) -> tuple[list[str] | None, str | None]:
        """The lines of a text file (NDJSON), or ``(None, problem)``."""
        path, problem = self.resolve(relative)
        if path is None:
            return None, problem
        try:
            return path.read_text(encoding="utf-8", errors="replace").splitlines(), None
        except OSError as exc:
            return None, f"{relative}: cannot be read ({exc.strerror})"


def load_inputs(run_dir: Path) -> RunInputs:
    """Every ``captures/*.json`` manifest of ``run_dir``, in name order; unreadable ones as problems."""
    inputs = RunInputs(run_dir=run_dir)
    directory = run_dir / CAPTURES_DIR
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    for path in files:
        name = f"{CAPTURES_DIR}/{path.name}"
        document, problem = inputs.read_json(name)
        if problem is not None:
            inputs.manifest_problems.append(problem)
            continue
        try:
            inputs.manifests.append((name, CaptureManifest.model_validate(document)))
        except ValidationError as exc:
            invalid = explain_validation_error(exc, model=CaptureManifest, syntax="json")
            inputs.manifest_problems.append(f"{name}: not a capture manifest ({invalid})")
    return inputs
