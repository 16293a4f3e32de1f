"""Running the console script in the test's own process, as a user would: real exit codes and stderr."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from orchestrator.cli import main

__all__ = ["Outcome", "run_main"]


@dataclass(frozen=True)
class Outcome:
    """What a command did: its exit code and what it printed on each stream."""

    code: int
    stdout: str
    stderr: str


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> Outcome:
    """Run the console-script entry point in this process (argv patched), as a user would."""
    with CliRunner().isolation() as (out, err, _mixed):
        monkeypatch.setattr(sys, "argv", ["orchestrate", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        return Outcome(code, out.getvalue().decode(), err.getvalue().decode())
