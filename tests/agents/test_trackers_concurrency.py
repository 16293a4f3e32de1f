"""Two reconciles of the same findings at the same moment file each finding once.

Each reconcile lists the tracker and then waits on a barrier until the other has listed too, so
both decide against the same, empty tracker before either writes: the race of two gate runs
started together. The local tracker is raced by two processes (its lock is a file lock); the
REST trackers by two threads (their lock is per process) and by a create that lands between
another reconcile's listing and its write (the re-check right before each create).
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.agents.issue_reconciler import ReconcileOutcome, compose_issue, reconcile
from orchestrator.agents.issue_reconciler.backends import GitHubTracker, GitLabTracker, LocalTracker
from orchestrator.config import IssuesSection
from orchestrator.policy.triage import TriagePolicy
from orchestrator.trackers import TrackerIssue, TrackerSettings
from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins
from tests.agents.reconciler_support import reconcile_in_step, sample_findings

LABEL = "from:test-runner"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_processes_file_each_finding_once_in_the_local_tracker(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    findings = sample_findings()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = [tmp_path / f"outcome-{n}.json" for n in range(2)]
    processes = [
        context.Process(target=reconcile_in_step, args=(str(project), findings, barrier, str(path)))
        for path in results
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(90)
    assert [p.exitcode for p in processes] == [0, 0]
    issues = LocalTracker(project).list_open_issues()
    assert len(issues) == 4
    assert sorted(fp for issue in issues for fp in issue.fingerprints) == sorted(
        f.fingerprint for f in findings
    )
    outcomes = [json.loads(path.read_text()) for path in results]
    assert sorted(len(o["created"]) for o in outcomes) == [0, 4]
    assert sorted(len(o["noop"]) for o in outcomes) == [0, 4]  # the later one found the earlier's issues


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["github", "gitlab"], seed=21) as running:
        yield running


@pytest.fixture(params=["github", "gitlab"])
def backend(request: pytest.FixtureRequest, twins: RunningTwins) -> Iterator[tuple[str, TwinAdmin]]:
    name = str(request.param)
    with TwinAdmin(twins.endpoints[name].origin) as admin:
        admin.reset({"issues": [], "comments" if name == "github" else "notes": []}, seed=21)
        yield name, admin


def settings(name: str, twins: RunningTwins) -> TrackerSettings:
    if name == "github":
        section = IssuesSection(backend="github", repository="acme/app", api_url=twins["github"])
        env = {"GITHUB_TOKEN": "ghp_twin_valid"}
    else:
        section = IssuesSection(backend="gitlab", repository="group/project", api_url=twins["gitlab"])
        env = {"GITLAB_TOKEN": "glpat-twin-valid"}
    return TrackerSettings.of(section, project_root=Path("."), label=LABEL, env=env)


def rest_class(name: str) -> type[Any]:
    return GitHubTracker if name == "github" else GitLabTracker


def test_two_threads_file_each_finding_once_in_a_rest_tracker(
    backend: tuple[str, TwinAdmin], twins: RunningTwins
) -> None:
    name, admin = backend
    barrier = threading.Barrier(2)
    base = rest_class(name)

    class InStep(base):  # type: ignore[misc, valid-type]
        listed = False

        def list_open_issues(self) -> list[TrackerIssue]:
            issues: list[TrackerIssue] = super().list_open_issues()
            if not self.listed:
                self.listed = True
                barrier.wait(30)
            return issues

    outcomes: list[ReconcileOutcome] = []
    errors: list[BaseException] = []

    def run() -> None:
        tracker = InStep(settings(name, twins))
        try:
            outcomes.append(reconcile(sample_findings(), tracker, triage="create"))
        except BaseException as exc:  # reported by the test thread below
            errors.append(exc)
        finally:
            tracker.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert not any(thread.is_alive() for thread in threads)
    assert len(admin.state("issues")) == 4
    assert sorted(len(o.created) for o in outcomes) == [0, 4]
    assert sorted(len(o.noop) for o in outcomes) == [0, 4]


def test_an_issue_filed_after_the_listing_is_found_before_creating(
    backend: tuple[str, TwinAdmin], twins: RunningTwins
) -> None:
    """Another process files a finding between this reconcile's listing and its write."""
    name, admin = backend
    findings = sample_findings()
    elsewhere = rest_class(name)(settings(name, twins))
    base = rest_class(name)

    class Overtaken(base):  # type: ignore[misc, valid-type]
        def list_open_issues(self) -> list[TrackerIssue]:
            issues: list[TrackerIssue] = super().list_open_issues()
            elsewhere.create_issue(compose_issue(findings[0], TriagePolicy()))  # the other run wins
            return issues

    tracker = Overtaken(settings(name, twins))
    outcome = reconcile(findings, tracker, triage="create")
    tracker.close()
    elsewhere.close()
    assert len(admin.state("issues")) == 4
    assert outcome.noop == [1]  # the issue the other run filed
    assert len(outcome.created) == 3
