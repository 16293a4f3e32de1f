"""The UX evaluator on realistic run dirs: findings, severities, dedupe, noise, skips, verdicts, bytes."""

from __future__ import annotations

import json
import shutil
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from orchestrator.actors import spawn
from orchestrator.agents.ux_evaluator import (
    FINDINGS_FILE,
    Evaluation,
    UxEvaluator,
    evaluate_run,
)
from orchestrator.errors import ContractError, UnknownCapabilityError
from orchestrator.events import EventBus, EventStore
from orchestrator.gate import (
    EVALUATE,
    Capture,
    CaptureManifest,
    ConsoleEntry,
    EvaluateRequest,
    Finding,
    JourneyRecord,
    JourneyStep,
    NetworkFailure,
    fingerprint,
    safe_name,
)
from orchestrator.messages import WorkRequest, WorkResult
from orchestrator.policy.test_profiles import Profile

RUN_ID = "web-1700000000000"
ALL_CHECKS = ["onboarding_step_count", "axe_violations", "console_errors", "liquid_glass"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


# --- realistic driver output ---------------------------------------------------------------------


def axe_node(target: list[Any], html: str, impact: str, summary: str) -> dict[str, Any]:
    return {
        "any": [{"id": "x", "data": None, "relatedNodes": [], "impact": impact, "message": summary}],
        "all": [],
        "none": [],
        "impact": impact,
        "html": html,
        "target": target,
        "failureSummary": summary,
    }


def axe_violation(rule: str, impact: str, help_text: str, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": rule,
        "impact": impact,
        "tags": ["cat.text-alternatives", "wcag2a", "wcag111"],
        "description": f"Ensures the rule {rule} holds",
        "help": help_text,
        "helpUrl": f"https://dequeuniversity.com/rules/axe/4.10/{rule}?application=axeAPI",
        "nodes": nodes,
    }


def axe_results(url: str, violations: list[dict[str, Any]]) -> dict[str, Any]:
    """An axe-core result document as axe-playwright-python returns it (``AxeResults.response``)."""
    return {
        "testEngine": {"name": "axe-core", "version": "4.10.2"},
        "testRunner": {"name": "axe"},
        "testEnvironment": {
            "userAgent": "Mozilla/5.0 HeadlessChrome",
            "windowWidth": 1280,
            "windowHeight": 720,
        },
        "timestamp": "2025-01-01T10:00:00.000Z",
        "url": url,
        "toolOptions": {"reporter": "v1"},
        "inapplicable": [],
        "passes": [
            {"id": "document-title", "impact": None, "nodes": [{"target": ["html"], "html": "<html>"}]}
        ],
        "incomplete": [],
        "violations": violations,
    }


IMAGE_ALT = axe_violation(
    "image-alt",
    "critical",
    "Images must have alternative text",
    [
        axe_node(
            ["#gallery > img:nth-child(1)"],
            '<img src="/static/cat.png">',
            "critical",
            "Fix any of the following:\n  Element does not have an alt attribute",
        )
    ],
)
BUTTON_NAME = axe_violation(
    "button-name",
    "critical",
    "Buttons must have discernible text",
    [
        axe_node(
            [".toolbar > button"],
            '<button class="icon"></button>',
            "critical",
            "Fix any of the following:\n  Element does not have inner text that is visible to screen readers",
        )
    ],
)


class RunDirBuilder:
    """Writes what the web driver leaves in a run dir: artifacts, then ``captures/<driver>.json``."""

    def __init__(self, run_dir: Path, *, port: int = 51234, driver: str = "web") -> None:
        self.run_dir = run_dir
        self.base = f"http://127.0.0.1:{port}"
        self.driver = driver
        self.captures: list[Capture] = []
        self.journeys: list[JourneyRecord] = []
        run_dir.mkdir(parents=True, exist_ok=True)

    def _write(self, relative: str, content: bytes | str) -> str:
        path = self.run_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return relative

    def capture(
        self,
        path: str,
        *,
        kind: str = "route",
        name: str | None = None,
        journey: str | None = None,
        step_index: int | None = None,
        violations: list[dict[str, Any]] | None = None,
        console: list[dict[str, Any]] | None = None,
        network: list[dict[str, Any]] | None = None,
        ok: bool = True,
        error: str | None = None,
        screenshot: bool = True,
    ) -> Capture:
        name = name or path
        folder = f"drivers/{self.driver}/" + (
            f"journeys/{safe_name(journey or '')}/{step_index:02d}"
            if kind == "journey_step"
            else f"routes/{safe_name(name)}"
        )
        url = f"{self.base}{path}"
        capture = Capture(
            kind=kind,  # type: ignore[arg-type]
            name=name,
            url=url,
            journey=journey,
            step_index=step_index,
            screenshot=self._write(f"{folder}/screenshot.png", PNG) if screenshot else None,
            aria_snapshot=self._write(f"{folder}/aria.yaml", '- heading "Demo" [level=1]\n'),
            axe=self._write(f"{folder}/axe.json", json.dumps(axe_results(url, violations)))
            if violations is not None
            else None,
            console=self._write(
                f"{folder}/console.ndjson",
                "".join(json.dumps(ConsoleEntry.model_validate(e).model_dump()) + "\n" for e in console),
            )
            if console is not None
            else None,
            network=self._write(
                f"{folder}/network.json",
                json.dumps([NetworkFailure.model_validate(n).model_dump() for n in network]),
            )
            if network is not None
            else None,
            ok=ok,
            error=error,
        )
        self.captures.append(capture)
        return capture

    def journey(self, name: str, steps: list[str], *, onboarding: bool = True, waits: int = 1) -> None:
        records = [JourneyStep(index=i, name=step) for i, step in enumerate(steps, start=1)]
        records += [
            JourneyStep(index=len(steps) + i, name=f"wait {i}", counted=False) for i in range(1, waits + 1)
        ]
        self.journeys.append(JourneyRecord(name=name, onboarding=onboarding, steps=records))
        for index, step in enumerate(steps, start=1):
            self.capture(
                f"/{name}", kind="journey_step", name=step, journey=name, step_index=index, violations=[]
            )

    def console_line(self, kind: str, text: str, path: str, location: str | None = None) -> dict[str, Any]:
        return {
            "ts": "2025-01-01T10:00:01.250Z",
            "type": kind,
            "text": text,
            "location": location,
            "url": f"{self.base}{path}",
        }

    def write(self, *, exit_code: int = 0, error: str | None = None, reverse: bool = False) -> Path:
        manifest = CaptureManifest(
            driver=self.driver,
            exit_code=exit_code,  # type: ignore[arg-type]
            platform="linux",
            error=error,
            captures=list(reversed(self.captures)) if reverse else self.captures,
            journeys=self.journeys,
            har=self._write(f"drivers/{self.driver}/run.har", '{"log": {"entries": []}}'),
        )
        return Path(self._write(f"captures/{self.driver}.json", manifest.model_dump_json(indent=2)))


def demo_run(run_dir: Path, *, port: int = 51234, reverse: bool = False) -> RunDirBuilder:
    """A run of the demo app: clean home, a gallery with two axe defects, a broken page, a 9-step wizard."""
    b = RunDirBuilder(run_dir, port=port)
    noise = [
        b.console_line("debug", "[vite] connected.", "/"),
        b.console_line("info", "Download the React DevTools for a better development experience", "/"),
        b.console_line("error", "Uncaught Error: boom", "/", "chrome-extension://abcdefgh/content.js:1:10"),
        b.console_line("warning", "DevTools failed to load source map: Could not load content", "/"),
        b.console_line(
            "error",
            "Failed to load resource: the server responded with a status of 404 (Not Found)",
            "/",
            f"{b.base}/favicon.ico",
        ),
    ]
    b.capture("/", violations=[], console=noise, network=[])
    b.capture("/gallery", violations=[IMAGE_ALT, BUTTON_NAME], console=[], network=[])
    b.capture(
        "/broken",
        violations=[],
        console=[
            b.console_line(
                "pageerror",
                "Error: Boom from /broken\n    at render (http://127.0.0.1:51234/static/app.js:10:5)",
                "/broken",
            ),
            b.console_line(
                "error",
                "Failed to load resource: the server responded with a status of 404 (Not Found)",
                "/broken",
                f"{b.base}/static/missing.png",
            ),
        ],
        network=[
            {"url": f"{b.base}/static/missing.png", "method": "GET", "status": 404, "resource_type": "image"}
        ],
    )
    b.journey(
        "signup",
        ["Welcome", "Email", "Password", "Name", "Company", "Role", "Team size", "Plan", "Done"],
    )
    b.write(reverse=reverse)
    return b


def profile(**overrides: Any) -> Profile:
    fields: dict[str, Any] = {"checks": ALL_CHECKS, "routes": ["/", "/gallery", "/broken"]}
    fields.update(overrides)
    return Profile.model_validate(fields)


def evaluate(run_dir: Path, project_root: Path, **overrides: Any) -> Evaluation:
    return evaluate_run(run_dir, run_id=RUN_ID, profile=profile(**overrides), project_root=project_root)


def lines_of(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / FINDINGS_FILE).read_text().splitlines()]


