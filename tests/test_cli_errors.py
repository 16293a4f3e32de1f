"""What a hostile or careless command line gets back: exit 2, the text exactly as typed, no crash.

Every case runs the console script in a subprocess, so the exit code, stdout and stderr are the
ones a user sees. Values that look like rich markup (``[/bold]``), that name a config section
(``[targets.web]``) or that carry control characters must come back literally (controls escaped),
and a command refused for bad input must leave the project exactly as it was.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator.cli import _output

WEB = '[targets.web]\nbase_url = "http://127.0.0.1:{port}"\n'


def orchestrate(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ORCHESTRATE_")}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def project(tmp_path: Path, toml: str = WEB) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "orchestrate.toml").write_text(toml, encoding="utf-8")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("value", ["[/bold]", "[red]x[/red]", "[bold"])
def test_a_profile_that_looks_like_markup_is_exit_2_with_its_literal_text(tmp_path: Path, value: str) -> None:
    root = project(tmp_path)
    done = orchestrate(root, "test", "--target", "web", "--profile", value)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert f"error: --profile: there is no profile named {value!r}; known profiles: a11y" in done.stderr
    assert not (root / ".orchestrator").exists()


def test_a_hint_naming_a_section_shows_it(tmp_path: Path) -> None:
    root = project(tmp_path, "[targets.web]\ndriver = 'web'\n")
    done = orchestrate(root, "test", "--target", "web", "--profile", "smoke")
    assert done.returncode == 2
    assert 'add base_url = "http://127.0.0.1:8000" under [targets.web] in orchestrate.toml' in done.stderr


@pytest.mark.parametrize("name", ["we\nb", "\x1b[31mred", "Web", "../web", "wbe"])
def test_a_bad_target_name_is_refused_before_anything_is_written(tmp_path: Path, name: str) -> None:
    root = project(tmp_path)
    before = snapshot(root)
    done = orchestrate(root, "test", "--target", name)
    assert done.returncode == 2, done.stderr
    assert repr(name) in done.stderr  # escaped the way Python writes it: 'we\\nb', '\\x1b[31mred'
    assert "\x1b" not in done.stderr and "Traceback" not in done.stderr
    assert "\n" not in done.stderr.rstrip("\n").split("error: ", 1)[1].split(". Fix:")[0]
    assert not (root / ".orchestrator").exists()
    assert snapshot(root) == before


def test_a_mistyped_target_names_the_known_ones(tmp_path: Path) -> None:
    root = project(tmp_path)
    done = orchestrate(root, "test", "--target", "wbe")
    assert "there is no target named 'wbe'; known targets: web (did you mean 'web'?)" in done.stderr
    assert "add a section [targets.wbe] in orchestrate.toml" in done.stderr
    assert "base URL" not in done.stderr


def test_control_characters_in_an_error_are_shown_escaped(tmp_path: Path) -> None:
    root = project(tmp_path)
    done = orchestrate(root, "test", "--target", "web", "--profile", "\x1b]0;owned\x07\u202eevil")
    assert done.returncode == 2
    assert "\x1b" not in done.stderr and "\x07" not in done.stderr and "\u202e" not in done.stderr
    assert "\\x1b]0;owned\\x07\\u202eevil" in done.stderr


def test_a_bad_option_value_is_a_usage_error_not_a_crash(tmp_path: Path) -> None:
    root = project(tmp_path)
    for args in (["--triage", "[/bold]"], ["--parallel", "[/x]"]):
        done = orchestrate(root, "test", "--target", "web", *args)
        assert done.returncode == 2, args
        assert "Traceback" not in done.stderr
    assert not (root / ".orchestrator").exists()


def test_table_cells_and_notes_are_printed_literally(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(_output, "out_console", Console(file=out, force_terminal=True, width=200))
    monkeypatch.setattr(_output, "err_console", Console(file=err, force_terminal=True, width=200))
    _output.print_table(["title", "[b]"], [["[/bold] closed", "[red]x[/red]"], ["esc \x1b[2J", "ok"]])
    _output.print_note("add base_url under [targets.web]")
    _output.print_warning("[/]")
    _output.print_error("no profile named '[/bold]'")
    table, notes = out.getvalue(), err.getvalue()
    for text in ("[/bold] closed", "[red]x[/red]", "[b]", "esc \\x1b[2J"):
        assert text in table
    assert "\x1b[2J" not in table
    for text in ("[targets.web]", "warning: ", "[/]", "no profile named '[/bold]'"):
        assert text in notes


def test_a_tracker_mistake_stops_the_gate_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "orchestrate.toml").write_text(
        '[targets.web]\nbase_url = "http://127.0.0.1:9"\n\n[issues]\nbackend = "github"\n', encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "-C", str(tmp_path), "test", "--target", "web"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "issues.repository" in done.stderr and "Fix:" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orchestrate.toml"]
