"""Shared helpers for the domain runner's tests: real assistants on loopback, scenarios, a run.

The example inventory assistant (``examples/assistant``) is served from a copy in a temporary
folder, so a test may switch its ``capabilities.json``; :class:`FakeAssistant` is a small
Starlette app whose answer a test writes, and which keeps every request it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import shutil
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orchestrator.agents.domain_runner import AskSettings, ScenarioRun, run_domain_scenario
from orchestrator.config import AssistantSection
from orchestrator.packs import DomainScenario
from orchestrator.testing import CapturedEvents
from tests.loopback import serve_app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "assistant"
ALL_ON = {
    "inventory_list": True,
    "item_detail": True,
    "low_stock": True,
    "reorder": True,
    "order_status": True,
    "cite_sources": True,
    "tidy_lists": True,
}
SCENARIO_FILES = (
    "scenario_brief.md",
    "scenario_manifest.json",
    "scenario_state.json",
    "scenario_summary.md",
    "scenario_output.md",
    "final_status.md",
)


def _load_example_app() -> ModuleType:
    """``examples/assistant/app.py``, imported from its file (the folder is not a package)."""
    name = "orchestrate_example_assistant_app_for_domain_runs"
    spec = importlib.util.spec_from_file_location(name, EXAMPLE / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


example_app = _load_example_app()


def copy_example(tmp_path: Path, **switches: bool) -> Path:
    """A copy of the example folder with ``switches`` written over its ``capabilities.json``."""
    root = tmp_path / "assistant"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    path = root / "capabilities.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **switches}))
    return root


@contextlib.contextmanager
def serve_example(tmp_path: Path, **switches: bool) -> Iterator[str]:
    """The example assistant (switched as asked) on a loopback port; yields its origin."""
    with serve_app(example_app.create_app(copy_example(tmp_path, **switches))) as origin:
        yield origin


@dataclass
class Received:
    """One request a :class:`FakeAssistant` got."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


Answer = Callable[[Request, Any], Awaitable[Response]]


@dataclass
class FakeAssistant:
    """A Starlette assistant: ``answer`` makes each message's response; every request is kept.

    Sessions are read back at ``GET /api/assistant/session/{session_id}`` (and the same under
    ``/v2/sessions/``) as ``{"session_id": ..., "turns": N}``.
    """

    answer: Answer
    message_paths: tuple[str, ...] = ("/api/assistant/message",)
    received: list[Received] = field(default_factory=list)

    def messages(self) -> list[Received]:
        return [r for r in self.received if r.method == "POST"]

    def app(self) -> Starlette:
        async def message(request: Request) -> Response:
            try:
                body = await request.json()
            except ValueError:
                body = None
            self.received.append(Received("POST", request.url.path, dict(request.headers), body))
            return await self.answer(request, body)

        async def session(request: Request) -> Response:
            session_id = request.path_params["session_id"]
            self.received.append(Received("GET", request.url.path, dict(request.headers), None))
            turns = sum(1 for r in self.messages() if isinstance(r.body, dict))
            return JSONResponse({"session_id": session_id, "turns": turns})

        routes = [Route(path, message, methods=["POST"]) for path in self.message_paths]
        routes += [
            Route("/api/assistant/session/{session_id}", session),
            Route("/v2/sessions/{session_id}", session),
        ]
        return Starlette(routes=routes)


def json_answer(document: dict[str, Any], status: int = 200) -> Answer:
    """An answer that is always ``document`` with HTTP ``status``."""

    async def answer(request: Request, body: Any) -> Response:
        return JSONResponse(document, status)

    return answer


def slow_answer(document: dict[str, Any], delay_s: float) -> Answer:
    """``document`` after ``delay_s`` seconds: an assistant slower than a ``max_ms`` limit."""

    async def answer(request: Request, body: Any) -> Response:
        await asyncio.sleep(delay_s)
        return JSONResponse(document)

    return answer


def scenario(*steps: dict[str, Any], scenario_id: str = "stock-check") -> DomainScenario:
    """A domain scenario of ``steps`` (each ``{id, question, expect?, decision?}``)."""
    return DomainScenario.model_validate(
        {"id": scenario_id, "brief": "A store manager checks stock.", "steps": list(steps)}
    )


class Recorded(CapturedEvents):
    """Events told by a run, checked against the event vocabulary as the bus checks them."""

    def __call__(self, event_type: str, **payload: Any) -> None:
        self.emit(event_type, payload, actor="domain-runner-test")


def run(
    the_scenario: DomainScenario,
    origin: str,
    directory: Path,
    *,
    section: AssistantSection | None = None,
    headers: dict[str, str] | None = None,
    secrets: tuple[str, ...] = (),
    events: Recorded | None = None,
) -> ScenarioRun:
    """Ask ``the_scenario`` of the assistant at ``origin``, its files into ``directory``."""
    settings = AskSettings(
        base_url=origin,
        assistant=section or AssistantSection(timeout_s=10),
        headers=headers or {},
        secrets=secrets,
    )
    with httpx.Client() as client:
        return run_domain_scenario(
            the_scenario,
            client=client,
            settings=settings,
            directory=directory,
            evidence_root=directory,
            run_id="run-1",
            emit=events,
        )


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def step_file(directory: Path, step_id: str, name: str) -> Any:
    """A step's JSON file, parsed."""
    return read_json(directory / "steps" / step_id / name)


def unused_port() -> int:
    """A loopback port nothing listens on (bound by the OS, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
