"""The twin server: start and stop, the admin API, the journal, auth and redaction, isolation."""

from __future__ import annotations

import json
import socket
import threading

import httpx
import pytest

from orchestrator.errors import ConfigError, UsageError
from orchestrator.twins import TRAJECTORY_HEADER, TwinAdmin, serve_twins
from tests.twins.helpers import ServeFn

GITHUB_AUTH = {"Authorization": "Bearer ghp_twin_valid"}
ISSUES = "/repos/octo-org/hello-world/issues"


def test_servers_start_on_free_ports_and_stop_without_leaving_threads() -> None:
    baseline = threading.active_count()
    with serve_twins(["github", "gitlab", "openai"], seed=1) as twins:
        assert threading.active_count() == baseline + 1  # one server thread for all three
        ports = {endpoint.port for endpoint in twins.endpoints.values()}
        assert len(ports) == 3
        assert all(port > 0 for port in ports)
        assert twins["gitlab"].endswith("/api/v4")
        assert twins["openai"].endswith("/v1")
        for name in twins:
            assert httpx.get(f"{twins.admin_url(name)}/health").json() == {"ok": True, "twin": name}
    assert threading.active_count() == baseline
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{twins.admin_url('github')}/health")


def test_a_given_port_is_used_and_a_busy_one_is_a_clear_error(serve: ServeFn) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        busy = probe.getsockname()[1]
        probe.listen()
        with pytest.raises(UsageError, match=f"cannot listen on 127.0.0.1:{busy}"):
            serve(["github"], port=busy)
    twins = serve(["github"], port=busy)
    assert twins.endpoints["github"].port == busy


@pytest.mark.parametrize(("port", "problem"), [(65535, "ports 65535..65536"), (70000, "not a TCP port")])
def test_ports_beyond_the_range_are_a_clear_error(port: int, problem: str) -> None:
    with pytest.raises(UsageError, match=problem), serve_twins(["github", "gitlab"], port=port):
        pass  # pragma: no cover - never reached


def test_every_twin_has_its_own_state(serve: ServeFn) -> None:
    first = serve(["github"], seed=1)
    second = serve(["github"], seed=1)
    created = httpx.post(f"{first['github']}{ISSUES}", json={"title": "only here"}, headers=GITHUB_AUTH)
    assert created.status_code == 201
    titles_first = [i["title"] for i in httpx.get(f"{first['github']}{ISSUES}", headers=GITHUB_AUTH).json()]
    titles_second = [i["title"] for i in httpx.get(f"{second['github']}{ISSUES}", headers=GITHUB_AUTH).json()]
    assert "only here" in titles_first
    assert "only here" not in titles_second


def test_reset_reloads_seed_data_and_clears_the_journal(serve: ServeFn) -> None:
    twins = serve(["github"], seed=5)
    url = twins["github"]
    httpx.post(f"{url}{ISSUES}", json={"title": "temporary"}, headers=GITHUB_AUTH)
    with TwinAdmin(twins.endpoints["github"].origin) as admin:
        assert admin.journal()["entries"]
        data = {"issues": [{"repository": "acme/app", "number": 7, "title": "Seeded", "state": "open"}]}
        answer = admin.reset(data, seed=77)
        assert answer["seed"] == 77
        assert answer["state"] == {"repositories": 1, "issues": 1, "comments": 0, "labels": 2, "users": 2}
        assert admin.journal()["entries"] == []
        assert admin.chaos()["seed"] == 77
        state = admin.state()
        assert [issue["title"] for issue in state["issues"]] == ["Seeded"]
        assert admin.state("comments") == []
    listed = httpx.get(f"{url}/repos/acme/app/issues", headers=GITHUB_AUTH).json()
    assert [issue["number"] for issue in listed] == [7]


