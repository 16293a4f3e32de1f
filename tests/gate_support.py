"""A gate project whose target is a test suite, shared by the gate's end-to-end tests.

The command driver runs pytest on ``test_sample.py`` (one passing and one failing test) and
reads its JUnit XML, so a run goes through the real actors, bus, evaluator, tracker and report
without a browser. :func:`orchestrate` runs the console script on it in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROFILES = """\
default_target: unit
targets: {unit: unit}
profiles:
  unit:
    driver: command
    command: [python, -m, pytest, -q, -p, no:cacheprovider, --junitxml, junit.xml, test_sample.py]
    junit: junit.xml
    checks: [console_errors]
    timeout_s: 120
  quiet:
    driver: command
    command: [python, -m, pytest, -q, -p, no:cacheprovider, --junitxml, junit.xml, test_sample.py]
    junit: junit.xml
    checks: [axe_violations]
    timeout_s: 120
"""

SAMPLE = 'def test_ok():\n    assert True\n\n\ndef test_bad():\n    assert 1 == 2, "math is broken"\n'


def command_project(root: Path, *, target_toml: str = '[targets.unit]\ndriver = "command"\n') -> Path:
    """Write the project at ``root``: its config, the profiles above and the sample suite."""
    (root / ".orchestrator" / "policy").mkdir(parents=True)
    (root / "orchestrate.toml").write_text(target_toml)
    (root / ".orchestrator" / "policy" / "test-profiles.yaml").write_text(PROFILES)
    (root / "test_sample.py").write_text(SAMPLE)
    return root


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without ORCHESTRATE_ overrides, with this Python's scripts on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ORCHESTRATE_")}
    return {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}", **(extra or {})}


def orchestrate(
    root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``orchestrate -C root ARGS...`` in a subprocess, with no terminal."""
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment(env),
        stdin=subprocess.DEVNULL,
        check=False,
    )
