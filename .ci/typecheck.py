"""Run mypy --strict over the package as it is installed.

agents/, drivers/ and policy/ install as orchestrator.agents, orchestrator.drivers and
orchestrator.policy (setuptools package-dir), a mapping mypy cannot read from pyproject.toml.
This script links the four folders into a temporary tree shaped like the installed package,
runs mypy there with the project's configuration, and prints paths as they are in the repo.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAPPED = {"agents": "agents", "drivers": "drivers", "policy": "policy"}


def build_tree(into: Path) -> Path:
    package = into / "orchestrator"
    package.mkdir()
    for entry in (REPO / "orchestrator").iterdir():
        if entry.name in MAPPED or entry.name == "__pycache__":
            continue
        (package / entry.name).symlink_to(entry)
    for sub, folder in MAPPED.items():
        (package / sub).symlink_to(REPO / folder)
    return package


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="orchestrate-mypy-") as tmp:
        package = build_tree(Path(tmp))
        cmd = [
            sys.executable, "-m", "mypy",
            "--config-file", str(REPO / "pyproject.toml"),
            "--cache-dir", str(REPO / ".mypy_cache"),
            str(package),
        ]
        done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False)
        out = done.stdout + done.stderr
        for sub, folder in MAPPED.items():
            out = out.replace(f"orchestrator{os.sep}{sub}{os.sep}", f"{folder}{os.sep}")
        sys.stdout.write(out)
        return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