def keyed(findings: tuple[Finding, ...] | list[Finding]) -> set[tuple[str, str, str, str, str]]:
    return {(f.check, f.severity, f.scope, f.checkId, f.locator) for f in findings}


# --- the demo app ---------------------------------------------------------------------------------


def test_demo_run_gives_the_expected_findings_and_verdict(project: Path, run_dir: Path) -> None:
    demo_run(run_dir)
    evaluation = evaluate(run_dir, project)
    assert keyed(evaluation.findings) == {
        ("axe_violations", "critical", "/gallery", "image-alt", "#gallery > img:nth-child(1)"),
        ("axe_violations", "critical", "/gallery", "button-name", ".toolbar > button"),
        ("console_errors", "high", "/broken", "uncaught-exception", "Error: Boom from /broken"),
        ("onboarding_step_count", "high", "journey:signup", "onboarding-steps", "signup"),
        ("console_errors", "medium", "network", "http-404", "/static/missing.png"),
    }
    assert evaluation.verdict == "BLOCKED"
    assert evaluation.by_severity == {"critical": 2, "high": 2, "medium": 1, "low": 0}
    assert evaluation.by_check == {
        "onboarding_step_count": 1,
        "axe_violations": 2,
        "console_errors": 2,
        "liquid_glass": 0,
    }
    assert evaluation.checks_run == ("onboarding_step_count", "axe_violations", "console_errors")
    assert evaluation.skipped_checks == {
        "liquid_glass": "no SwiftUI project (Package.swift or *.xcodeproj) in the project"
    }
    assert evaluation.problems == ()
    by_id = {f.checkId: f for f in evaluation.findings}
    assert by_id["image-alt"].fingerprint == fingerprint(
        "/gallery", "image-alt", "#gallery > img:nth-child(1)"
    )
    assert [by_id[c].suggested_priority for c in ("image-alt", "uncaught-exception", "http-404")] == [
        "P0",
        "P1",
        "P2",
    ]
    assert "Element does not have an alt attribute" in by_id["image-alt"].recommendation
    assert "dequeuniversity.com/rules/axe/4.10/image-alt" in by_id["image-alt"].recommendation
    assert "9 steps" in by_id["onboarding-steps"].title
    assert "wait" not in by_id["onboarding-steps"].description  # helper steps are not counted


