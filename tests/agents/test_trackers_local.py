"""The local tracker: Markdown files under .orchestrator/issues, numbered, locked, human-editable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orchestrator.agents.issue_reconciler.backends import LocalTracker, issues_dir_of
from orchestrator.config import IssuesSection
from orchestrator.errors import ConfigError
from orchestrator.trackers import IssueDraft, Tracker, TrackerError, open_tracker
from tests.agents.reconciler_support import sentinel_body


def draft(title: str, fp: str = "0123456789abcdef", severity: str = "high") -> IssueDraft:
    return IssueDraft(
        title=f"[test-runner] {title}",
        body=sentinel_body(fp, f"About {title}."),
        labels=("from:test-runner", f"priority:{severity}"),
        fingerprint=fp,
    )


def clock() -> str:
    return "2025-01-02T03:04:05Z"


def test_the_default_backend_is_the_local_tracker(tmp_path: Path) -> None:
    tracker = open_tracker(IssuesSection(), project_root=tmp_path, label="from:test-runner")
    assert isinstance(tracker, LocalTracker)
    assert isinstance(tracker, Tracker)
    assert tracker.directory == tmp_path / ".orchestrator" / "issues"


def test_issues_are_numbered_markdown_files_with_front_matter(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path, clock=clock)
    assert tracker.create_issue(draft("First")) == 1
    assert tracker.create_issue(draft("Second", "1111111111111111", "critical")) == 2
    directory = issues_dir_of(tmp_path)
    assert sorted(p.name for p in directory.glob("*.md")) == ["0001.md", "0002.md"]
    text = (directory / "0002.md").read_text()
    assert text.startswith("---\n")
    front, body = text[4:].split("\n---\n", 1)
    assert yaml.safe_load(front) == {
        "number": 2,
        "title": "[test-runner] Second",
        "state": "open",
        "labels": ["from:test-runner", "priority:critical"],
        "created_at": "2025-01-02T03:04:05Z",
        "updated_at": "2025-01-02T03:04:05Z",
        "comments": 0,
    }
    assert body == sentinel_body("1111111111111111", "About Second.")
    listed = tracker.list_open_issues()
    assert [(i.number, i.title, i.fingerprints) for i in listed] == [
        (1, "[test-runner] First", ["0123456789abcdef"]),
        (2, "[test-runner] Second", ["1111111111111111"]),
    ]
    assert listed[1].url == ".orchestrator/issues/0002.md"


def test_comments_are_appended_and_read_back(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path, clock=clock)
    number = tracker.create_issue(draft("First"))
    tracker.add_comment(number, sentinel_body("2222222222222222", "Seen again."))
    tracker.add_comment(number, "A second comment\nwith two lines")
    assert tracker.list_comments(number) == [
        sentinel_body("2222222222222222", "Seen again."),
        "A second comment\nwith two lines\n",
    ]
    (issue,) = tracker.list_open_issues()
    assert issue.comments == 2
    assert issue.fingerprints == ["0123456789abcdef"]  # comments are not the body
    text = (issues_dir_of(tmp_path) / "0001.md").read_text()
    assert "### Comment (2025-01-02T03:04:05Z)" in text
    assert text.count("<!-- orchestrate:comment at=2025-01-02T03:04:05Z -->") == 2
    with pytest.raises(TrackerError, match="no issue 9"):
        tracker.add_comment(9, "x")


def test_a_person_closes_an_issue_by_editing_its_state(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path)
    tracker.create_issue(draft("First"))
    tracker.create_issue(draft("Second", "1111111111111111"))
    path = issues_dir_of(tmp_path) / "0001.md"
    path.write_text(path.read_text().replace("state: open", "state: closed"))
    assert [i.number for i in tracker.list_open_issues()] == [2]
    assert [i.number for i in tracker.list_issues("closed")] == [1]
    assert [i.number for i in tracker.list_issues("all")] == [1, 2]
    assert tracker.create_issue(draft("Third", "3333333333333333")) == 3  # numbers are never reused


def test_issues_without_our_label_are_not_ours(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path)
    tracker.create_issue(IssueDraft(title="Mine", body="x\n", labels=("team",)))
    assert tracker.list_open_issues() == []
    assert len(tracker.list_issues("open")) == 1


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("no front matter\n", "(front matter)"),
        ("---\nnumber: 1\n", "(front matter)"),
        ("---\nnumber: [1\n---\nbody\n", "(front matter)"),
        ("---\nnumber: 2\ntitle: x\n---\nbody\n", "number"),
        ("---\nnumber: 1\nstate: done\n---\nbody\n", "state"),
    ],
)
def test_a_broken_issue_file_names_the_file_and_field(tmp_path: Path, content: str, field: str) -> None:
    directory = issues_dir_of(tmp_path)
    directory.mkdir(parents=True)
    (directory / "0001.md").write_text(content)
    with pytest.raises(ConfigError) as caught:
        LocalTracker(tmp_path).list_open_issues()
    assert caught.value.field == field
    assert caught.value.path == directory / "0001.md"


def test_dry_run_descriptions_write_nothing(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path)
    described = tracker.describe_create(draft("First"))
    assert described["action"] == "create"
    assert described["directory"] == ".orchestrator/issues"
    assert described["labels"] == ["from:test-runner", "priority:high"]
    assert tracker.describe_comment(4, "hello")["path"] == ".orchestrator/issues/0004.md"
    assert not issues_dir_of(tmp_path).exists()


CREATOR = """
import sys
from pathlib import Path
from orchestrator.trackers import IssueDraft
from orchestrator.agents.issue_reconciler.backends import LocalTracker
tracker = LocalTracker(Path(sys.argv[1]))
for i in range(int(sys.argv[3])):
    body = "x\\n\\n<!-- orchestrate:fingerprint=%016x -->\\n" % (int(sys.argv[2]) * 100 + i)
    print(tracker.create_issue(IssueDraft(title="t", body=body, labels=("from:test-runner",))))
    tracker.add_comment(1, "from %s" % sys.argv[2])
"""


@pytest.mark.timeout(120)
def test_concurrent_runs_never_reuse_a_number_or_lose_a_comment(tmp_path: Path) -> None:
    LocalTracker(tmp_path).create_issue(draft("Seed"))
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", CREATOR, str(tmp_path), str(n), "8"], stdout=subprocess.PIPE, text=True
        )
        for n in range(1, 4)
    ]
    printed: list[int] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=90)
        assert worker.returncode == 0
        printed += [int(line) for line in out.split()]
    assert sorted(printed) == list(range(2, 26))
    tracker = LocalTracker(tmp_path)
    assert [i.number for i in tracker.list_open_issues()] == list(range(1, 26))
    assert len(tracker.list_comments(1)) == 24
    assert len({fp for i in tracker.list_open_issues() for fp in i.fingerprints}) == 25
