"""The wheel installs one package, ``orchestrator``, with agents, drivers and policy inside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAPPED = {"agents": "orchestrator/agents", "drivers": "orchestrator/drivers", "policy": "orchestrator/policy"}


def source_packages() -> set[str]:
    """Every package folder in the repo, named as it installs."""
    found = set()
    for init in REPO.glob("orchestrator/**/__init__.py"):
        found.add(init.parent.relative_to(REPO).as_posix())
    for folder, installed in MAPPED.items():
        for init in (REPO / folder).glob("**/__init__.py"):
            sub = init.parent.relative_to(REPO / folder).as_posix()
            found.add(installed if sub == "." else f"{installed}/{sub}")
    return found


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_wheel_holds_the_mapped_packages_and_no_top_level_ones(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("orchestrate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.endswith(".dist-info/") and "/" in name}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"orchestrator"}
    packages = {name.rsplit("/", 1)[0] for name in names if name.endswith("/__init__.py")}
    assert packages == source_packages()
    for data in (REPO / "policy" / "defaults").iterdir():
        assert f"orchestrator/policy/defaults/{data.name}" in names
    assert "orchestrator/py.typed" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "orchestrate = orchestrator.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.mark.timeout(60)
def test_installed_package_imports_by_full_names_only(tmp_path: Path) -> None:
    code = (
        "import importlib.util, orchestrator.agents, orchestrator.drivers, orchestrator.policy\n"
        "print([importlib.util.find_spec(n) is None for n in ('agents', 'drivers', 'policy')])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[True, True, True]"
