"""Steps that act as the user: ``user:`` messages, ``http:`` calls and ``browser:`` flows on the SUT.

Every request carries the trajectory header (the twins' journals attribute requests by it), the
step's ``traceparent`` when the slot takes the system under test's spans (an OTLP intake), and
waits at most the request timeout or the time left before the deadline, whichever is less.

- ``user:`` posts ``{session_id?, message}`` to ``[sut].message_path``; the session id comes from
  the first answer (``[sut].fields.session_id``) and is sent with every later message; the
  answer must be JSON, and its text is ``[sut].fields.answer``, its route ``[sut].fields.route``;
- ``http:`` sends the request as written (the path is relative to the SUT's base URL); any
  answer is an answer, JSON or not;
- ``browser:`` runs its actions on the slot's Chromium; the text of the page after the last
  action is the step's text.

A 4xx or 5xx answer is a normal answer (the step's ``expect`` may fail on it). A system under test
that cannot be reached, does not answer in time, or answers a ``user:`` step with something that
is not JSON ends the trajectory as ``errored``; the deadline passing ends it as ``timed_out``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from playwright.async_api import Error as PlaywrightError

from orchestrator.agents.runner._browser import step_label
from orchestrator.agents.runner._context import StepContext, StepOutcome
from orchestrator.agents.runner._placeholders import Answer
from orchestrator.assistant_api import message_request, read_reply
from orchestrator.chromium import BrowserLaunchError, first_line
from orchestrator.errors import ConfigError
from orchestrator.scenarios import BrowserStep, HttpStep, UserStep
from orchestrator.telemetry import TRACEPARENT_HEADER
from orchestrator.twins import TRAJECTORY_HEADER, summarize

__all__ = ["run_browser_step", "run_http_step", "run_user_step"]

_NO_SUT = "no system under test is configured: set [sut] base_url, start_command or app in orchestrate.toml"
_SHOWN = 120


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _SHOWN else line[: _SHOWN - 1] + "…"


def _send(
    ctx: StepContext, method: str, path: str, request: dict[str, Any], **options: Any
) -> httpx.Response | StepOutcome:
    """The SUT's answer, or the outcome that ends the trajectory when there is none."""
    if ctx.sut_url is None:
        return StepOutcome.ended("errored", _NO_SUT, request=request)
    timeout = ctx.clock.cap(ctx.sut.request_timeout_s)
    if timeout <= 0:
        return StepOutcome.ended("timed_out", "the trajectory's deadline passed", request=request)
    if ctx.traceparent is not None:  # the step's own headers may name another parent
        options = {**options, "headers": {TRACEPARENT_HEADER: ctx.traceparent, **options.get("headers", {})}}
    try:
        return ctx.client.request(method, ctx.sut_url + path, timeout=timeout, **options)
    except httpx.TimeoutException:
        if ctx.clock.passed():
            return StepOutcome.ended(
                "timed_out",
                f"the trajectory's deadline passed while waiting for {method} {path}",
                request=request,
            )
        return StepOutcome.ended(
            "errored",
            f"the system under test did not answer {method} {path} within {timeout:g} s",
            request=request,
        )
    except httpx.HTTPError as exc:
        cause = (
            "its process is not running (it is started again before the next trajectory)"
            if not ctx.sut_alive()
            else type(exc).__name__
        )
        return StepOutcome.ended(
            "errored", f"the system under test is unreachable for {method} {path}: {cause}", request=request
        )


def _parsed(response: httpx.Response) -> tuple[Any, bool]:
    if not response.content:
        return None, False
    try:
        return response.json(), True
    except ValueError:
        return None, False


def _exchange(method: str, path: str, response: httpx.Response, body: Any, has_json: bool) -> dict[str, Any]:
    """The ``user_action`` detail: the request line, and the answer's status and summary."""
    return {
        "request": {"method": method, "path": path},
        "response": {
            "status": response.status_code,
            "summary": summarize(body if has_json else response.content) or "",
        },
        "duration_ms": round(response.elapsed.total_seconds() * 1000, 3),
    }


