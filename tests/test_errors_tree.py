"""The exception tree drawn in ``orchestrator/errors.py`` is the real one, and it has one root.

Every module of the installed package is imported, every subclass of ``OrchestrateError`` they
define is collected with its parent, and the result must equal the tree the docstring draws, so
adding, moving or re-parenting an error without redrawing the tree fails here. Every other
public exception class the package defines must derive from ``OrchestrateError`` too; a private
one (``_Name``) is control flow inside its module and is left alone.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

import orchestrator.errors
from orchestrator.errors import ConfigError, OrchestrateError

ROOTS = ("orchestrator", "orchestrator.agents", "orchestrator.drivers", "orchestrator.policy")
# A tree line: the guides, then the class name, then its description.
_TREE_LINE = re.compile(r"^(?P<guides>(?:[│ ] {3})*)(?:[├└]── )?(?P<name>[A-Z]\w*)(?:\s|$)")


def all_modules() -> list[ModuleType]:
    """Every module of the package, imported (``__main__`` modules would run the CLI: skipped)."""
    names: set[str] = set(ROOTS)
    for root in ROOTS:
        package = importlib.import_module(root)
        names.update(name for _, name, _ in pkgutil.walk_packages(package.__path__, f"{root}."))
    return [importlib.import_module(name) for name in sorted(names) if not name.endswith(".__main__")]


def parent_of(cls: type[OrchestrateError]) -> str:
    return next(base.__name__ for base in cls.__bases__ if issubclass(base, OrchestrateError))


def real_tree() -> dict[str, str | None]:
    """Each ``OrchestrateError`` class of the package: its name and its parent's (``None``: the root)."""
    all_modules()
    found: dict[str, type[OrchestrateError]] = {}
    pending: list[type[OrchestrateError]] = list(OrchestrateError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls.__module__.startswith("orchestrator."):
            continue  # defined by a test or a plugin, not by the package
        assert found.setdefault(cls.__name__, cls) is cls, f"two classes are named {cls.__name__}"
    return {OrchestrateError.__name__: None} | {name: parent_of(cls) for name, cls in found.items()}


def drawn_tree(docstring: str) -> dict[str, str | None]:
    """The tree drawn in a docstring: the block after ``::``, four columns per level."""
    block = docstring.split("::\n", 1)[1]
    lines = [line[4:] for line in block.split("\n\n", 1)[0].splitlines() if line.strip()]
    tree: dict[str, str | None] = {}
    ancestors: list[str] = []
    for line in lines:
        match = _TREE_LINE.match(line)
        assert match is not None, f"not a line of the tree: {line!r}"
        depth = len(match["guides"]) // 4 + (1 if line[len(match["guides"]) :].startswith(("├", "└")) else 0)
        assert depth <= len(ancestors), f"{match['name']} is indented under nothing"
        ancestors[depth:] = [match["name"]]
        assert match["name"] not in tree, f"{match['name']} is drawn twice"
        tree[match["name"]] = ancestors[depth - 1] if depth else None
    return tree


def test_the_drawn_tree_is_the_real_tree() -> None:
    drawn = drawn_tree(orchestrator.errors.__doc__ or "")
    real = real_tree()
    missing = sorted(set(real) - set(drawn))
    extra = sorted(set(drawn) - set(real))
    assert not missing, f"errors.py's tree lacks {missing}"
    assert not extra, f"errors.py's tree draws {extra}, which the package does not define"
    moved = {name: (drawn[name], real[name]) for name in real if drawn[name] != real[name]}
    assert not moved, f"drawn under the wrong parent (drawn, real): {moved}"


def test_every_public_exception_the_package_defines_has_the_one_root() -> None:
    outside = [
        f"{module.__name__}.{name}"
        for module in all_modules()
        for name, cls in vars(module).items()
        if inspect.isclass(cls)
        and cls.__module__ == module.__name__
        and not name.startswith("_")
        and issubclass(cls, BaseException)
        and not issubclass(cls, OrchestrateError)
    ]
    assert not outside, f"exceptions outside the OrchestrateError tree: {outside}"


def test_the_parser_reads_depth_and_parents() -> None:
    doc = """Tree::

    Root                 the root
    ├── A                under the root
    │   ├── B            under A
    │   └── C            under A
    └── D                under the root
        └── E            under D

    Text after the tree.
    """
    assert drawn_tree(doc) == {"Root": None, "A": "Root", "B": "A", "C": "A", "D": "Root", "E": "D"}


def test_a_class_missing_from_the_drawing_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    class NewError(ConfigError):
        pass

    monkeypatch.setattr(NewError, "__module__", "orchestrator.example")
    real = real_tree()
    assert real["NewError"] == "ConfigError"
    assert "NewError" not in drawn_tree(orchestrator.errors.__doc__ or "")
