"""The command driver with real commands: a real pytest run, a missing program, a hung command."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from orchestrator.actors import spawn
from orchestrator.artifacts import read_jsonl
from orchestrator.drivers.command import (
    OUTPUT_CAP,
    CommandDriver,
    parse_junit,
    run_command_tests,
)
from orchestrator.errors import ArtifactError
from orchestrator.events import EventBus
from orchestrator.gate import CAPTURE, CaptureManifest, CaptureRequest, CaptureResult, CaptureTarget
from orchestrator.messages import WorkRequest, WorkResult
from orchestrator.plugins import load_plugin
from orchestrator.policy.test_profiles import Profile

SAMPLE_TESTS = """
import json
import os


def test_sees_the_changed_files():
    assert json.loads(os.environ["TEST_CHANGED_FILES"]) == ["src/app.py"]


def test_arithmetic():
    assert 1 + 1 == 3, "arithmetic is broken"
"""

PASSING_JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="s" tests="1"><testcase classname="pkg.mod" name="test_ok" time="0.01"/>
</testsuite></testsuites>
"""

FAILING_JUNIT = """<testsuite name="s">
<testcase classname="m" name="ok"/>
<testcase classname="m" name="bad"><error message="ValueError: bad value"/></testcase>
<testcase classname="m" name="later"><skipped/></testcase>
</testsuite>"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "test_sample.py").write_text(SAMPLE_TESTS)
    return root


FAST_PYTEST = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
"""The environment of the inner pytest runs: no third-party plugins to load, so they start fast."""


def pytest_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml", "junit.xml", *extra]


def script(project: Path, name: str, body: str) -> list[str]:
    """A command running a Python script written into the project (argv may not hold newlines)."""
    (project / name).write_text(body)
    return [sys.executable, name]


def manifest_of(run_dir: Path) -> CaptureManifest:
    return CaptureManifest.model_validate_json((run_dir / "captures" / "command.json").read_text())


def exit_code_file(run_dir: Path) -> str:
    return (run_dir / "drivers" / "command" / "exit_code").read_text().strip()


@pytest.mark.timeout(60)
def test_a_real_pytest_run_becomes_one_capture_per_test(tmp_path: Path, project: Path) -> None:
    run_dir = tmp_path / "run"
    run = run_command_tests(
        run_dir,
        project_root=project,
        command=pytest_command("test_sample.py"),
        junit="junit.xml",
        timeout_s=60,
        changed_files=["src/app.py"],
        env=FAST_PYTEST,
    )
    manifest = run.manifest

    assert manifest.exit_code == 1 and manifest.error is None
    assert manifest == manifest_of(run_dir)
    assert [(c.kind, c.name, c.ok) for c in manifest.captures] == [
        ("test", "test_sample::test_sees_the_changed_files", True),
        ("test", "test_sample::test_arithmetic", False),
    ]
    failed = manifest.captures[1]
    assert failed.error is not None and "arithmetic is broken" in failed.error
    assert manifest.captures[0].error is None
    assert run.returncode == 1
    assert manifest.extra == {
        "stdout": "command/stdout.txt",
        "stderr": "command/stderr.txt",
        "junit": "command/junit.xml",
    }
    assert "1 failed, 1 passed" in (run_dir / "command" / "stdout.txt").read_text()
    assert (run_dir / "command" / "junit.xml").read_bytes() == (project / "junit.xml").read_bytes()
    assert exit_code_file(run_dir) == "1"


@pytest.mark.timeout(60)
def test_all_tests_passing_is_exit_0(tmp_path: Path, project: Path) -> None:
    run = run_command_tests(
        tmp_path / "run",
        project_root=project,
        command=pytest_command("test_sample.py", "-k", "changed_files"),
        junit="junit.xml",
        timeout_s=60,
        changed_files=["src/app.py"],
        env=FAST_PYTEST,
    )
    assert run.manifest.exit_code == 0
    assert [(c.name, c.ok) for c in run.manifest.captures] == [
        ("test_sample::test_sees_the_changed_files", True)
    ]
    assert exit_code_file(tmp_path / "run") == "0"


def test_a_missing_program_is_exit_2(tmp_path: Path, project: Path) -> None:
    run = run_command_tests(
        tmp_path / "run",
        project_root=project,
        command=["no-such-test-runner-4f1e", "--junit", "junit.xml"],
        junit="junit.xml",
        timeout_s=10,
    )
    assert run.manifest.exit_code == 2
    assert run.manifest.error == "profile.command: no-such-test-runner-4f1e not found on PATH"
    assert run.manifest.captures == [] and run.returncode is None
    assert exit_code_file(tmp_path / "run") == "2"


@pytest.mark.timeout(30)
def test_a_command_outliving_its_timeout_is_killed_and_exit_2(tmp_path: Path, project: Path) -> None:
    # The child blocks on an event nothing ever sets; only the driver's timeout can end it.
    command = script(
        project, "hang.py", "import threading\nprint('started', flush=True)\nthreading.Event().wait()\n"
    )
    run = run_command_tests(
        tmp_path / "run", project_root=project, command=command, junit="junit.xml", timeout_s=1
    )

    assert run.manifest.exit_code == 2
    assert run.manifest.error is not None and "did not finish within 1 s and was killed" in run.manifest.error
    assert (tmp_path / "run" / "command" / "stdout.txt").read_text() == "started\n"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("pass\n", "wrote no JUnit report at junit.xml"),
        ("open('junit.xml', 'w').write('<testsuite><testcase')\n", "is not well-formed XML"),
        ("open('junit.xml', 'w').write('<html><body/></html>')\n", "its root is <html>"),
        (
            "open('junit.xml', 'w').write('<!DOCTYPE t [<!ENTITY a \"aaaa\">]><testsuite>&a;</testsuite>')\n",
            "declares DOCTYPE",
        ),
    ],
)
def test_a_missing_or_unreadable_report_is_exit_2(
    tmp_path: Path, project: Path, body: str, error: str
) -> None:
    command = script(project, "writer.py", body)
    run = run_command_tests(
        tmp_path / "run", project_root=project, command=command, junit="junit.xml", timeout_s=30
    )
    assert run.manifest.exit_code == 2
    assert run.manifest.error is not None and error in run.manifest.error
    assert run.returncode == 0


def test_a_report_left_from_an_earlier_run_is_not_ingested(tmp_path: Path, project: Path) -> None:
    (project / "junit.xml").write_text(PASSING_JUNIT)
    command = script(project, "noop.py", "pass\n")
    run = run_command_tests(
        tmp_path / "run", project_root=project, command=command, junit="junit.xml", timeout_s=30
    )
    assert run.manifest.exit_code == 2
    expected = f"{Path(sys.executable).name} did not write junit.xml; the file there is from before this run"
    assert run.manifest.error == expected


def test_a_failing_command_whose_report_shows_no_failure_is_exit_1(tmp_path: Path, project: Path) -> None:
    body = f"import sys\nopen('reports/junit.xml', 'w').write({PASSING_JUNIT!r})\nsys.exit(3)\n"
    (project / "reports").mkdir()
    command = script(project, "coverage_gate.py", body)
    run = run_command_tests(
        tmp_path / "run", project_root=project, command=command, junit="reports/junit.xml", timeout_s=30
    )
    assert run.manifest.exit_code == 1
    assert [(c.name, c.ok) for c in run.manifest.captures] == [
        ("pkg.mod::test_ok", True),
        (f"{Path(sys.executable).name}::exit-status", False),
    ]
    last = run.manifest.captures[-1]
    assert last.error is not None and "exited with status 3" in last.error
    assert run.returncode == 3


@pytest.mark.parametrize(
    ("command", "junit", "error"),
    [
        ([], "junit.xml", "profile.command: the command driver has no command to run"),
        (["pytest"], None, "profile.junit: the command driver needs the JUnit XML file"),
        (["pytest"], "../outside.xml", "profile.junit: '../outside.xml' is outside the project root"),
        (["pytest", "-k", "a\nb"], "junit.xml", "contains '\\n'"),
    ],
)
def test_bad_profiles_are_exit_2_and_run_nothing(
    tmp_path: Path, project: Path, command: list[str], junit: str | None, error: str
) -> None:
    run = run_command_tests(tmp_path / "run", project_root=project, command=command, junit=junit, timeout_s=5)
    assert run.manifest.exit_code == 2
    assert run.manifest.error is not None and error in run.manifest.error
    assert not (tmp_path / "run" / "command").exists()


def test_output_beyond_the_cap_is_cut_and_the_command_never_blocks(tmp_path: Path, project: Path) -> None:
    body = (
        "import sys\n"
        f"sys.stdout.write('x' * {OUTPUT_CAP * 3})\n"
        f"open('junit.xml', 'w').write({PASSING_JUNIT!r})\n"
    )
    command = script(project, "chatty.py", body)
    run = run_command_tests(
        tmp_path / "run", project_root=project, command=command, junit="junit.xml", timeout_s=30
    )
    assert run.manifest.exit_code == 0
    saved = (tmp_path / "run" / "command" / "stdout.txt").read_bytes()
    assert saved.startswith(b"x" * OUTPUT_CAP)
    assert saved.endswith(f"[output cut at {OUTPUT_CAP} bytes]\n".encode())


def test_junit_parsing_handles_nesting_errors_skips_and_messages() -> None:
    report = b"""<?xml version="1.0"?>