def run_user_step(step: UserStep, ctx: StepContext) -> StepOutcome:
    """Send a message to the assistant endpoint in the trajectory's session."""
    method, path, body = message_request(ctx.sut, step.user, ctx.session_id)
    request: dict[str, Any] = {"method": method, "path": path, "json": body}
    sent = _send(ctx, method, path, request, json=body)
    if isinstance(sent, StepOutcome):
        return sent
    answer, has_json = _parsed(sent)
    if not has_json:
        kind = sent.headers.get("content-type", "no content type")
        return StepOutcome.ended(
            "errored",
            f"the answer to {method} {path} is not JSON (HTTP {sent.status_code}, {kind}); "
            "a user step needs the assistant's JSON answer",
            request=request,
        )
    try:
        reply = read_reply(answer, ctx.sut.fields, section="sut")
    except ConfigError as exc:
        return StepOutcome.ended("errored", str(exc), request=request)
    if ctx.session_id is None and reply.session_id is not None:
        ctx.session_id = reply.session_id
    text = reply.text
    outcome = StepOutcome(
        status="passed",
        request=request,
        response_status=sent.status_code,
        answer=Answer(sent.status_code, text, answer, True),
        description=f"user: {_short(step.user)}",
        detail=_exchange(method, path, sent, answer, True),
    )
    if reply.route is not None:
        outcome.agent = {"route": reply.route, "capability_missing": reply.capability_missing}
    return outcome


def run_http_step(step: HttpStep, ctx: StepContext) -> StepOutcome:
    """Send the step's request to the system under test."""
    http = step.http
    request: dict[str, Any] = {"method": http.method, "path": http.path}
    options: dict[str, Any] = {}
    if http.query:
        request["query"] = dict(http.query)
        options["params"] = {key: _query_value(value) for key, value in http.query.items()}
    if http.headers:
        request["headers"] = dict(http.headers)
        options["headers"] = dict(http.headers)
    if "json_body" in http.model_fields_set:
        request["json"] = http.json_body
        options["json"] = http.json_body
    sent = _send(ctx, http.method, http.path, request, **options)
    if isinstance(sent, StepOutcome):
        return sent
    body, has_json = _parsed(sent)
    return StepOutcome(
        status="passed",
        request=request,
        response_status=sent.status_code,
        answer=Answer(sent.status_code, sent.text, body, has_json),
        description=f"http: {http.method} {http.path} -> {sent.status_code}",
        detail=_exchange(http.method, http.path, sent, body, has_json),
    )


def _query_value(value: str | int | float | bool) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def run_browser_step(step: BrowserStep, ctx: StepContext) -> StepOutcome:
    """Run the step's actions on this trajectory's page of the slot's Chromium."""
    labels = [step_label(action) for action in step.browser]
    request: dict[str, Any] = {"actions": labels}
    if ctx.sut_url is None:
        return StepOutcome.ended("errored", _NO_SUT, request=request)
    try:
        run = ctx.browser().run(
            step.browser,
            base_url=ctx.sut_url,
            headers={
                TRAJECTORY_HEADER: ctx.spec.trajectory_id,
                **({TRACEPARENT_HEADER: ctx.traceparent} if ctx.traceparent is not None else {}),
            },
            timeout_s=ctx.clock.remaining(),
            cancelled=ctx.cancelled,
        )
    except TimeoutError:
        if ctx.clock.passed():
            return StepOutcome.ended(
                "timed_out", "the trajectory's deadline passed in a browser step", request=request
            )
        return StepOutcome.ended("errored", "the browser did not finish its actions in time", request=request)
    except BrowserLaunchError as exc:
        return StepOutcome.ended("errored", str(exc), request=request)
    except PlaywrightError as exc:
        return StepOutcome.ended("errored", f"the browser failed: {first_line(exc)}", request=request)
    if ctx.cancelled.is_set():
        return StepOutcome.ended("errored", "the run was stopped during a browser step", request=request)
    return StepOutcome(
        status="failed" if run.failure else "passed",
        request=request,
        answer=Answer(None, run.text, None, False),
        failures=[run.failure] if run.failure else [],
        description=f"browser: {', '.join(labels)}",
        detail={"performed": run.performed, "url": run.url, "failure": run.failure},
    )
