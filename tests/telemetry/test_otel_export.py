"""OpenTelemetry export: runs become OTLP traces (GenAI conventions), live and replayed, never hurting a run.

Every test sends real OTLP/HTTP protobuf to a receiver on loopback (``otlp_receiver``) through the
SDK's exporter, from real jobs (``open_job`` with ``[telemetry] otlp_endpoint``): a gate-like job
with a browser worker's tool and model calls, and a real scenario run and its judging.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from orchestrator import Conductor, RunOutcome, StartRun, Worker, WorkRequest, WorkResult
from orchestrator.actors import model_call
from orchestrator.cli import app
from orchestrator.config import ProjectConfig, TelemetrySection, load_config
from orchestrator.events import EventBus
from orchestrator.jobs import run_job
from orchestrator.pipelines.scenarios import RunOptions, run_scenarios, satisfy_run
from orchestrator.telemetry import OtlpEventExporter, OtlpExportProcess, resolve_endpoint, run_trace_id
from tests.cli_support import run_main
from tests.scenarios.pipeline_support import CONFIG, make_project, scenario_yaml
from tests.telemetry.otlp_receiver import ReceivedSpan, otlp_receiver

SECRET = "sk-live-do-not-export-4242"


class Browser(Worker):
    """Opens a page (a tool call) and asks a model about it (a model call with usage)."""

    worker_type = "browser"

    def perform(self, request: WorkRequest) -> WorkResult:
        with self.tool_call("playwright.goto", summary="http://127.0.0.1/app"):
            pass
        with model_call(self.emit, model="gpt-test", provider="openai") as call:
            call.usage = {"input_tokens": 120, "output_tokens": 30}
        return self.result(request, summary="page looks fine")


class GateLike(Conductor):
    """Delegates one browser task, as the UI gate's conductor does."""

    def conduct(self, start: StartRun) -> RunOutcome:
        worker = self.start_worker(Browser)
        result = self.delegate(worker, "explore", "explore the page")
        return RunOutcome(run_id=start.run_id, status="completed", summary=result.summary)


def project_with(root: Path, telemetry: str) -> ProjectConfig:
    root.mkdir(parents=True, exist_ok=True)
    (root / "orchestrate.toml").write_text(
        f'[project]\nname = "otel"\n\n[telemetry]\n{telemetry}\n', encoding="utf-8"
    )
    return load_config(root, env={})


