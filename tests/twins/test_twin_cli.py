"""``orchestrate twin list | serve | check``, in process and as a real process stopped by a signal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from orchestrator.cli._context import CliContext
from orchestrator.cli._twin import describe_twins, twin_app
from orchestrator.errors import ConfigError, UsageError
from tests.twins.helpers import MANIFEST, ServeFn, write_twin

# The twin commands under a root like the real one, whether or not it mounts them already.
HARNESS = """
import sys
from orchestrator.cli._app import app
from orchestrator.cli._twin import describe_twins, twin_app
if not any(group.name == "twin" for group in app.registered_groups):
    app.add_typer(twin_app, name="twin")
from orchestrator.cli import main
sys.argv = ["orchestrate", *sys.argv[1:]]
main()
"""

root = typer.Typer()


@root.callback()
def _root(ctx: typer.Context, project: Annotated[Path | None, typer.Option("-C")] = None) -> None:
    ctx.obj = CliContext(project_option=project)


root.add_typer(twin_app, name="twin")


def invoke(*args: str) -> typer.testing.Result:
    return CliRunner().invoke(root, list(args))


def test_list_shows_shipped_and_project_twins(tmp_path: Path) -> None:
    write_twin(tmp_path / ".scenarios" / "twins" / "billing")
    write_twin(
        tmp_path / ".scenarios" / "twins" / "broken", {**MANIFEST, "name": "broken", "auth": {"type": "x"}}
    )
    result = invoke("-C", str(tmp_path), "twin", "list", "--json")
    assert result.exit_code == 0, result.output
    records = {record["name"]: record for record in json.loads(result.stdout)}
    assert {"github", "gitlab", "openai", "slack", "jira", "okta", "billing", "broken"} <= set(records)
    assert records["github"]["origin"] == "shipped"
    assert records["github"]["routes"] == 13
    assert records["billing"]["origin"] == "project"
    assert records["billing"]["problem"] is None
    assert "auth.type" in records["broken"]["problem"]
    table = invoke("-C", str(tmp_path), "twin", "list")
    assert table.exit_code == 0
    assert "billing" in table.stdout
    assert "INVALID" in table.stdout


def test_check_prints_the_routes_of_a_good_definition(tmp_path: Path) -> None:
    folder = write_twin(tmp_path / "billing")
    result = invoke("twin", "check", str(folder))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: billing 1.0.0: 4 routes, 1 entities, auth api_key")
    assert "/v2/invoices/{invoice_id:int}" in result.stdout


def test_check_raises_the_definition_error(tmp_path: Path) -> None:
    folder = write_twin(
        tmp_path / "billing", routes="routes:\n  - {method: GET, path: /x, action: list, entity: nope}\n"
    )
    result = invoke("twin", "check", str(folder))
    assert isinstance(result.exception, ConfigError)
    assert result.exception.field == "routes[0].entity"
    data = tmp_path / "data.yaml"
    data.write_text("invoices:\n  - {amount: ten}\n", encoding="utf-8")
    with_data = invoke("twin", "check", str(write_twin(tmp_path / "good")), "--data", str(data))
    assert isinstance(with_data.exception, ConfigError)
    assert with_data.exception.path == data
    assert with_data.exception.field == "invoices[0].amount"


def test_serve_refuses_unknown_profiles_twins_and_bad_data(tmp_path: Path) -> None:
    profile = invoke("-C", str(tmp_path), "twin", "serve", "github", "--chaos-profile", "wild")
    assert isinstance(profile.exception, UsageError)
    unknown = invoke("-C", str(tmp_path), "twin", "serve", "bitbucket")
    assert isinstance(unknown.exception, UsageError)
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"github": {"issues": [{"title": "no repository"}]}}), encoding="utf-8")
    bad = invoke("-C", str(tmp_path), "twin", "serve", "github", "--data", str(data))
    assert isinstance(bad.exception, ConfigError)
    assert bad.exception.path == data
    assert bad.exception.field == "github.issues[0].repository"


def test_a_bad_definition_exits_2_with_file_and_field(tmp_path: Path) -> None:
    folder = write_twin(tmp_path / "billing", {**MANIFEST, "base_path": "v2"})
    done = subprocess.run(
        [sys.executable, "-c", HARNESS, "twin", "check", str(folder)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2
    assert "twin.json" in done.stderr
    assert "base_path" in done.stderr
    assert "Fix:" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_with_ports_past_the_last_exits_2_without_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", HARNESS, "twin", "serve", "github", "gitlab", "--port", "65535"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2
    assert "65535..65536" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_urls_serves_and_stops_on_a_signal(tmp_path: Path, stop_signal: signal.Signals) -> None:
    data = tmp_path / "data.yaml"
    data.write_text(
        "github:\n  issues:\n    - {repository: acme/app, number: 1, title: Served}\n", encoding="utf-8"
    )
    command = [sys.executable, "-c", HARNESS, "twin", "serve", "github", "gitlab", "--seed", "7"]
    command += ["--chaos-profile", "gentle", "--data", str(data)]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().rstrip("\n") for _ in range(8)]
        urls = {line.split()[0]: line.split()[1] for line in lines if not line.startswith(" ")}
        assert set(urls) == {"github", "gitlab"}
        assert urls["gitlab"].startswith("http://127.0.0.1:")
        assert not urls["gitlab"].endswith("/api/v4")  # python-gitlab adds it
        assert "  token   glpat-twin-valid" in lines
        assert f'  client  gitlab.Gitlab("{urls["gitlab"]}", private_token="glpat-twin-valid")' in lines[6]
        issues = httpx.get(
            f"{urls['github']}/repos/acme/app/issues", headers={"Authorization": "Bearer ghp_twin_valid"}
        )
        assert [issue["title"] for issue in issues.json()] == ["Served"]
        chaos = httpx.get(f"{urls['github']}/__twin/chaos").json()
        assert chaos["profile"] == "gentle"
        assert chaos["seed"] == 7
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Serving 2 twin(s), chaos profile gentle, seed 7" in stderr
    assert "Twins stopped." in stderr


def test_serve_says_how_each_official_client_connects(serve: ServeFn, tmp_path: Path) -> None:
    """The printed URL, token and line of code work as they are, with each service's own client."""
    import github
    import gitlab
    import openai
    import slack_sdk

    write_twin(tmp_path / ".scenarios" / "twins" / "billing")
    twins = serve(["github", "gitlab", "openai", "slack", "billing"], project_root=tmp_path)
    records = {record["name"]: record for record in describe_twins(twins)}
    origin = {name: twins.endpoints[name].origin for name in twins}
    assert records["gitlab"]["url"] == origin["gitlab"]
    assert records["github"]["url"] == origin["github"]
    assert records["openai"]["url"] == f"{origin['openai']}/v1"
    assert records["slack"]["url"] == f"{origin['slack']}/api/"
    assert records["billing"]["url"] == f"{origin['billing']}/v2"
    assert records["github"]["token"] == "ghp_twin_valid"
    assert records["gitlab"]["package"] == "python-gitlab"
    assert all(record["admin"] == f"{origin[name]}/__twin/" for name, record in records.items())
    modules = {"github": github, "gitlab": gitlab, "openai": openai, "slack_sdk": slack_sdk, "httpx": httpx}

    def client(name: str) -> Any:
        return eval(records[name]["client"], dict(modules))

    assert client("github").get_user().login == "octocat"
    assert client("gitlab").projects.get("group/project").id == 1
    assert "gpt-4o" in [model.id for model in client("openai").models.list()]
    assert client("slack").auth_test()["user_id"] == "U0TWINBOT"
    with client("billing") as billing:
        assert billing.get("/invoices").status_code == 200
    # The same from the URL and token alone, as a user would type them.
    assert gitlab.Gitlab(records["gitlab"]["url"], private_token=records["gitlab"]["token"]).auth() is None
    sdk = openai.OpenAI(base_url=records["openai"]["url"], api_key=records["openai"]["token"])
    assert sdk.models.retrieve("gpt-4o").id == "gpt-4o"
    sdk.close()
