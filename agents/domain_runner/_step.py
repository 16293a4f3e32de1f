"""One step of a domain scenario asked of the assistant: fill its placeholders, send it, read the
answer and the session back, check its expectations.

Nothing here raises for the assistant's behaviour: a transport error, a timeout, an HTTP error
status, an answer that is not JSON or a placeholder that finds nothing make the step ``blocked``
with the reason, so the scenario's other steps and the pack's other scenarios go on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from orchestrator.agents.analyst import ExpectationResult
from orchestrator.agents.domain_runner._checks import capability_signalled, check_expectations, step_status
from orchestrator.assistant_api import (
    AssistantReply,
    message_request,
    read_reply,
    scrub_secrets,
    session_request,
)
from orchestrator.config import AssistantSection
from orchestrator.packs import (
    DomainStep,
    StepAnswer,
    StepStatus,
    UnresolvedPlaceholderError,
    placeholders,
    resolve,
)

__all__ = ["AskSettings", "StepRun", "ask_step"]


@dataclass(frozen=True)
class AskSettings:
    """Where the assistant answers and how to speak to it (resolved headers, values to redact)."""

    base_url: str
    assistant: AssistantSection
    headers: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()


@dataclass
class StepRun:
    """Everything one step did, for its artifacts and for the analyst."""

    step: DomainStep
    started_at: str
    status: StepStatus = "blocked"
    question: str | None = None
    resolved: dict[str, str] = field(default_factory=dict)
    sent: dict[str, Any] | None = None
    http_status: int | None = None
    raw: Any = None
    reply: AssistantReply | None = None
    elapsed_ms: float = 0.0
    session: Any = None
    session_error: str | None = None
    session_ms: float = 0.0
    results: list[ExpectationResult] = field(default_factory=list)
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.reply is not None


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _fill(run: StepRun, answers: Mapping[str, StepAnswer], session: Mapping[str, Any] | None) -> bool:
    try:
        for found in placeholders(run.step.question):
            run.resolved[found.name] = resolve(found.raw, answers=answers, session=session)
        run.question = resolve(run.step.question, answers=answers, session=session)
    except UnresolvedPlaceholderError as exc:
        run.error = f"placeholder {{{{{exc.name}}}}} could not be filled: {exc.why}"
        return False
    return True


def _send(run: StepRun, client: httpx.Client, settings: AskSettings, session_id: str | None) -> bool:
    assert run.question is not None
    method, path, body = message_request(settings.assistant, run.question, session_id)
    run.sent = {"method": method, "path": path, "json": body}
    started = time.monotonic()
    try:
        response = client.request(
            method,
            settings.base_url + path,
            json=body,
            headers=dict(settings.headers),
            timeout=settings.assistant.timeout_s,
        )
    except httpx.TimeoutException:
        run.elapsed_ms = (time.monotonic() - started) * 1000
        run.error = f"no answer within {settings.assistant.timeout_s:g} s ([assistant] timeout_s)"
        return False
    except httpx.HTTPError as exc:
        run.elapsed_ms = (time.monotonic() - started) * 1000
        run.error = f"the assistant could not be reached at {settings.base_url}: {type(exc).__name__}: {exc}"
        return False
    run.elapsed_ms = (time.monotonic() - started) * 1000
    run.http_status = response.status_code
    try:
        run.raw = scrub_secrets(response.json(), settings.secrets)
    except ValueError:
        run.raw = scrub_secrets(response.text, settings.secrets)
        kind = response.headers.get("content-type", "no content type")
        run.error = f"the answer is not JSON (HTTP {response.status_code}, {kind})"
        return False
    if response.status_code >= 400:
        run.error = f"the assistant answered HTTP {response.status_code} to {method} {path}"
        return False
    run.reply = read_reply(run.raw, settings.assistant.fields)
    return True


def _read_session(run: StepRun, client: httpx.Client, settings: AskSettings, session_id: str) -> None:
    method, path = session_request(settings.assistant, session_id)
    started = time.monotonic()
    try:
        response = client.request(
            method,
            settings.base_url + path,
            headers=dict(settings.headers),
            timeout=settings.assistant.timeout_s,
        )
        run.session = scrub_secrets(response.json(), settings.secrets)
        if response.status_code >= 400:
            run.session_error = f"HTTP {response.status_code} from {method} {path}"
    except (httpx.HTTPError, ValueError) as exc:
        run.session_error = f"the session could not be read back from {method} {path}: {exc}"
    run.session_ms = (time.monotonic() - started) * 1000


def ask_step(
    step: DomainStep,
    *,
    client: httpx.Client,
    settings: AskSettings,
    session_id: str | None,
    answers: Mapping[str, StepAnswer],
    session: Mapping[str, Any] | None,
) -> StepRun:
    """Ask ``step`` in ``session_id``'s session (a new one when ``None``); see the module docstring.

    ``answers`` are the earlier steps' answers and ``session`` the session as last read back,
    for placeholders. The session is read back after an answer that names one.
    """
    run = StepRun(step=step, started_at=_now())
    if not _fill(run, answers, session) or not _send(run, client, settings, session_id):
        return run
    reply = run.reply
    assert reply is not None
    run.results = check_expectations(step.expect, reply, run.elapsed_ms)
    run.status = step_status(
        step.expect,
        run.results,
        capability_missing=capability_signalled(reply, settings.assistant.capability_missing_pattern),
    )
    if run.status == "needs_exact_capability":
        run.error = _capability_error(step, run)
    current = session_id or reply.session_id
    if current is not None:
        _read_session(run, client, settings, current)
    return run


def _capability_error(step: DomainStep, run: StepRun) -> str:
    unmet_routes = [result.detail for result in run.results if result.kind == "route" and not result.met]
    if unmet_routes:
        return "; ".join(unmet_routes)
    reply = run.reply
    assert reply is not None
    return f"the assistant says it lacks the capability to answer: {(reply.text or '')[:200]}"
