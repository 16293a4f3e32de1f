"""The REST trackers retry 429, rate-limit 403 and 5xx within their budget, and say why when they stop.

Two servers on loopback answer: the shipped GitHub and GitLab twins with chaos (errors by
probability, from a seed), and a small Starlette app that answers a scripted failure first, with
exactly the headers a test needs. No test sleeps: each tracker gets a :class:`RetryBudget` whose
``sleep`` records the waits instead.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orchestrator.agents.issue_reconciler import reconcile
from orchestrator.agents.issue_reconciler.backends import GitHubTracker, GitLabTracker, RetryBudget
from orchestrator.config import IssuesSection
from orchestrator.trackers import (
    IssueDraft,
    TrackerAuthError,
    TrackerRateLimitError,
    TrackerSettings,
    TrackerUnavailableError,
)
from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins
from tests.agents.reconciler_support import sample_findings, sentinel_body
from tests.loopback import serve_app

TOKEN = "ghp_flaky_token_1"
LABEL = "from:test-runner"
NOW = 1_700_000_000.0
FP = "00000000000000aa"


@dataclass
class Waits:
    """A budget's sleep that records the waits instead of sleeping them."""

    seconds: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


@dataclass
class FlakyGitHub:
    """A tiny GitHub issues API that answers the scripted failures first, then for real.

    ``faults`` maps ``"GET"`` or ``"POST"`` to the answers to give before the real one; an
    answer with ``"land": True`` is given after the issue was created (a 5xx that still landed).
    """

    faults: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        async def issues(request: Request) -> Response:
            self.log.append(request.method)
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return JSONResponse({"message": "Bad credentials"}, status_code=401)
            fault = self.faults.get(request.method, []).pop(0) if self.faults.get(request.method) else None
            if request.method == "POST":
                if fault is not None and not fault.get("land"):
                    return _answer(fault)
                document = await request.json()
                number = len(self.issues) + 1
                self.issues.append({"number": number, "state": "open", **document,
                                    "labels": [{"name": n} for n in document["labels"]]})  # fmt: skip
                if fault is not None:
                    return _answer(fault)
                return JSONResponse(self.issues[-1], status_code=201)
            if fault is not None:
                return _answer(fault)
            return JSONResponse(sorted(self.issues, key=lambda i: -i["number"]))

        return Starlette(routes=[Route("/repos/acme/app/issues", issues, methods=["GET", "POST"])])


def _answer(fault: dict[str, Any]) -> Response:
    return JSONResponse(
        {"message": fault.get("message", "scripted")},
        status_code=fault["status"],
        headers=fault.get("headers"),
    )


def github(api_url: str, waits: Waits, *, budget_s: float = 60.0, token: str = TOKEN) -> GitHubTracker:
    settings = TrackerSettings.of(
        IssuesSection(backend="github", repository="acme/app", api_url=api_url),
        project_root=Path("."),
        label=LABEL,
        env={"GITHUB_TOKEN": token},
    )
    return GitHubTracker(settings, budget=RetryBudget(budget_s, sleep=waits, now=lambda: NOW))


@pytest.fixture
def flaky() -> Iterator[tuple[FlakyGitHub, str]]:
    server = FlakyGitHub()
    with serve_app(server.app()) as origin:
        yield server, origin


def draft(fp: str = FP) -> IssueDraft:
    return IssueDraft(title="[test-runner] A", body=sentinel_body(fp), labels=(LABEL,), fingerprint=fp)


def test_a_429_is_retried_after_its_retry_after(flaky: tuple[FlakyGitHub, str]) -> None:
    server, origin = flaky
    server.faults["GET"] = [{"status": 429, "headers": {"Retry-After": "7"}}]
    waits = Waits()
    tracker = github(origin, waits)
    assert tracker.list_open_issues() == []
    tracker.close()
    assert waits.seconds == [7.0]
    assert server.log == ["GET", "GET"]


def test_a_spent_rate_limit_is_waited_out_until_its_reset(flaky: tuple[FlakyGitHub, str]) -> None:
    server, origin = flaky
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 5)}
    server.faults["GET"] = [{"status": 403, "headers": headers, "message": "API rate limit exceeded"}]
    waits = Waits()
    tracker = github(origin, waits)
    tracker.list_open_issues()
    tracker.close()
    assert waits.seconds == [5.0]


