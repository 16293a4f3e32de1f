"""The tracker contract is public (``orchestrator.trackers``) and a third-party tracker plugs into it.

A small tracker package, written by this test against nothing but ``orchestrator.trackers``, is
pip-installed into a temporary folder (the environment is left as it was) and found through its
``orchestrate.trackers`` entry point: by :func:`open_tracker`, by the reconciler, and by
``orchestrate issues list``. The shipped backends are found the same way.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.agents.issue_reconciler import reconcile
from orchestrator.cli import app
from orchestrator.config import IssuesSection
from orchestrator.errors import ConfigError
from orchestrator.plugins import load_plugin
from orchestrator.trackers import (
    TRACKER_GROUP,
    LockingTracker,
    SearchingTracker,
    StateFilteringTracker,
    Tracker,
    open_tracker,
)
from tests.agents.reconciler_support import sample_findings

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "orchestrate_memo_tracker"
LABEL = "from:test-runner"

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "orchestrate-memo-tracker"
version = "0.1.0"

[project.entry-points."orchestrate.trackers"]
memo = "orchestrate_memo_tracker:MemoTracker"
"""

MODULE = '''\
"""A tracker kept in one JSON file, written against the public contract only."""

import json
from pathlib import Path

from orchestrator.trackers import IssueDraft, TrackerIssue


class MemoTracker:
    name = "memo"

    def __init__(self, path, label):
        self.path = Path(path)
        self.label = label

    @classmethod
    def from_config(cls, issues, *, project_root, label, env=None):
        return cls(Path(project_root) / "memo-issues.json", label)

    def _issues(self):
        return json.loads(self.path.read_text()) if self.path.exists() else []

    def list_open_issues(self):
        return [TrackerIssue(number=i["number"], title=i["title"], body=i["body"], labels=tuple(i["labels"]))
                for i in self._issues() if self.label in i["labels"]]

    def list_comments(self, number):
        return [i.get("comments", []) for i in self._issues() if i["number"] == number][0]

    def create_issue(self, draft: IssueDraft):
        issues = self._issues()
        issues.append({"number": len(issues) + 1, "title": draft.title, "body": draft.body,
                       "labels": list(draft.labels), "comments": []})
        self.path.write_text(json.dumps(issues))
        return len(issues)

    def add_comment(self, number, body):
        issues = self._issues()
        for issue in issues:
            if issue["number"] == number:
                issue.setdefault("comments", []).append(body)
        self.path.write_text(json.dumps(issues))

    def describe_create(self, draft):
        return {"backend": "memo", "action": "create", "title": draft.title}

    def describe_comment(self, number, body):
        return {"backend": "memo", "action": "comment", "issue": number}

    def close(self):
        pass
'''


@pytest.fixture(scope="module")
def memo_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The memo tracker, pip-installed into a fresh folder put on ``sys.path`` for this module."""
    work = tmp_path_factory.mktemp("memo")
    source = work / "source"
    (source / PACKAGE).mkdir(parents=True)
    (source / "pyproject.toml").write_text(PYPROJECT)
    (source / PACKAGE / "__init__.py").write_text(MODULE)
    target = work / "site-packages"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(target))
        importlib.invalidate_caches()
        yield target
    sys.modules.pop(PACKAGE, None)
    importlib.invalidate_caches()


def test_the_contract_module_needs_nothing_of_the_agents() -> None:
    """orchestrator/ may import only policy/: the contract cannot lean on the reconciler."""
    program = (
        "import sys, orchestrator.trackers\n"
        "ours = ('orchestrator.agents', 'orchestrator.drivers')\n"
        "print(sorted(m for m in sys.modules if m.startswith(ours)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True, cwd=REPO
    )
    assert done.stdout.strip() == "[]"


def test_the_shipped_trackers_are_found_through_the_entry_points(tmp_path: Path) -> None:
    for name in ("local", "github", "gitlab", "gh", "glab"):
        assert callable(getattr(load_plugin(TRACKER_GROUP, name), "from_config", None))
    local = open_tracker(IssuesSection(), project_root=tmp_path, label=LABEL)
    assert isinstance(local, Tracker)
    assert isinstance(local, LockingTracker)
    assert isinstance(local, SearchingTracker)
    assert isinstance(local, StateFilteringTracker)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_third_party_tracker_is_opened_reconciled_and_listed(memo_plugin: Path, tmp_path: Path) -> None:
    tracker = open_tracker(IssuesSection(backend="memo"), project_root=tmp_path, label=LABEL)
    assert type(tracker).__module__ == PACKAGE
    assert isinstance(tracker, Tracker)
    assert not isinstance(tracker, LockingTracker | SearchingTracker | StateFilteringTracker)

    first = reconcile(sample_findings(), tracker, triage="create")
    again = reconcile(sample_findings(), tracker, triage="create")
    assert (first.created, first.failed) == ([1, 2, 3, 4], [])
    assert (again.created, sorted(again.noop)) == ([], [1, 2, 3, 4])

    (tmp_path / "orchestrate.toml").write_text('[issues]\nbackend = "memo"\n')
    listed = CliRunner().invoke(app, ["-C", str(tmp_path), "issues", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    issues = json.loads(listed.stdout)
    assert [(i["backend"], i["number"]) for i in issues] == [("memo", n) for n in (1, 2, 3, 4)]
    refused = CliRunner().invoke(app, ["-C", str(tmp_path), "issues", "list", "--state", "all"])
    assert "the memo tracker lists open issues only" in str(refused.exception)


def test_a_tracker_that_is_not_one_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class NotATracker:
        @classmethod
        def from_config(cls, issues: object, **kwargs: object) -> object:
            return cls()

    monkeypatch.setattr("orchestrator.trackers.load_plugin", lambda group, name: NotATracker)
    with pytest.raises(ConfigError, match="not a Tracker") as caught:
        open_tracker(IssuesSection(backend="odd"), project_root=tmp_path, label=LABEL)
    assert "orchestrator.trackers" in caught.value.fix
