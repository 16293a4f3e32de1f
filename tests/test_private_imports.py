"""A package never imports another package's ``_private`` module: what crosses packages is exported.

Every module of the installed package is read (not imported) and each ``import`` and ``from ...
import`` of an ``orchestrator`` module is checked: a private module (a path part starting with one
underscore) may only be imported from inside the package that holds it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The four folders install as one package (see pyproject's package-dir).
FOLDERS = {
    "orchestrator": ROOT / "orchestrator",
    "orchestrator.agents": ROOT / "agents",
    "orchestrator.drivers": ROOT / "drivers",
    "orchestrator.policy": ROOT / "policy",
}


def _modules() -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for prefix, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if prefix == "orchestrator" and parts[0] in {"agents", "drivers", "policy"}:
                continue
            found.append((".".join([prefix, *parts]), path))
    return found


def _package_of(module: str, path: Path) -> str:
    return module.removesuffix(".__init__") if path.name == "__init__.py" else module.rpartition(".")[0]


def _private_owner(imported: str) -> str | None:
    """The package that holds ``imported`` if it names a private module, else ``None``."""
    parts = imported.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:index])
    return None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append((node.lineno, node.module))
            names += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in names if name.split(".")[0] == "orchestrator"]


MODULES = _modules()


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_no_import_of_another_packages_private_module(module: str, path: Path) -> None:
    package = _package_of(module, path)
    wrong = []
    for line, imported in _imports(path):
        owner = _private_owner(imported)
        if owner is not None and owner != package:
            wrong.append(f"{path.relative_to(ROOT)}:{line} imports {imported} (private to {owner})")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from orchestrator.gate._finding import Finding\n", encoding="utf-8")
    assert [_private_owner(name) for _, name in _imports(sample)] == [
        "orchestrator.gate",
        "orchestrator.gate",
    ]
    assert _package_of("orchestrator.pipelines.test._report", sample) == "orchestrator.pipelines.test"
