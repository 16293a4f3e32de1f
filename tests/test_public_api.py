"""What users may import is curated: sorted ``__all__`` lists whose every name resolves."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import orchestrator


def _packages() -> list[str]:
    # agents/, drivers/ and policy/ live outside orchestrator/ on disk (package-dir), so walk each.
    roots = ["orchestrator", "orchestrator.agents", "orchestrator.drivers", "orchestrator.policy"]
    found = set(roots[1:])
    for root in roots:
        module = importlib.import_module(root)
        found.update(
            name for _, name, is_package in pkgutil.walk_packages(module.__path__, f"{root}.") if is_package
        )
    return sorted(found)


PACKAGES = _packages()


def isort_style(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then everything else."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


@pytest.mark.parametrize("name", ["orchestrator", *PACKAGES])
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported == sorted(exported, key=isort_style), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported)
    for attribute in exported:
        assert hasattr(module, attribute), f"{name}.__all__ names {attribute}, which it does not define"


@pytest.mark.parametrize("name", ["orchestrator", *PACKAGES])
def test_private_modules_are_not_exported_by_name(name: str) -> None:
    module = importlib.import_module(name)
    assert not [a for a in module.__all__ if a.startswith("_") and a != "__version__"]


def test_the_top_level_api() -> None:
    expected = {
        "ActorHandle",
        "Conductor",
        "Event",
        "EventBus",
        "EventStore",
        "OrchestrateError",
        "ProjectConfig",
        "TypedActor",
        "Worker",
        "load_config",
        "run_conductor",
    }
    assert expected <= set(orchestrator.__all__)
