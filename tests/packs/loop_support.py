"""What the improvement loop's tests share: a fresh copy of the inventory example, its config and
pack, a coder that counts its runs, and a loop run in a child process that kills itself at a phase.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

from orchestrator.config import ProjectConfig, load_config
from orchestrator.packs import Pack, load_pack

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "assistant"
PACK = Path("packs") / "inventory.pack.yaml"
SCORES = [47, 59, 79, 94]
"""The bundled loop's scores per iteration (the README quotes them)."""

_IGNORED = shutil.ignore_patterns("artifacts", ".orchestrator", "__pycache__", "*.pyc")

COUNTING_CODER = textwrap.dedent(
    """
    import pathlib, subprocess, sys
    log = pathlib.Path(sys.argv[1])
    with log.open("a") as fh:
        fh.write("run\\n")
    sys.exit(subprocess.call([sys.executable, "coder.py", *sys.argv[2:]]))
    """
)


def example_copy(tmp_path: Path, **sections: dict[str, Any]) -> Path:
    """A copy of the example in ``tmp_path/assistant``; ``sections`` replace keys of its orchestrate.toml."""
    root = tmp_path / "assistant"
    shutil.copytree(EXAMPLE, root, ignore=_IGNORED)
    if sections:
        document = tomllib.loads((root / "orchestrate.toml").read_text(encoding="utf-8"))
        for name, values in sections.items():
            document.setdefault(name, {}).update(values)
        (root / "orchestrate.toml").write_text(_toml(document), encoding="utf-8")
    return root


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {_value(item)}" for key, item in value.items()) + "}"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml(document: dict[str, Any]) -> str:
    lines = []
    for section, values in document.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_value(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


def counting_coder(folder: Path) -> list[str]:
    """A coder command that appends a line to ``folder/coder-runs.log`` (outside the repository:
    a change there would stop the loop), then runs the demo coder."""
    script = folder / "counting_coder.py"
    script.write_text(COUNTING_CODER, encoding="utf-8")
    log = folder / "coder-runs.log"
    return [
        "python",
        str(script),
        str(log),
        "--backlog",
        "{backlog}",
        "--analysis",
        "{analysis}",
        "--repo",
        "{repo}",
    ]


def coder_runs(folder: Path) -> int:
    log = folder / "coder-runs.log"
    return len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0


def config_and_pack(root: Path) -> tuple[ProjectConfig, Pack]:
    return load_config(root), load_pack(root / PACK)


def loop_dir(root: Path) -> Path:
    return root / "artifacts" / "domain_runs" / "inventory-basics"


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from orchestrator.config import load_config
    from orchestrator.packs import load_pack
    from orchestrator.pipelines.pack import run_pack_loop

    root, what, iteration, phase = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

    def progress(kind, details):
        if kind == what and details.get("iteration") == iteration and details.get("phase", phase) == phase:
            os.kill(os.getpid(), signal.SIGKILL)

    config = load_config(root)
    run_pack_loop(config, load_pack(os.path.join(root, "packs", "inventory.pack.yaml")), on_progress=progress)
    sys.exit(3)  # the loop ended without reaching the kill point
    """
)


def run_killed_at(root: Path, what: str, iteration: int, phase: str = "-") -> None:
    """Run the loop in a child that SIGKILLs itself at the progress event ``what`` of ``iteration``.

    ``what`` is ``phase`` (the start of ``phase``), ``scenario`` (a scenario answered during the
    run phase) or ``coded`` (the coder finished, before the state is saved).
    """
    script = root.parent / "loop_killer.py"
    script.write_text(KILLER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(script), str(root), what, str(iteration), phase],
        cwd=root,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode(errors="replace")[-2000:]