def closed_port_url() -> str:
    """A loopback URL nothing listens on (a port the OS picked, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def by_name(spans: list[ReceivedSpan], name: str) -> list[ReceivedSpan]:
    return [span for span in spans if span.name == name]


def only(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = by_name(spans, name)
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def export_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "otlp-export"]


def all_text(spans: list[ReceivedSpan]) -> str:
    return json.dumps([[s.name, s.attributes, s.events] for s in spans], default=str)


@pytest.mark.timeout(60)
def test_a_gate_like_job_is_one_trace_of_delegation_tool_and_model_spans(tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        config = project_with(tmp_path / "p", f'otlp_endpoint = "{receiver.url}"\nservice_name = "desk-ci"')
        result = run_job(config, GateLike, kind="ui", target="web", objective="check the app")
        spans = receiver.wait_for(lambda spans: any(s.name == "orchestrate.run" for s in spans))
    assert result.status == "completed"
    run_id = result.run_dir.run_id
    assert {span.trace_id for span in spans} == {f"{run_trace_id(run_id):032x}"}
    assert {span.service_name for span in spans} == {"desk-ci"}
    assert sorted(span.name for span in spans) == [
        "chat gpt-test",
        "execute_tool playwright.goto",
        "invoke_agent browser",
        "orchestrate.run",
    ]
    root = only(spans, "orchestrate.run")
    assert root.parent_span_id == ""
    assert root.attributes == {
        "orchestrate.run_id": run_id,
        "orchestrate.run.status": "completed",
        "orchestrate.job.kind": "ui",
        "orchestrate.run.objective": "check the app",
    }
    agent = only(spans, "invoke_agent browser")
    assert agent.parent_span_id == root.span_id
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.agent.name"] == "browser"
    call_id = agent.attributes["orchestrate.call_id"]
    assert agent.attributes["orchestrate.task_id"] and agent.attributes["orchestrate.outcome"] == "completed"
    tool = only(spans, "execute_tool playwright.goto")
    assert tool.parent_span_id == agent.span_id
    assert tool.attributes["gen_ai.tool.name"] == "playwright.goto"
    assert tool.attributes["gen_ai.tool.call.id"] == tool.attributes["orchestrate.tool_trace_id"]
    assert tool.attributes["orchestrate.call_id"] == call_id
    chat = only(spans, "chat gpt-test")
    assert chat.parent_span_id == agent.span_id
    assert {key: chat.attributes[key] for key in chat.attributes if key.startswith("gen_ai.")} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-test",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
    }
    for span in spans:
        assert root.start_ns <= span.start_ns <= span.end_ns <= root.end_ns
    assert not export_threads()


@pytest.mark.timeout(180)
def test_a_scenario_run_and_its_judging_export_live_and_replay_gives_the_same_spans(tmp_path: Path) -> None:
    chaos = "chaos: [{type: error, target: jira, probability: 0.5, code: 503}]\ncount: 4\n"
    scenarios = {"file-ticket": scenario_yaml("file-ticket", "file Printer on fire", extra=chaos)}
    with otlp_receiver() as live, otlp_receiver() as replayed:
        root = make_project(
            tmp_path / "desk", scenarios, config=CONFIG + f'\n[telemetry]\notlp_endpoint = "{live.url}"\n'
        )
        config = load_config(root, env={})
        result = run_scenarios(config, RunOptions(seed=3))
        assert result.status == "completed"
        satisfy_run(config, result.run_id)
        spans = live.wait_for(lambda spans: len(by_name(spans, "orchestrate.run")) == 2)

        runners = by_name(spans, "invoke_agent trajectory-runner")
        trajectories = by_name(spans, "orchestrate.trajectory")
        judges = by_name(spans, "invoke_agent trajectory-judge")
        assert (len(runners), len(trajectories), len(judges)) == (4, 4, 4)
        first, second = sorted(by_name(spans, "orchestrate.run"), key=lambda s: s.start_ns)
        assert first.parent_span_id == "" and second.parent_span_id == first.span_id
        assert first.attributes["orchestrate.job.kind"] == "scenario"
        assert {span.parent_span_id for span in runners} == {first.span_id}
        assert {span.parent_span_id for span in judges} == {second.span_id}
        runner_ids = {span.span_id: span for span in runners}
        injected = 0
        for trajectory in trajectories:
            runner = runner_ids[trajectory.parent_span_id]
            assert trajectory.attributes["orchestrate.call_id"] == runner.attributes["orchestrate.call_id"]
            assert trajectory.attributes["orchestrate.scenario_id"] == "file-ticket"
            assert trajectory.attributes["orchestrate.trajectory_id"].startswith("file-ticket-00")
            names = [name for name, _ in trajectory.events]
            assert names[:2] == ["trajectory.system_event", "trajectory.user_action"]
            assert "trajectory.api_call" in names
            modes = trajectory.attributes["orchestrate.chaos.modes"]
            assert trajectory.attributes["orchestrate.chaos.injected"] is bool(modes)
            injected += bool(modes)
            assert set(modes) <= {"error_503"}
        manifest_chaos = [
            json.loads(path.read_text())["chaos"] for path in (result.run_dir / "trajectories").glob("*.json")
        ]
        assert injected == sum(1 for chaos_list in manifest_chaos if chaos_list)
        verdicts = {}
        for judge in judges:
            ((name, evaluation),) = judge.events
            assert name == "gen_ai.evaluation.result"
            assert evaluation["gen_ai.evaluation.name"] == "scenario_satisfaction"
            verdicts[evaluation["orchestrate.trajectory_id"]] = evaluation["gen_ai.evaluation.score.label"]
        on_disk = {
            path.stem: json.loads(path.read_text())["verdict"]
            for path in (result.run_dir / "judgments").glob("*.json")
        }
        assert verdicts == on_disk
        # The SUT sent the twin's token on every call; no span carries it.
        assert "jira-twin-valid" not in all_text(spans) and "Bearer" not in all_text(spans)

        outcome = CliRunner().invoke(
            app, ["-C", str(root), "events", "export", result.run_id, "--otlp", replayed.url]
        )
        assert outcome.exit_code == 0, outcome.output
        assert f"Sent {len(spans)} span(s)" in outcome.stdout
        again = replayed.wait_for(lambda got: len(got) == len(spans))
    assert sorted(span.identity() for span in again) == sorted(span.identity() for span in spans)
    assert {s.span_id: (s.attributes, s.events, s.start_ns, s.end_ns) for s in again} == {
        s.span_id: (s.attributes, s.events, s.start_ns, s.end_ns) for s in spans
    }


@pytest.mark.timeout(60)
def test_a_collector_that_is_down_never_fails_the_run_and_drops_are_counted_once(tmp_path: Path) -> None:
    config = project_with(tmp_path / "p", f'otlp_endpoint = "{closed_port_url()}"\nexport_timeout_s = 1')
    with structlog.testing.capture_logs() as logs:
        result = run_job(config, GateLike, kind="ui", target="web", objective="check the app")
    assert result.status == "completed" and result.outcome.summary == "page looks fine"
    warnings = [entry for entry in logs if "OpenTelemetry export" in entry["event"]]
    assert len(warnings) == 1, logs
    assert warnings[0]["log_level"] == "warning"
    assert warnings[0]["dropped_spans"] == 4 and warnings[0]["sent"] == 0
    assert "dropped 4 span(s)" in warnings[0]["event"]
    assert not export_threads()


@pytest.mark.timeout(60)
def test_past_max_queue_spans_are_dropped_and_counted_while_the_bus_goes_on(tmp_path: Path) -> None:
    exporter = OtlpEventExporter(closed_port_url() + "/v1/traces", timeout_s=1, max_queue=100, batch_size=50)
    bus = EventBus(None)
    try:
        bus.subscribe(exporter)
        bus.open_run("r1", tmp_path / "events.jsonl")
        correlation = {"run_id": "r1"}
        bus.emit("conductor.task.started", {"status": "running"}, actor="c", correlation=correlation)
        for index in range(300):
            tool = {"run_id": "r1", "tool_trace_id": f"t{index}"}
            bus.emit(
                "worker.tool.call", {"tool_name": "x", "args_summary": SECRET}, actor="w", correlation=tool
            )
            bus.emit(
                "worker.tool.result",
                {"tool_name": "x", "success": True, "duration_ms": 1.0},
                actor="w",
                correlation=tool,
            )
        bus.emit("conductor.task.completed", {"status": "completed"}, actor="c", correlation=correlation)
        bus.flush()
    finally:
        bus.stop()
        with structlog.testing.capture_logs() as logs:
            stats = exporter.close()
    # Nothing reached the collector; every one of the 301 spans was dropped as a span, or its
    # events were dropped while the export thread waited for the collector (both counted).
    assert stats.sent == 0 and 0 < stats.dropped_spans <= 301
    assert stats.dropped_spans + stats.dropped_events >= 301
    (warning,) = [entry for entry in logs if entry["log_level"] == "warning"]
    assert (warning["dropped_spans"], warning["dropped_events"]) == (
        stats.dropped_spans,
        stats.dropped_events,
    )
    assert not export_threads()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len(lines) == 602


@pytest.mark.timeout(60)
def test_the_exporter_flushes_spans_as_they_end_not_at_the_end_of_the_run(tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        exporter = OtlpEventExporter(receiver.url + "/v1/traces", timeout_s=5)
        bus = EventBus(None)
        try:
            bus.subscribe(exporter)
            bus.open_run("r2", tmp_path / "events.jsonl")
            bus.emit("conductor.task.started", {"status": "running"}, actor="c", correlation={"run_id": "r2"})
            tool = {"run_id": "r2", "tool_trace_id": "t1"}
            bus.emit(
                "worker.tool.call",
                {"tool_name": "shell", "args_summary": SECRET},
                actor="w",
                correlation=tool,
            )
            bus.emit(
                "worker.tool.result",
                {"tool_name": "shell", "success": False, "duration_ms": 2.0, "error": "exit 1"},
                actor="w",
                correlation=tool,
            )
            bus.flush()
            assert exporter.flush(timeout=10)
            # The run is still going: only the finished tool call has been sent.
            assert [span.name for span in receiver.spans] == ["execute_tool shell"]
            (tool_span,) = receiver.spans
            assert tool_span.status_code == 2 and tool_span.attributes["error.type"] == "_OTHER"
            assert SECRET not in all_text(receiver.spans)
        finally:
            bus.stop()
            stats = exporter.close()
        # The run never ended: its run span is closed as unfinished when the exporter closes.
        spans = receiver.wait_for(lambda got: len(got) == 2)
    run_span = only(spans, "orchestrate.run")
    assert run_span.status_code == 2 and run_span.attributes["orchestrate.run_id"] == "r2"
    assert stats.sent == 2 and stats.dropped_spans == 0


def test_the_endpoint_comes_from_the_config_then_the_standard_variables() -> None:
    configured = TelemetrySection(otlp_endpoint="http://collector:4318")
    unset = TelemetrySection()
    assert resolve_endpoint(configured, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:4318"}) == (
        "http://collector:4318/v1/traces"
    )
    assert resolve_endpoint(unset, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:4318/"}) == (
        "http://other:4318/v1/traces"
    )
    traces = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:4318/custom",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://o",
    }
    assert resolve_endpoint(unset, traces) == "http://t:4318/custom"
    assert resolve_endpoint(unset, {}) is None
    assert resolve_endpoint(unset, {}, given="http://x:1/v1/traces") == "http://x:1/v1/traces"


def output_of(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    """The console script's exit code and everything it printed (see ``tests.cli_support``)."""
    outcome = run_main(monkeypatch, *args)
    return outcome.code, outcome.stdout + outcome.stderr


