"""The demo system under test of examples/integration, loaded for tests, and what it is given."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from orchestrator.twins import RunningTwins

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "integration"
SUT_FILE = EXAMPLE / "sut.py"
TRAJECTORY = "X-Orchestrate-Trajectory"


def load_sut() -> ModuleType:
    """``sut.py`` imported from its file (the example folder is not a package)."""
    spec = importlib.util.spec_from_file_location("orchestrate_demo_integration_sut", SUT_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


sut = load_sut()


def sut_env(twins: RunningTwins, **overrides: str) -> dict[str, str]:
    """What ``orchestrate.toml`` hands the SUT: each twin's base URL and a valid token."""
    env: dict[str, str] = {}
    for name in ("okta", "slack", "jira"):
        token = twins.client(name).token
        assert token is not None
        env[f"{name.upper()}_URL"] = twins[name]
        env[f"{name.upper()}_TOKEN"] = token
    return {**env, **overrides}


def journal(twins: RunningTwins, name: str) -> list[dict[str, Any]]:
    """The requests twin ``name`` served, oldest first.

    A request's entry is written as its response goes out, so a reader right after the response
    waits (on the journal's condition, with a deadline) until every request taken so far is in.
    """
    journal = twins.runtimes[name].journal
    assert journal.wait_settled(journal.last_seq + 1, timeout=10), f"the {name} twin's journal did not settle"
    return journal.entries()