def test_retry_after_may_be_an_http_date(flaky: tuple[FlakyGitHub, str]) -> None:
    server, origin = flaky
    when = format_datetime(datetime.fromtimestamp(NOW + 3, UTC), usegmt=True)
    server.faults["GET"] = [{"status": 503, "headers": {"Retry-After": when}}]
    waits = Waits()
    tracker = github(origin, waits)
    tracker.list_open_issues()
    tracker.close()
    assert waits.seconds == [3.0]


def test_a_wait_past_the_budget_fails_at_once_saying_when_to_come_back(
    flaky: tuple[FlakyGitHub, str],
) -> None:
    server, origin = flaky
    server.faults["GET"] = [{"status": 429, "headers": {"Retry-After": "3600"}, "message": "slow down"}]
    waits = Waits()
    tracker = github(origin, waits, budget_s=60)
    with pytest.raises(TrackerRateLimitError) as caught:
        tracker.list_open_issues()
    tracker.close()
    assert waits.seconds == []
    error = caught.value
    assert (error.tracker, error.status, error.error_code) == ("github", 429, "tracker_rate_limited")
    assert "answered 429: slow down" in error.reason
    assert "asked to wait 3600 s, more than the 60 s left of [issues] retry_budget_s" in error.reason
    assert error.fix is not None and "run again after" in error.fix
    assert TOKEN not in str(error)


def test_a_create_that_landed_before_its_5xx_is_not_sent_twice(flaky: tuple[FlakyGitHub, str]) -> None:
    server, origin = flaky
    server.faults["POST"] = [{"status": 502, "land": True, "message": "Bad Gateway"}]
    waits = Waits()
    tracker = github(origin, waits)
    assert tracker.create_issue(draft()) == 1
    tracker.close()
    assert len(server.issues) == 1
    assert server.log == ["POST", "GET"]  # the retry found the issue instead of posting again
    assert waits.seconds == [0.5]


def test_a_create_refused_before_landing_is_sent_again(flaky: tuple[FlakyGitHub, str]) -> None:
    server, origin = flaky
    server.faults["POST"] = [{"status": 503}]
    tracker = github(origin, Waits())
    assert tracker.create_issue(draft()) == 1
    tracker.close()
    assert server.log == ["POST", "GET", "POST"]
    assert len(server.issues) == 1


def test_a_refused_token_is_not_retried(flaky: tuple[FlakyGitHub, str]) -> None:
    server, origin = flaky
    waits = Waits()
    tracker = github(origin, waits, token="ghp_wrong_token_9")
    with pytest.raises(TrackerAuthError) as caught:
        tracker.list_open_issues()
    tracker.close()
    assert server.log == ["GET"]
    assert waits.seconds == []
    assert (caught.value.status, caught.value.error_code) == (401, "tracker_auth_failed")
    assert caught.value.fix is not None and "$GITHUB_TOKEN" in caught.value.fix
    assert "ghp_wrong_token_9" not in str(caught.value)


# --- against the twins, with chaos ----------------------------------------------------------------


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["github", "gitlab"], seed=11) as running:
        yield running


def open_rest(backend: str, twins: RunningTwins, waits: Waits, budget_s: float = 60.0) -> Any:
    if backend == "github":
        section = IssuesSection(backend="github", repository="acme/app", api_url=twins["github"])
        env, cls = {"GITHUB_TOKEN": "ghp_twin_valid"}, GitHubTracker
    else:
        section = IssuesSection(backend="gitlab", repository="group/project", api_url=twins["gitlab"])
        env, cls = {"GITLAB_TOKEN": "glpat-twin-valid"}, GitLabTracker
    settings = TrackerSettings.of(section, project_root=Path("."), label=LABEL, env=env)
    return cls(settings, budget=RetryBudget(budget_s, sleep=waits, now=lambda: NOW))


@pytest.fixture
def admin(twins: RunningTwins, request: pytest.FixtureRequest) -> Iterator[TwinAdmin]:
    backend = request.param
    with TwinAdmin(twins.endpoints[backend].origin) as twin:
        twin.reset({"issues": [], "comments" if backend == "github" else "notes": []}, seed=11)
        yield twin
        twin.set_chaos(config=None)


