"""Fixtures shared by the agents' tests: a project folder and a run dir inside it."""

from __future__ import annotations

from pathlib import Path

import pytest

RUN_ID = "web-1700000000000"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def run_dir(project: Path) -> Path:
    return project / ".orchestrator" / "runs" / RUN_ID
