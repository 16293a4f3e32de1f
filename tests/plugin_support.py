"""Installing the example driver plugin for a test, leaving the environment as it was."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "examples" / "driver-plugin"


def install_example_plugin(work: Path) -> Path:
    """pip-install ``examples/driver-plugin`` into ``work/site-packages`` and return that folder.

    It is installed from a copy (so the source tree gets no build files) into a target folder
    that only the test puts on its path.
    """
    source = work / "source"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site-packages"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target
