"""Helpers of the issue-reconciler and tracker tests: findings, a scripted prompter, fake CLIs,
and a way to serve a small ASGI app on loopback.

The fake ``gh`` and ``glab`` are real executables (a Python script with a shebang) put first on
``PATH``. They keep their issues in a JSON state file, so a second run sees what the first one
created, and append one JSON line per invocation (argv, stdin, whether a token reached their
environment) to a log the tests read back.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.gate import Finding, findings_lines, fingerprint

RUN_ID = "web-1700000000000"


def make_finding(
    *,
    severity: str = "high",
    check: str = "axe_violations",
    scope: str = "/",
    check_id: str = "image-alt",
    locator: str = "img.logo",
    title: str = "Images must have alternate text",
    description: str = "An image has no alt attribute, so screen readers cannot describe it.",
    recommendation: str = "Add an alt attribute that says what the image shows.",
    run_id: str = RUN_ID,
) -> Finding:
    """A valid finding; the fingerprint is computed from scope, check id and locator."""
    return Finding(
        run_id=run_id,
        rubric_version="v1",
        severity=severity,  # type: ignore[arg-type]
        check=check,  # type: ignore[arg-type]
        fingerprint=fingerprint(scope, check_id, locator),
        evidence_path="captures/web/home.axe.json",
        suggested_priority={"critical": "P0", "high": "P1", "medium": "P2", "low": "P3"}[severity],
        scope=scope,
        checkId=check_id,
        locator=locator,
        title=title,
        description=description,
        recommendation=recommendation,
    )


def sample_findings() -> list[Finding]:
    """One finding per severity, with clearly different titles."""
    return [
        make_finding(
            severity="critical",
            check_id="button-name",
            locator="button#go",
            title="Buttons must have discernible text",
        ),
        make_finding(severity="high", locator="img.hero", title="Images must have alternate text"),
        make_finding(
            severity="medium",
            check="console_errors",
            check_id="http-404",
            locator="/missing.png",
            title="A resource answered 404 Not Found",
        ),
        make_finding(
            severity="low",
            check="console_errors",
            check_id="http-410",
            locator="/gone.css",
            title="A stylesheet is permanently gone",
        ),
    ]


def write_findings(run_dir: Path, findings: Sequence[Finding]) -> Path:
    """``<run_dir>/findings.jsonl`` as the evaluator writes it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "findings.jsonl"
    path.write_text(findings_lines(RUN_ID, findings, {"target": "web"}), encoding="utf-8")
    return path


@dataclass
class ScriptedPrompter:
    """A prompter answering from a list; records what it was shown and asked."""

    answers: list[str]
    said: list[str] = field(default_factory=list)
    asked: list[tuple[str, list[str], str]] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.said.append(text)

    def ask(self, question: str, choices: Sequence[str], default: str) -> str:
        self.asked.append((question, list(choices), default))
        answer = self.answers.pop(0)
        assert answer in choices, f"{answer!r} is not one of {list(choices)}"
        return answer


