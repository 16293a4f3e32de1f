"""The coder: the coding-agent command run on a backlog, its record, and what it changed.

Real subprocesses in temporary folders: the demo coder of examples/assistant on a copy of it,
commands that fail, hang or do not exist, secrets withheld and redacted, changes found by
snapshots in any folder and ``git diff --stat`` in a git work tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from orchestrator.agents.coder import (
    RECORD_FILE,
    SCHEMA_VERSION,
    STDERR_FILE,
    STDOUT_FILE,
    CoderDone,
    CoderRequest,
    changed_paths,
    run_coder,
    take_snapshot,
)
from orchestrator.errors import UsageError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "assistant"
BACKLOG_LINE = "- [route] restock/low-items: the low_stock capability is missing\n"
SECRET = "tok-7f3a9c21d4e8"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def python(code: str, *args: str) -> list[str]:
    """A one-line Python command (arguments never hold a newline)."""
    return [sys.executable, "-c", code, *args]


def script(tmp_path: Path, code: str) -> list[str]:
    """A command running ``code`` from a file outside the repository."""
    folder = tmp_path / "scripts"
    folder.mkdir(exist_ok=True)
    path = folder / f"script_{len(list(folder.iterdir()))}.py"
    path.write_text(code, encoding="utf-8")
    return [sys.executable, str(path)]


def request(tmp_path: Path, folder: Path, command: list[str], **overrides: Any) -> CoderRequest:
    """A request for ``command`` in ``folder``, with a backlog and analysis beside it."""
    iteration = tmp_path / "iteration"
    iteration.mkdir(exist_ok=True)
    backlog, analysis = iteration / "backlog.md", iteration / "analysis.json"
    if not backlog.exists():
        backlog.write_text("# Backlog\n\n" + BACKLOG_LINE, encoding="utf-8")
        analysis.write_text(json.dumps({"backlog": []}), encoding="utf-8")
    fields: dict[str, Any] = {
        "command": command,
        "repo": str(folder),
        "backlog": str(backlog),
        "analysis": str(analysis),
        "iteration": 1,
        "output_dir": str(iteration / "coder"),
        "timeout_s": 30.0,
        **overrides,
    }
    return CoderRequest(**fields)


def record(done: CoderDone) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((Path(done.stdout_path).parent / RECORD_FILE).read_text("utf-8"))
    return data


@pytest.fixture
def assistant(tmp_path: Path) -> Path:
    repo = tmp_path / "assistant"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__"))
    return repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep\n", encoding="utf-8")
    return folder


def demo_coder(repo: Path) -> list[str]:
    script = str(repo / "coder.py")
    return [sys.executable, script, "--backlog", "{backlog}", "--repo", "{repo}", "--analysis", "{analysis}"]


def test_the_demo_coder_fixes_the_backlog_item_and_the_record_lists_the_change(
    tmp_path: Path, assistant: Path
) -> None:
    done = run_coder(request(tmp_path, assistant, demo_coder(assistant)))

    assert (done.outcome, done.exit_code, done.ok, done.error) == ("exited", 0, True, None)
    assert done.changed_paths == ["capabilities.json"]
    assert json.loads((assistant / "capabilities.json").read_text("utf-8"))["low_stock"] is True
    assert done.diff_stat is None  # a plain folder, not a git work tree
    assert "turned on low_stock" in Path(done.stdout_path).read_text("utf-8")
    written = record(done)
    assert written["schema_version"] == SCHEMA_VERSION
    assert CoderDone.model_validate({k: v for k, v in written.items() if k != "schema_version"}) == done
    assert Path(done.stdout_path).name == STDOUT_FILE and Path(done.stderr_path).name == STDERR_FILE

    again = run_coder(request(tmp_path, assistant, demo_coder(assistant), iteration=2))
    assert (again.exit_code, again.ok, again.changed_paths) == (3, False, [])
    assert again.error is not None and "status 3" in again.error


def test_placeholders_are_filled_and_other_braces_left_alone(tmp_path: Path, repo: Path) -> None:
    command = python(
        "import json, sys; print(json.dumps(sys.argv[1:]))",
        "{backlog}",
        "--iteration={iteration}",
        "{repo}/src",
        "{analysis}",
        '{"a": 1}',
        "{}",
    )
    the_request = request(tmp_path, repo, command, iteration=4)
    done = run_coder(the_request)

    expected = [
        the_request.backlog,
        "--iteration=4",
        f"{repo}/src",
        the_request.analysis,
        '{"a": 1}',
        "{}",
    ]
    assert done.argv == [*command[:3], *expected]
    assert json.loads(Path(done.stdout_path).read_text("utf-8")) == expected


def test_an_unknown_placeholder_is_an_error_naming_it_and_the_allowed_ones(
    tmp_path: Path, repo: Path
) -> None:
    with pytest.raises(UsageError) as caught:
        run_coder(request(tmp_path, repo, python("pass", "--out={output}")))
    message = str(caught.value)
    assert "{output}" in message and "item 3" in message
    assert all(name in message for name in ("{backlog}", "{analysis}", "{repo}", "{iteration}"))
    assert not (tmp_path / "iteration" / "coder").exists()  # nothing ran, nothing recorded


def test_a_failing_command_is_a_result_with_its_error_and_files(tmp_path: Path, repo: Path) -> None:
    command = python("import sys; print('trying'); sys.stderr.write('no backlog item fits\\n'); sys.exit(1)")
    done = run_coder(request(tmp_path, repo, command))

    assert (done.outcome, done.exit_code, done.ok) == ("exited", 1, False)
    assert done.error is not None and "status 1" in done.error and "no backlog item fits" in done.error
    assert Path(done.stdout_path).read_text("utf-8") == "trying\n"
    assert Path(done.stderr_path).read_text("utf-8") == "no backlog item fits\n"
    assert record(done)["ok"] is False


def test_a_command_that_does_not_exist_is_not_found(tmp_path: Path, repo: Path) -> None:
    done = run_coder(request(tmp_path, repo, ["no-such-coding-agent-xyz", "{backlog}"]))

    assert (done.outcome, done.exit_code, done.ok) == ("not_found", None, False)
    assert done.error is not None and "no-such-coding-agent-xyz" in done.error
    assert done.changed_paths == []
    assert record(done)["outcome"] == "not_found"


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for a reaper is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_command_that_runs_forever_times_out_and_leaves_nothing_behind(tmp_path: Path, repo: Path) -> None:
    pids = tmp_path / "pids.txt"
    forever = "import time\nwhile True: time.sleep(1)"
    command = script(
        tmp_path,
        "import os, subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {forever!r}])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "while True: time.sleep(1)",
    )
    done = run_coder(request(tmp_path, repo, command, timeout_s=3.0))

    assert (done.outcome, done.exit_code, done.ok) == ("timed_out", None, False)
    assert done.error is not None and "did not finish" in done.error
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 2
    assert not [pid for pid in started if alive(pid)]


def test_secrets_are_withheld_unless_passed_through_and_always_redacted(tmp_path: Path, repo: Path) -> None:
    env = {**os.environ, "MY_API_TOKEN": SECRET}
    command = script(
        tmp_path,
        "import os, sys\n"
        "print('token', 'seen' if os.environ.get('MY_API_TOKEN') else 'absent')\n"
        f"print('echo {SECRET}')\n"
        f"sys.stderr.write('stderr {SECRET}\\n')\n"
        "sys.exit(1)",
    )
    withheld = run_coder(request(tmp_path, repo, command), env=env)
    stdout = Path(withheld.stdout_path).read_text("utf-8")
    assert stdout == "token absent\necho [redacted]\n"
    assert Path(withheld.stderr_path).read_text("utf-8") == "stderr [redacted]\n"
    assert withheld.error is not None and "[redacted]" in withheld.error
    output_dir = Path(withheld.stdout_path).parent
    for path in output_dir.iterdir():
        assert SECRET not in path.read_text("utf-8"), path.name

    passed = run_coder(request(tmp_path, repo, command, env_passthrough=["MY_API_TOKEN"]), env=env)
    assert Path(passed.stdout_path).read_text("utf-8") == "token seen\necho [redacted]\n"


def test_added_modified_and_deleted_files_are_changes_and_ignored_paths_are_not(
    tmp_path: Path, repo: Path
) -> None:
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("ROUTES = []\n", encoding="utf-8")
    (repo / "old.txt").write_text("old\n", encoding="utf-8")
    (repo / "artifacts").mkdir()
    (repo / "artifacts" / "run.json").write_text("{}", encoding="utf-8")
    command = script(
        tmp_path,
        "import os, pathlib\n"
        "pathlib.Path('src/app.py').write_text('ROUTES = [1]\\n')\n"
        "pathlib.Path('src/new.py').write_text('x = 1\\n')\n"
        "os.remove('old.txt')\n"
        "pathlib.Path('artifacts/run.json').write_text('{\"changed\": true}')\n"
        "pathlib.Path('artifacts/more.json').write_text('{}')\n"
        "os.makedirs('__pycache__', exist_ok=True)\n"
        "pathlib.Path('__pycache__/app.cpython-311.pyc').write_bytes(b'x')\n"
        "os.makedirs('node_modules/pkg', exist_ok=True)\n"
        "pathlib.Path('node_modules/pkg/index.js').write_text('1')\n",
    )
    # The record folder inside the repository is not a change either.
    inside = repo / ".orchestrator" / "coder"
    done = run_coder(request(tmp_path, repo, command, ignore=["artifacts/"], output_dir=str(inside)))

    assert done.ok
    assert done.changed_paths == ["old.txt", "src/app.py", "src/new.py"]
    assert (inside / RECORD_FILE).is_file()


def test_snapshots_compare_content_and_links_and_see_a_same_size_rewrite(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "same.txt").write_text("aaaa", encoding="utf-8")
    (root / "touched.txt").write_text("same", encoding="utf-8")
    (root / "sub" / "target.txt").write_text("t", encoding="utf-8")
    (root / "link").symlink_to("sub/target.txt")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref", encoding="utf-8")
    before = take_snapshot(root)
    assert set(before.files) == {"same.txt", "touched.txt", "sub/target.txt", "link"}

    stat = (root / "same.txt").stat()
    (root / "same.txt").write_text("bbbb", encoding="utf-8")  # same size, and the old mtime put back
    os.utime(root / "same.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (root / "touched.txt").write_text("same", encoding="utf-8")  # written, content unchanged
    (root / "link").unlink()
    (root / "link").symlink_to("elsewhere")  # retargeted, never followed
    (root / ".git" / "HEAD").write_text("other", encoding="utf-8")
    after = take_snapshot(root, previous=before)

    assert changed_paths(before, after) == ["link", "same.txt"]
    assert after.files["link"].digest == "elsewhere"


@needs_git
def test_in_a_git_work_tree_the_diff_stat_is_recorded(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "app.py").write_text("one\n", encoding="utf-8")
    (root / "artifacts").mkdir()
    (root / "artifacts" / "log.txt").write_text("a\n", encoding="utf-8")
    git = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-C", str(root)]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "start"]):
        subprocess.run([*git, *args], check=True, capture_output=True, timeout=30)
    command = script(
        tmp_path,
        "import pathlib\n"
        "pathlib.Path('app.py').write_text('one\\ntwo\\n')\n"
        "pathlib.Path('artifacts/log.txt').write_text('b\\n')\n",
    )
    emitted: list[tuple[str, dict[str, Any]]] = []

    def emit(event_type: str, **payload: Any) -> None:
        emitted.append((event_type, payload))

    done = run_coder(request(tmp_path, root, command, ignore=["artifacts"]), emit=emit)

    assert done.changed_paths == ["app.py"]
    assert done.diff_stat is not None
    assert "app.py" in done.diff_stat and "1 file changed" in done.diff_stat
    assert "artifacts" not in done.diff_stat
    results = [payload for event_type, payload in emitted if event_type == "worker.tool.result"]
    assert [(p["tool_name"], p["success"]) for p in results] == [("coder", True), ("git", True)]


def test_a_request_must_use_absolute_paths_and_a_command(tmp_path: Path, repo: Path) -> None:
    with pytest.raises(ValidationError, match="absolute"):
        request(tmp_path, repo, python("pass"), repo="relative/repo")
    with pytest.raises(ValidationError, match="command"):
        request(tmp_path, repo, [])
    with pytest.raises(ValidationError, match="relative to repo"):
        request(tmp_path, repo, python("pass"), ignore=["../outside"])
    with pytest.raises(UsageError, match="not a folder"):
        run_coder(request(tmp_path, repo, python("pass"), repo=str(tmp_path / "missing")))


def test_withheld_variables_are_kept_back_and_redacted_whatever_their_names(
    tmp_path: Path, repo: Path
) -> None:
    env = {**os.environ, "INVENTORY_HEADER": "hdr-value-1234567"}
    command = script(
        tmp_path,
        "import os\nprint('header', os.environ.get('INVENTORY_HEADER'))\nprint('hdr-value-1234567')\n",
    )
    done = run_coder(request(tmp_path, repo, command, withheld_env=["INVENTORY_HEADER"]), env=env)
    assert Path(done.stdout_path).read_text("utf-8") == "header None\n[redacted]\n"


def test_a_cancelled_run_leaves_no_record_so_it_runs_again(tmp_path: Path, repo: Path) -> None:
    import threading

    started = tmp_path / "started"
    command = script(
        tmp_path,
        f"import pathlib, time\npathlib.Path({str(started)!r}).write_text('x')\ntime.sleep(60)\n",
    )
    cancelled = threading.Event()

    def cancel_once_started() -> None:
        # Waits on the file with a deadline: the command runs in its own process.
        for _ in range(600):
            if started.exists():
                break
            cancelled.wait(0.05)
        cancelled.set()

    helper = threading.Thread(target=cancel_once_started)
    helper.start()
    done = run_coder(request(tmp_path, repo, command), cancelled=cancelled)
    helper.join(timeout=30)
    assert done.outcome == "cancelled" and not done.ok
    assert not (Path(done.stdout_path).parent / RECORD_FILE).exists()


def test_output_past_the_cap_is_cut_and_the_record_says_so(tmp_path: Path, repo: Path) -> None:
    command = script(tmp_path, "import sys\nsys.stdout.write('x' * (5 * 1024 * 1024))\n")
    done = run_coder(request(tmp_path, repo, command))
    assert done.ok and done.output_truncated
    assert Path(done.stdout_path).stat().st_size == 4 * 1024 * 1024
    assert record(done)["output_truncated"] is True