def test_bad_reset_data_is_refused_with_the_field_and_the_fix(serve: ServeFn) -> None:
    twins = serve(["github"])
    admin = f"{twins.admin_url('github')}/reset"
    answer = httpx.post(
        admin, json={"data": {"issues": [{"repository": "a/b", "number": "one", "title": "x"}]}}
    )
    assert answer.status_code == 422
    message = answer.json()["message"]
    assert message.startswith("issues[0].number: must be of type integer (got text). Fix:")
    unknown = httpx.post(admin, json={"data": {"pulls": []}})
    assert unknown.status_code == 422
    assert "is not an entity of the github twin" in unknown.json()["message"]
    assert httpx.post(admin, json={"seed": "seven"}).status_code == 422
    broken = httpx.post(admin, content=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400


def test_seed_data_given_at_start_is_checked_and_located_in_its_document(serve: ServeFn) -> None:
    good = serve(["github", "slack"], data={"github": {"issues": []}})
    assert httpx.get(f"{good.admin_url('github')}/state").json()["issues"] == []
    assert httpx.get(f"{good.admin_url('slack')}/state").json()["channels"]  # default seed kept
    with pytest.raises(ConfigError) as caught:
        serve(["github"], data={"github": {"issues": [{"title": 5}]}}, data_source="scenario.yaml")
    assert caught.value.field == "github.issues[0].repository"
    assert str(caught.value).startswith("scenario.yaml: ")
    with pytest.raises(ConfigError, match="is not one of the twins being served"):
        serve(["github"], data={"gitlab": {}})


def test_the_journal_records_every_request_with_its_trajectory(serve: ServeFn) -> None:
    twins = serve(["github"], seed=3)
    url = twins["github"]
    with httpx.Client(headers=GITHUB_AUTH) as client:
        client.get(f"{url}{ISSUES}?state=all", headers={TRAJECTORY_HEADER: "traj-1"})
        client.post(f"{url}{ISSUES}", json={"title": "New"}, headers={"X-Request-Id": "req-9"})
        client.get(f"{url}{ISSUES}/999")
    with TwinAdmin(twins.endpoints["github"].origin) as admin:
        entries = admin.journal()["entries"]
        assert [(e["method"], e["route"], e["status"]) for e in entries] == [
            ("GET", "list_issues", 200),
            ("POST", "create_issue", 201),
            ("GET", "get_issue", 404),
        ]
        assert [e["trajectory_id"] for e in entries] == ["traj-1", "req-9", None]
        first = entries[0]
        assert first["query"] == {"state": "all"}
        assert first["chaos"] is None
        assert first["duration_ms"] >= 0
        assert first["response_summary"].startswith(
            '[{"id":2,"number":2,"repository":{"full_name":"octo-org/hello-world"'
        )
        assert entries[1]["request_summary"] == '{"title":"New"}'
        only = admin.journal(trajectory="traj-1")["entries"]
        assert [e["seq"] for e in only] == [first["seq"]]
        later = admin.journal(since=entries[1]["seq"])
        assert [e["route"] for e in later["entries"]] == ["get_issue"]
        assert later["next_seq"] == entries[-1]["seq"] + 1


def test_an_uncovered_route_is_a_404_saying_so_and_is_journaled(serve: ServeFn) -> None:
    twins = serve(["github"])
    answer = httpx.get(f"{twins['github']}/repos/o/r/pulls", headers=GITHUB_AUTH)
    assert answer.status_code == 404
    body = answer.json()
    assert body["error"] == "not_covered"
    assert body["message"] == "The github twin does not cover GET /repos/o/r/pulls"
    wrong_method = httpx.delete(f"{twins['github']}{ISSUES}/1", headers=GITHUB_AUTH)
    assert wrong_method.status_code == 404
    assert wrong_method.json()["error"] == "not_covered"
    entries = httpx.get(f"{twins.admin_url('github')}/journal").json()["entries"]
    assert [(e["covered"], e["outcome"], e["status"]) for e in entries] == [
        (False, "not_covered", 404),
        (False, "not_covered", 404),
    ]


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "Requires authentication"),
        ({"Authorization": "Bearer ghp_wrong"}, 401, "Bad credentials"),
        ({"Authorization": "Basic ghp_twin_valid"}, 401, "Bad credentials"),
        ({"Authorization": "token ghp_twin_expired"}, 401, "Bad credentials"),
        ({"Authorization": "token ghp_twin_valid"}, 200, None),
        ({"Authorization": "Bearer ghp_twin_hubot"}, 200, None),
    ],
)
def test_bearer_auth_accepts_valid_tokens_only(
    serve: ServeFn, headers: dict[str, str], status: int, message: str | None
) -> None:
    twins = serve(["github"])
    answer = httpx.get(f"{twins['github']}/user", headers=headers)
    assert answer.status_code == status
    if message is not None:
        assert answer.json()["message"] == message
    else:
        assert answer.json()["login"] in {"octocat", "hubot"}


def test_an_expired_token_says_it_expired(serve: ServeFn) -> None:
    twins = serve(["github", "gitlab"])
    github = httpx.get(f"{twins['github']}/user", headers={"Authorization": "Bearer ghp_twin_expired"})
    assert github.json()["error"] == "token_expired"
    gitlab = httpx.get(f"{twins['gitlab']}/user", headers={"PRIVATE-TOKEN": "glpat-twin-expired"})
    assert gitlab.status_code == 401
    assert gitlab.json()["error"] == "invalid_token"
    assert (
        httpx.get(f"{twins['gitlab']}/user", headers={"PRIVATE-TOKEN": "glpat-twin-valid"}).status_code == 200
    )