FAKE_CLI = r"""
import json, os, sys, time
from urllib.parse import parse_qs, urlsplit, unquote

name = os.path.basename(sys.argv[0])
args = sys.argv[1:]
state_path = os.environ["FAKE_TRACKER_STATE"]
mode = os.environ.get("FAKE_TRACKER_MODE", "")
stdin = sys.stdin.read() if ("--body-file=-" in args or any(a.endswith("=@-") for a in args)) else None
with open(os.environ["FAKE_TRACKER_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps({"binary": name, "argv": args, "stdin": stdin,
                          "token": os.environ.get("GH_TOKEN" if name == "gh" else "GITLAB_TOKEN")}) + "\n")
if mode == "flood":
    sys.stdout.write("x" * (5 * 1024 * 1024))
    sys.exit(0)
if mode == "hang":
    time.sleep(60)
if mode == "fail":
    sys.stderr.write("HTTP 401: Bad credentials (token " + os.environ.get("GH_TOKEN", "") + ")\n")
    sys.exit(1)
state = json.load(open(state_path, encoding="utf-8")) if os.path.exists(state_path) else {"issues": []}

def save():
    with open(state_path, "w", encoding="utf-8") as fh:
        json.dump(state, fh)

def flag(prefix):
    return [a[len(prefix):] for a in args if a.startswith(prefix)]

def find(number):
    return next(i for i in state["issues"] if i["number"] == number)

if name == "gh":
    verb = args[:2]
    if verb == ["issue", "list"]:
        limit = int(flag("--limit=")[0])
        label = flag("--label=")[0]
        found = [i for i in state["issues"] if i["state"] == "open" and label in i["labels"]]
        found.sort(key=lambda i: -i["number"])
        print(json.dumps([{"number": i["number"], "title": i["title"], "body": i["body"], "state": "OPEN",
                           "labels": [{"name": l} for l in i["labels"]],
                           "url": "https://github.com/o/r/issues/%d" % i["number"]}
                          for i in found[:limit]]))
    elif verb == ["issue", "create"]:
        number = max([i["number"] for i in state["issues"]] or [0]) + 1
        state["issues"].append({"number": number, "title": flag("--title=")[0], "body": stdin,
                                "labels": flag("--label="), "state": "open", "comments": []})
        save()
        print("https://github.com/o/r/issues/%d" % number)
    elif verb == ["issue", "comment"]:
        find(int(args[2]))["comments"].append(stdin)
        save()
        print("https://github.com/o/r/issues/%s#issuecomment-1" % args[2])
    elif verb == ["issue", "view"]:
        print(json.dumps({"comments": [{"body": c} for c in find(int(args[2]))["comments"]]}))
    else:
        sys.stderr.write("unknown command\n")
        sys.exit(2)
else:
    assert args[0] == "api"
    method = (flag("--method=") or ["GET"])[0]
    endpoint = next(a for a in args[1:] if not a.startswith("--"))
    parts = urlsplit(endpoint)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    segments = [unquote(s) for s in parts.path.split("/")]
    if method == "GET" and segments[-1] == "issues":
        found = [i for i in state["issues"] if i["state"] == "open" and query["labels"] in i["labels"]]
        found.sort(key=lambda i: -i["number"])
        per_page, page = int(query["per_page"]), int(query["page"])
        chunk = found[(page - 1) * per_page: page * per_page]
        print(json.dumps([{"iid": i["number"], "title": i["title"], "description": i["body"],
                           "state": "opened", "labels": i["labels"]} for i in chunk]))
    elif method == "POST" and segments[-1] == "issues":
        fields = dict(f.split("=", 1) for f in flag("--raw-field="))
        number = max([i["number"] for i in state["issues"]] or [0]) + 1
        state["issues"].append({"number": number, "title": fields["title"], "body": stdin,
                                "labels": fields["labels"].split(","), "state": "open", "comments": []})
        save()
        print(json.dumps({"iid": number, "title": fields["title"]}))
    elif method == "POST" and segments[-1] == "notes":
        find(int(segments[-2]))["comments"].append(stdin)
        save()
        print(json.dumps({"id": 1, "body": stdin}))
    elif method == "GET" and segments[-1] == "notes":
        comments = find(int(segments[-2]))["comments"]
        per_page, page = int(query["per_page"]), int(query["page"])
        chunk = comments[(page - 1) * per_page: page * per_page]
        print(json.dumps([{"body": c, "system": False} for c in chunk]))
    else:
        sys.stderr.write("unknown endpoint\n")
        sys.exit(2)
"""


@dataclass
class FakeCli:
    """A fake ``gh`` or ``glab`` on PATH with its state and call log."""

    name: str
    bin_dir: Path
    state: Path
    log: Path

    def env(self, **extra: str) -> dict[str, str]:
        """An environment whose PATH finds the fake first."""
        return {
            **os.environ,
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "FAKE_TRACKER_STATE": str(self.state),
            "FAKE_TRACKER_LOG": str(self.log),
            **extra,
        }

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    def issues(self) -> list[dict[str, Any]]:
        if not self.state.exists():
            return []
        return list(json.loads(self.state.read_text(encoding="utf-8"))["issues"])

    def seed(self, issues: list[dict[str, Any]]) -> None:
        self.state.write_text(json.dumps({"issues": issues}), encoding="utf-8")


def install_fake_cli(directory: Path, name: str) -> FakeCli:
    """Write the fake ``name`` (gh or glab) into ``directory/bin``."""
    bin_dir = directory / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / name
    script.write_text(f"#!{sys.executable}\n{FAKE_CLI}", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return FakeCli(name, bin_dir, directory / f"{name}-state.json", directory / f"{name}-calls.jsonl")


def sentinel_body(fp: str, text: str = "Filed earlier.") -> str:
    """An issue body as we file it: some text, then the sentinel line."""
    return f"{text}\n\n<!-- orchestrate:fingerprint={fp} -->\n"


def reconcile_in_step(project_root: str, findings: list[Finding], barrier: Any, result_path: str) -> None:
    """One process's reconcile of ``findings`` in the project's local tracker, listing in step.

    The first listing waits on ``barrier`` until every process has listed too, so all of them
    decide against the same tracker before any of them writes: the race two runs started at the
    same moment would have. The outcome's data is written to ``result_path``.
    """
    from orchestrator.agents.issue_reconciler import reconcile
    from orchestrator.agents.issue_reconciler.backends import LocalTracker
    from orchestrator.trackers import TrackerIssue

    class InStep(LocalTracker):
        listed = False

        def list_open_issues(self) -> list[TrackerIssue]:
            issues = super().list_open_issues()
            if not self.listed:
                self.listed = True
                barrier.wait(30)
            return issues

    outcome = reconcile(findings, InStep(Path(project_root)), triage="create")
    Path(result_path).write_text(json.dumps(outcome.as_data()), encoding="utf-8")