<testsuites>
  <testsuite name="outer">
    <testsuite name="inner">
      <testcase classname="a.B" name="test_fail">
        <failure message="expected 2, got 3">trace</failure>
      </testcase>
      <testcase classname="a.B" name="test_error"><error type="RuntimeError">
boom happened
  at line 3</error></testcase>
    </testsuite>
    <testcase name="TestGo/sub" time="0.5"/>
    <testcase classname="a.B" name="test_skip"><skipped message="not on linux"/></testcase>
  </testsuite>
</testsuites>"""
    cases = parse_junit(report)
    assert [(c.qualified_name, c.outcome, c.message) for c in cases] == [
        ("a.B::test_fail", "failed", "expected 2, got 3"),
        ("a.B::test_error", "error", "boom happened"),
        ("TestGo/sub", "passed", None),
        ("a.B::test_skip", "skipped", "not on linux"),
    ]
    assert cases[2].time_s == 0.5


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_entity_declarations_are_refused_before_parsing(encoding: str) -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        "<testsuite><testcase name='&lol2;'/></testsuite>"
    )
    with pytest.raises(ArtifactError, match="declares DOCTYPE"):
        parse_junit(laughs.encode(encoding))


@pytest.mark.timeout(30)
def test_the_actor_follows_the_driver_contract(tmp_path: Path, project: Path, bus: EventBus) -> None:
    assert load_plugin("orchestrate.drivers", "command") is CommandDriver
    command = script(project, "one_failure.py", f"open('junit.xml', 'w').write({FAILING_JUNIT!r})\n")
    run_dir = tmp_path / "runs" / "cmd-1"
    bus.open_run("cmd-1", run_dir / "events.jsonl")
    driver = spawn(CommandDriver, events=bus, name="command-driver-test")
    request = WorkRequest(
        run_id="cmd-1",
        task_id="task-1",
        call_id="call-1",
        capability="capture",
        objective="run the suite",
        params=CaptureRequest(
            run_id="cmd-1",
            run_dir=run_dir,
            project_root=project,
            target=CaptureTarget(name="suite"),
            profile_name="suite",
            profile=Profile(driver="command", command=command, junit="junit.xml", timeout_s=20),
            parallel=1,
        ).model_dump(mode="json"),
    )
    result = driver.ask(request, timeout=25)
    bus.close_run("cmd-1")

    assert isinstance(result, WorkResult) and not result.success
    assert CAPTURE.parse_result(result.data) == CaptureResult(
        exit_code=1,
        manifest="captures/command.json",
        captured=1,
        failed=1,
        skipped=1,
        command_exit_status=0,
    )
    assert manifest_of(run_dir).captures[1].error == "ValueError: bad value"
    events = read_jsonl(run_dir / "events.jsonl").records
    (call,) = [e for e in events if e["event_type"] == "worker.tool.call"]
    (done,) = [e for e in events if e["event_type"] == "worker.tool.result"]
    assert call["payload"]["args_summary"].endswith("one_failure.py")
    assert done["payload"]["success"] is True and done["tool_trace_id"] == call["tool_trace_id"]
    assert [e["event_type"] for e in events][-1] == "worker.task.completed"


def test_changed_files_reach_the_command_as_json(tmp_path: Path, project: Path) -> None:
    body = (
        "import os\n"
        "open('seen.json', 'w').write(os.environ.get('TEST_CHANGED_FILES', 'unset'))\n"
        f"open('junit.xml', 'w').write({PASSING_JUNIT!r})\n"
    )
    command = script(project, "env_probe.py", body)
    run_command_tests(tmp_path / "a", project_root=project, command=command, junit="junit.xml", timeout_s=30)
    assert (project / "seen.json").read_text() == "unset"
    run_command_tests(
        tmp_path / "b",
        project_root=project,
        command=command,
        junit="junit.xml",
        timeout_s=30,
        changed_files=["a b.py", "c.py"],
    )
    assert json.loads((project / "seen.json").read_text()) == ["a b.py", "c.py"]
