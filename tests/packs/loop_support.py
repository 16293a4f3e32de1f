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
    set_config(root, **sections)
    return root


def set_config(root: Path, **sections: dict[str, Any]) -> None:
    """Replace keys of ``root/orchestrate.toml``, section by section."""
    if not sections:
        return
    document = tomllib.loads((root / "orchestrate.toml").read_text(encoding="utf-8"))
    for name, values in sections.items():
        document.setdefault(name, {}).update(values)
    (root / "orchestrate.toml").write_text(_toml(document), encoding="utf-8")


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
    import os, pathlib, signal, sys, threading, time
    from orchestrator.config import load_config
    from orchestrator.packs import load_pack
    from orchestrator.pipelines.pack import run_pack_loop

    root, what, iteration, phase, signum, when = sys.argv[1:7]
    iteration, signum = int(iteration), int(signum)

    def kill_when_there(path):
        deadline = time.monotonic() + 60
        while not pathlib.Path(path).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signum)

    def progress(kind, details):
        if kind == what and details.get("iteration") == iteration and details.get("phase", phase) == phase:
            if when == "-":
                os.kill(os.getpid(), signum)
            else:
                threading.Thread(target=kill_when_there, args=(when,), daemon=True).start()

    config = load_config(root)
    run_pack_loop(config, load_pack(os.path.join(root, "packs", "inventory.pack.yaml")), on_progress=progress)
    sys.exit(3)  # the loop ended without reaching the kill point
    """
)


def run_killed_at(
    root: Path,
    what: str,
    iteration: int,
    phase: str = "-",
    *,
    signum: int = signal.SIGKILL,
    kill_when: Path | None = None,
) -> int:
    """Run the loop in a child that sends itself ``signum`` at the progress event ``what`` of ``iteration``.

    ``what`` is ``phase`` (the start of ``phase``), ``scenario`` (a scenario answered during the
    run phase) or ``coded`` (the coder finished, before the state is saved). With ``kill_when``,
    the signal comes once that file exists (a coder that started). Returns the child's exit code
    (``-9`` for SIGKILL; a SIGTERM ends the run as interrupted).
    """
    script = root.parent / "loop_killer.py"
    script.write_text(KILLER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, str(script), str(root), what, str(iteration), phase, str(int(signum))]
    argv.append(str(kill_when) if kill_when is not None else "-")
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, timeout=120, check=False)
    stderr = done.stderr.decode(errors="replace")[-2000:]
    if signum == signal.SIGKILL:
        assert done.returncode == -signal.SIGKILL, stderr
    else:
        assert done.returncode not in (0, 3), stderr
    return done.returncode