@pytest.mark.timeout(60)
def test_export_of_an_unknown_run_or_to_a_collector_that_is_down_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    config = project_with(tmp_path / "p", "export_timeout_s = 1")
    result = run_job(config, GateLike, kind="ui", target="web", objective="check the app")
    run_id, root = result.run_dir.run_id, str(config.root)
    code, output = output_of(
        monkeypatch, "-C", root, "events", "export", "no-such-run", "--otlp", closed_port_url()
    )
    assert code == 2 and "no run 'no-such-run'" in output
    code, output = output_of(monkeypatch, "-C", root, "events", "export", run_id, "--otlp", closed_port_url())
    assert code == 2 and "did not accept the spans" in output
    code, output = output_of(monkeypatch, "-C", root, "events", "export", run_id, "--otlp")
    assert code == 2 and "OTEL_EXPORTER_OTLP_ENDPOINT" in output
    code, output = output_of(monkeypatch, "-C", root, "events", "export", run_id, "--otlp", "ftp://x")
    assert code == 2 and "http(s) URL" in output
    code, output = output_of(monkeypatch, "-C", root, "events", "export", run_id, "--otlp", "http://[::1")
    assert code == 2 and "http(s) URL" in output and "Traceback" not in output


@pytest.mark.timeout(60)
def test_a_stopped_export_process_never_holds_the_job_past_its_deadline() -> None:
    with otlp_receiver() as receiver:
        exporter = OtlpExportProcess(receiver.url + "/v1/traces", timeout_s=1)
        os.kill(exporter._child.pid, signal.SIGSTOP)  # it stops reading its pipe
        line = b'{"seq":1,"event_id":"x","timestamp":"2026-01-01T00:00:00.000000Z"}' + b" " * 400 + b"\n"
        for _ in range(2000):  # far more than a pipe holds
            exporter.on_line("worker.tool.call", line)
        started = time.monotonic()
        stats = exporter.close(timeout=1)
        assert time.monotonic() - started < 10
        assert stats.error is not None and "stopped" in stats.error
        assert exporter._child.poll() is not None  # killed, not left behind