@pytest.mark.parametrize("admin", ["github", "gitlab"], indirect=True)
def test_a_failing_twin_is_retried_with_backoff_until_the_attempts_run_out(
    twins: RunningTwins, admin: TwinAdmin
) -> None:
    backend = admin.info()["name"]
    admin.set_chaos(config={"error_500": {"probability": 1.0}})
    waits = Waits()
    tracker = open_rest(backend, twins, waits)
    with pytest.raises(TrackerUnavailableError) as caught:
        tracker.list_open_issues()
    tracker.close()
    assert waits.seconds == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert [e["status"] for e in admin.journal()["entries"]] == [500] * 6
    error = caught.value
    assert (error.tracker, error.status, error.error_code) == (backend, 500, "tracker_unavailable")
    assert "(6 attempts)" in error.reason
    assert error.fix is not None and "run again later" in error.fix


@pytest.mark.parametrize("admin", ["github", "gitlab"], indirect=True)
def test_a_flaky_twin_still_gets_every_finding_filed_once(twins: RunningTwins, admin: TwinAdmin) -> None:
    backend = admin.info()["name"]
    admin.set_chaos(
        config={"error_429": {"probability": 0.3, "retry_after_s": 2}, "error_503": {"probability": 0.3}},
        seed=5,
    )
    waits = Waits()
    tracker = open_rest(backend, twins, waits)
    outcome = reconcile(sample_findings(), tracker, triage="create")
    tracker.close()
    assert outcome.failed == [] and outcome.succeeded
    assert len(outcome.created) == 4
    statuses = [e["status"] for e in admin.journal()["entries"]]
    assert 429 in statuses and 503 in statuses  # the chaos did strike, and was ridden out
    assert 2.0 in waits.seconds  # the 429s' Retry-After was honoured
    admin.set_chaos(config=None)
    assert len(admin.state("issues")) == 4


@pytest.mark.parametrize("admin", ["github", "gitlab"], indirect=True)
def test_creates_the_tracker_refuses_are_each_listed_as_unfiled(
    twins: RunningTwins, admin: TwinAdmin
) -> None:
    backend = admin.info()["name"]
    admin.set_chaos(config={"routes": {f"{backend}.create_issue": {"error_500": {"probability": 1.0}}}})
    tracker = open_rest(backend, twins, Waits(), budget_s=0)
    outcome = reconcile(sample_findings(), tracker, triage="skip")
    tracker.close()
    assert outcome.created == []
    assert [(f["severity"], f["status"], f["tracker"]) for f in outcome.failed] == [
        ("critical", 500, backend),
        ("high", 500, backend),
    ]
    assert {f["error_code"] for f in outcome.failed} == {"tracker_unavailable"}
    assert not outcome.succeeded
    data = outcome.as_data()
    assert data["error_code"] == "tracker_unavailable"
    assert str(data["error"]).startswith(f"2 findings not filed in the {backend} tracker: {backend}: POST")
    assert "fix: the tracker is failing; run again later" in str(data["error"])


def test_a_tracker_that_cannot_be_reached_is_retried_then_unavailable(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    waits = Waits()
    tracker = github(f"http://127.0.0.1:{closed}", waits)
    with pytest.raises(TrackerUnavailableError) as caught:
        tracker.list_open_issues()
    tracker.close()
    assert waits.seconds == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert caught.value.status is None
    assert "(6 attempts)" in caught.value.reason
    assert caught.value.fix is not None and "[issues] api_url" in caught.value.fix


@pytest.mark.parametrize("admin", ["github", "gitlab"], indirect=True)
def test_once_a_tracker_is_given_up_on_later_requests_are_not_sent(
    twins: RunningTwins, admin: TwinAdmin
) -> None:
    backend = admin.info()["name"]
    admin.set_chaos(config={"routes": {f"{backend}.create_issue": {"error_503": {"probability": 1.0}}}})
    waits = Waits()
    tracker = open_rest(backend, twins, waits, budget_s=1.0)
    outcome = reconcile(sample_findings(), tracker, triage="skip")
    tracker.close()
    creates = [e for e in admin.journal()["entries"] if e["route"] == "create_issue"]
    # The first create used the budget (0.5 s of backoff fits, 1 s more would not); the second
    # finding was failed at once, without another round of waiting on a tracker already down.
    assert len(creates) == 2 and waits.seconds == [0.5]
    assert [f["status"] for f in outcome.failed] == [503, 503]
    assert "the tracker gave up earlier" in outcome.failed[1]["reason"]