def test_no_token_reaches_the_journal_or_the_state(
    serve: ServeFn, capsys: pytest.CaptureFixture[str]
) -> None:
    twins = serve(["github", "gitlab", "okta"])
    secrets = [
        "ghp_twin_valid",
        "ghp_unknown_secret_1",
        "glpat-twin-valid",
        "correct-horse-battery",
        "hunter2-broken",
        "k-123-broken",
    ]
    httpx.get(f"{twins['github']}/user", headers={"Authorization": "Bearer ghp_twin_valid"})
    httpx.get(
        f"{twins['github']}/user?access_token=ghp_twin_valid",
        headers={"Authorization": "token ghp_unknown_secret_1"},
    )
    httpx.post(
        f"{twins['github']}{ISSUES}",
        json={"title": "leak ghp_twin_valid", "token": "ghp_unknown_secret_1"},
        headers={"Authorization": "Bearer ghp_twin_valid"},
    )
    httpx.get(f"{twins['gitlab']}/user", headers={"PRIVATE-TOKEN": "glpat-twin-valid"})
    httpx.post(
        f"{twins['okta']}/authn", json={"username": "alice@example.com", "password": "correct-horse-battery"}
    )
    broken = b'{"title": "a", "password": "hunter2-broken", "api_key": "k-123-broken"'
    httpx.post(
        f"{twins['github']}{ISSUES}",
        content=broken,
        headers={**GITHUB_AUTH, "Content-Type": "application/json"},
    )
    dumps = "".join(
        json.dumps(httpx.get(f"{twins.admin_url(name)}/{what}").json())
        for name in ("github", "gitlab", "okta")
        for what in ("journal", "state")
    )
    for secret in secrets:
        assert secret not in dumps
    assert "[redacted]" in dumps
    assert '"authorization": "[redacted]"' in dumps
    assert '"private-token": "[redacted]"' in dumps
    assert '{\\"title\\": \\"a\\", \\"password\\": \\"[redacted]\\"' in dumps  # still readable
    captured = capsys.readouterr()
    for secret in secrets:
        assert secret not in captured.out + captured.err


def test_chaos_is_read_and_set_at_run_time(serve: ServeFn) -> None:
    twins = serve(["github"], seed=8, chaos_profile="gentle")
    with TwinAdmin(twins.endpoints["github"].origin) as admin:
        current = admin.chaos()
        assert current["profile"] == "gentle"
        assert current["seed"] == 8
        assert current["config"]["error_500"]["probability"] == 0.01
        hostile = admin.set_chaos(profile="hostile", seed=9)
        assert hostile["profile"] == "hostile"
        assert hostile["seed"] == 9
        custom = admin.set_chaos(config={"error_503": {"probability": 1.0, "retry_after_s": 4}})
        assert custom["profile"] is None
        assert custom["config"]["error_503"]["retry_after_s"] == 4
        answer = httpx.get(f"{twins['github']}{ISSUES}", headers=GITHUB_AUTH)
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "4"
        assert admin.set_chaos(config=None)["config"] is None
    assert httpx.get(f"{twins['github']}{ISSUES}", headers=GITHUB_AUTH).status_code == 200
    chaos = f"{twins.admin_url('github')}/chaos"
    unknown = httpx.put(chaos, json={"profile": "wild"})
    assert unknown.status_code == 422
    assert "known: gentle, hostile, moderate" in unknown.json()["message"]
    bad = httpx.put(chaos, json={"config": {"error_500": {"probability": 2}}})
    assert bad.status_code == 422
    assert "config.error_500.probability" in bad.json()["message"]
    route = httpx.put(chaos, json={"config": {"routes": {"github.nope": {"error_500": {"probability": 1}}}}})
    assert route.status_code == 422
    assert "routes.github.nope" in route.json()["message"]
    bare = httpx.put(chaos, json={"config": {"routes": {"get_issue": {"error_500": {"probability": 1}}}}})
    assert bare.status_code == 422
    assert "twin.route" in bare.json()["message"]


def test_a_refused_chaos_change_changes_nothing(serve: ServeFn) -> None:
    twins = serve(["github"], seed=8)
    chaos = f"{twins.admin_url('github')}/chaos"
    before = httpx.get(chaos).json()
    for document in (
        {"profile": "hostile", "seed": "x"},
        {"config": {"error_500": {"probability": 1}}, "seed": 1.5},
        {"profile": "hostile", "seed": True},
    ):
        answer = httpx.put(chaos, json=document)
        assert answer.status_code == 422
        assert answer.json()["error"] == "invalid_seed"
        assert httpx.get(chaos).json() == before
    assert before["profile"] is None
    assert httpx.get(f"{twins['github']}{ISSUES}", headers=GITHUB_AUTH).status_code == 200


def test_an_unknown_twin_lists_the_known_ones() -> None:
    with (
        pytest.raises(
            UsageError, match=r"no twin named 'bitbucket'.*github, gitlab, jira, okta, openai, slack"
        ),
        serve_twins(["bitbucket"]),
    ):
        pass  # pragma: no cover - never reached


def test_a_twin_listed_twice_is_refused() -> None:
    with pytest.raises(UsageError, match="listed twice"), serve_twins(["github", "github"]):
        pass  # pragma: no cover - never reached