def test_findings_file_has_meta_first_then_sorted_complete_findings(project: Path, run_dir: Path) -> None:
    demo_run(run_dir)
    evaluation = evaluate(run_dir, project)
    head, *rows = lines_of(run_dir)
    meta = head["_meta"]
    assert meta["run_id"] == RUN_ID
    assert meta["rubric_version"] == "v1"
    assert meta["count"] == len(rows) == 5
    assert meta["verdict"] == "BLOCKED"
    assert meta["by_severity"] == {"critical": 2, "high": 2, "medium": 1, "low": 0}
    assert meta["checks_run"] == ["onboarding_step_count", "axe_violations", "console_errors"]
    assert set(meta["checks_skipped"]) == {"liquid_glass"}
    assert meta["drivers"] == {"captures/web.json": {"driver": "web", "exit_code": 0, "captures": 12}}
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    assert [(rank[r["severity"]], r["check"], r["fingerprint"]) for r in rows] == sorted(
        (rank[r["severity"]], r["check"], r["fingerprint"]) for r in rows
    )
    for row in rows:
        assert len(row) == 13
        assert all(value not in (None, "") for value in row.values())
        assert row["run_id"] == RUN_ID
    assert [Finding.model_validate(r) for r in rows] == list(evaluation.findings)
    assert "/tmp" not in (run_dir / FINDINGS_FILE).read_text()
    assert str(run_dir) not in (run_dir / FINDINGS_FILE).read_text()


def test_evidence_paths_are_relative_and_exist(project: Path, run_dir: Path) -> None:
    demo_run(run_dir)
    evaluation = evaluate(run_dir, project)
    for finding in evaluation.findings:
        assert not Path(finding.evidence_path).is_absolute()
        assert ".." not in Path(finding.evidence_path).parts
        assert (run_dir / finding.evidence_path).is_file(), finding
    by_id = {f.checkId: f for f in evaluation.findings}
    assert by_id["image-alt"].evidence_path == "drivers/web/routes/gallery/screenshot.png"
    assert by_id["http-404"].evidence_path == "drivers/web/routes/broken/screenshot.png"
    # The onboarding finding shows the last step of the journey.
    assert by_id["onboarding-steps"].evidence_path == "drivers/web/journeys/signup/09/screenshot.png"


def test_two_evaluations_and_a_copy_elsewhere_are_byte_identical(
    tmp_path: Path, project: Path, run_dir: Path
) -> None:
    demo_run(run_dir)
    evaluate(run_dir, project)
    first = (run_dir / FINDINGS_FILE).read_bytes()
    evaluate(run_dir, project)
    assert (run_dir / FINDINGS_FILE).read_bytes() == first

    copy_project = tmp_path / "elsewhere" / "deeper" / "project"
    shutil.copytree(project, copy_project)
    copy_run = copy_project / ".orchestrator" / "runs" / RUN_ID
    (copy_run / FINDINGS_FILE).unlink()
    evaluate(copy_run, copy_project)
    assert (copy_run / FINDINGS_FILE).read_bytes() == first


def test_order_of_captures_and_port_of_the_run_do_not_change_the_bytes(tmp_path: Path, project: Path) -> None:
    one, other = tmp_path / "one", tmp_path / "other"
    demo_run(one, port=40001)
    demo_run(other, port=59999, reverse=True)
    evaluate(one, project)
    evaluate(other, project)
    findings = [line for line in lines_of(one) if "_meta" not in line]
    assert findings == [line for line in lines_of(other) if "_meta" not in line]
    assert all("40001" not in json.dumps(f["locator"]) for f in findings)


# --- the actor ------------------------------------------------------------------------------------


def test_entry_point_names_the_worker() -> None:
    (entry,) = entry_points(group="orchestrate.agents", name="ux-evaluator")
    assert entry.load() is UxEvaluator


def test_worker_evaluates_through_a_work_request(
    bus: EventBus, project: Path, run_dir: Path, tmp_path: Path
) -> None:
    demo_run(run_dir)
    bus.open_run(RUN_ID, tmp_path / "events" / "events.jsonl")
    worker = spawn(UxEvaluator, events=bus)
    request = WorkRequest(
        run_id=RUN_ID,
        task_id="task-eval",
        call_id="call-eval",
        capability="evaluate",
        objective="apply rubric v1",
        params=EvaluateRequest(
            run_dir=run_dir, project_root=project, profile_name="full", profile=profile()
        ).model_dump(mode="json"),
    )
    result = worker.ask(request, timeout=30)
    assert isinstance(result, WorkResult)
    assert result.success
    evaluation = EVALUATE.parse_result(result.data)
    assert evaluation.verdict == "BLOCKED"
    assert evaluation.findings == 5
    assert evaluation.by_severity == {"critical": 2, "high": 2, "medium": 1, "low": 0}
    assert evaluation.findings_path == "findings.jsonl"
    assert evaluation.skipped_checks == {
        "liquid_glass": "no SwiftUI project (Package.swift or *.xcodeproj) in the project"
    }
    assert "5 findings" in result.summary and "BLOCKED" in result.summary
    assert (run_dir / "findings.jsonl").is_file()

    bus.flush()
    with EventStore(tmp_path / ".orchestrator" / "events.db") as store:
        events = store.query(run_id=RUN_ID, limit=None)
    types = [e.event_type for e in events]
    assert types[0] == "worker.task.started"
    assert types[-1] == "worker.task.completed"
    assert types.count("worker.task.progress") == 4
    assert types.count("worker.task.finding") == 5
    assert {(e.task_id, e.call_id) for e in events} == {("task-eval", "call-eval")}
    found = {e.payload["fingerprint"] for e in events if e.event_type == "worker.task.finding"}
    assert found == {row["fingerprint"] for row in lines_of(run_dir)[1:]}


def test_worker_refuses_bad_requests_with_typed_errors(bus: EventBus, project: Path, tmp_path: Path) -> None:
    bus.open_run(RUN_ID, tmp_path / "events" / "events.jsonl")
    worker = spawn(UxEvaluator, events=bus)
    wrong = WorkRequest(run_id=RUN_ID, task_id="t1", call_id="c1", capability="capture", objective="x")
    with pytest.raises(UnknownCapabilityError, match="does not offer 'capture'; it offers: evaluate"):
        worker.ask(wrong, timeout=10)
    missing = WorkRequest(
        run_id=RUN_ID,
        task_id="t2",
        call_id="c2",
        capability="evaluate",
        objective="x",
        params={"project_root": str(project), "profile": {}},
    )
    with pytest.raises(ContractError, match=r"params\.run_dir: is required but missing\. Fix:"):
        worker.ask(missing, timeout=10)
    # A misspelt key is refused, never dropped: "profil" is not "profile".
    request = EvaluateRequest(run_dir=tmp_path, project_root=project, profile=profile())
    misspelt = {**request.model_dump(mode="json"), "profil": {"checks": []}}
    with pytest.raises(ContractError, match=r"params\.profil: .*Fix:"):
        worker.ask(
            WorkRequest(
                run_id=RUN_ID,
                task_id="t3",
                call_id="c3",
                capability="evaluate",
                objective="x",
                params=misspelt,
            ),
            timeout=10,
        )
    bus.flush()
    with EventStore(tmp_path / ".orchestrator" / "events.db") as store:
        failed = store.query(run_id=RUN_ID, type_prefix="worker.task.failed", limit=None)
    assert len(failed) == 3
