"""A demo system under test: an assistant API that signs people in with Okta and turns Slack messages
into Jira tickets, with known defects for ``orchestrate run`` to find (README.md has the details).

Endpoints: ``GET /health``, ``POST /api/login``, ``POST /api/slack-to-jira``,
``POST /api/assistant/message`` (a deterministic, rule-based assistant with per-session memory in
this process) and ``GET /api/assistant/session/{session_id}``. Configuration comes from the
environment (see :class:`Settings`); every outgoing call forwards the incoming
``X-Orchestrate-Trajectory`` header and gives up after ``SUT_TWIN_TIMEOUT_S``, so the API never
hangs on a slow service.

Known defects, on purpose:

1. **No retry on Jira 429.** A rate-limited create ends the flow with an apology ("try again
   later"); nothing is created although a retry after ``Retry-After`` would have worked.
2. **A blind retry after a timeout.** When the Jira create times out (or answers 504), it is sent
   once more without checking whether the first one landed: a slow Jira that applied the first
   create ends up with two identical issues.

Upstream 5xx answers are reported honestly as failures (that part is right).

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, it traces itself with the OpenTelemetry SDK (see
:class:`Tracing`): each API request is a server span continuing the caller's ``traceparent``,
the assistant's turn an ``invoke_agent`` span, its rule-based intent recognition a ``chat`` span
following the GenAI conventions (model :data:`MODEL`; tokens are words), and each call to Okta,
Slack or Jira an ``execute_tool`` span. Without the variable nothing is traced.

``python sut.py --port 8000`` serves it (``--port 0``, the default, lets the OS pick; the URL is
printed). ``create_app(env)`` returns the ASGI app; importing the module builds ``app`` from
``os.environ``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import socket
import sys
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["MODEL", "TRAJECTORY_HEADER", "Settings", "Tracing", "create_app", "main"]

TRAJECTORY_HEADER = "X-Orchestrate-Trajectory"
"""The incoming header forwarded on every outgoing call."""
MODEL = "demo-rules-1"
"""What the assistant's spans name as its model: the rule-based intent recognition below."""
MAX_SESSIONS = 10_000
"""Sessions kept in memory; the least recently used one goes first."""
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_LOGIN = re.compile(
    r"\b(?:sign|log)\s*-?\s*(?:me\s+)?in\s+as\s+(?P<user>\S+)\s+(?:with|using)\s+(?:the\s+|my\s+)?password\s+"
    r"(?P<password>\"[^\"]*\"|'[^']*'|\S+)",
    re.IGNORECASE,
)
_CHANNEL = re.compile(r"#(?P<channel>[a-z0-9][a-z0-9_-]*)", re.IGNORECASE)
_TICKET_WORDS = re.compile(r"\b(?:jira|ticket|issue)\b", re.IGNORECASE)
_STATUS_WORDS = re.compile(r"\bstatus\b", re.IGNORECASE)
_ISSUE_KEY = re.compile(r"\b[A-Za-z][A-Za-z0-9]+-\d+\b")
_SUMMARY_LIMIT = 120


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the services are and how long to wait for them.

    From ``OKTA_URL``, ``SLACK_URL``, ``JIRA_URL`` (base URLs: ``.../api/v1``, ``.../api``,
    ``.../rest/api/2``; a bare origin gets that path added), ``OKTA_TOKEN``, ``SLACK_TOKEN``,
    ``JIRA_TOKEN``, ``JIRA_PROJECT`` (default ``OPS``) and ``SUT_TWIN_TIMEOUT_S`` (default 1.0).
    """

    okta_url: str | None = None
    okta_token: str | None = None
    slack_url: str | None = None
    slack_token: str | None = None
    jira_url: str | None = None
    jira_token: str | None = None
    jira_project: str = "OPS"
    timeout_s: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read the settings; a timeout that is not a positive number is a ``ValueError`` saying so."""
        raw = env.get("SUT_TWIN_TIMEOUT_S", "1.0")
        try:
            timeout_s = float(raw)
        except ValueError:
            timeout_s = -1.0
        if not 0 < timeout_s <= 300:
            raise ValueError(f"SUT_TWIN_TIMEOUT_S={raw!r} is not a number of seconds; set it to e.g. 1.0")

        def url(name: str, api_path: str) -> str | None:
            value = env.get(name, "").strip().rstrip("/")
            if value and not value.endswith(api_path):
                value += api_path  # a bare origin (https://acme.okta.com) names the service too
            return value or None

        return cls(
            okta_url=url("OKTA_URL", "/api/v1"),
            okta_token=env.get("OKTA_TOKEN") or None,
            slack_url=url("SLACK_URL", "/api"),
            slack_token=env.get("SLACK_TOKEN") or None,
            jira_url=url("JIRA_URL", "/rest/api/2"),
            jira_token=env.get("JIRA_TOKEN") or None,
            jira_project=env.get("JIRA_PROJECT") or "OPS",
            timeout_s=timeout_s,
        )


class ServiceError(Exception):
    """A call to a service that gave no usable answer; ``kind`` says why, ``status`` its HTTP status."""

    def __init__(self, service: str, kind: str, status: int | None = None, detail: str = "") -> None:
        self.service = service
        self.kind = kind
        self.status = status
        self.detail = detail
        super().__init__(f"{service}: {kind} {status or ''} {detail}".strip())

    @property
    def http_status(self) -> int:
        """What this API answers when a flow ends on this error."""
        return {"timeout": 504, "rate_limited": 503, "not_configured": 503}.get(self.kind, 502)

    def explain(self, consequence: str) -> str:
        """A message for the user: what went wrong with the service, then ``consequence``."""
        name = self.service.capitalize()
        why = {
            "timeout": f"{name} did not answer in time",
            "unreachable": f"I could not reach {name}",
            "rate_limited": f"{name} is rate limiting us right now",
            "server_error": f"{name} is having problems (HTTP {self.status})",
            "unreadable": f"{name} sent an answer I could not read",
            "rejected_credentials": f"{name} rejected this service's credentials",
            "not_configured": f"the {name} connection is not configured",
        }.get(self.kind, f"{name} refused the request ({self.detail or self.status})")
        return f"Sorry, {why}; {consequence}"


class Tracing:
    """This SUT's OpenTelemetry spans, sent over OTLP/HTTP as each ends, when ``env`` names a collector.

    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, else ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``;
    the service is ``OTEL_SERVICE_NAME`` (default ``demo-sut``). Without either variable
    :meth:`span` opens nothing and yields ``None``, and the SDK is never imported.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip().rstrip("/")
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip() or (
            f"{base}/v1/traces" if base else ""
        )
        self._tracer: Any = None
        self._provider: Any = None
        if not endpoint:
            return
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        # A span leaves as it ends (SimpleSpanProcessor), so it is at the collector before the
        # answer to the request that made it.
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or "demo-sut"})
        )
        self._provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=2)))
        self._tracer = self._provider.get_tracer("demo-sut")
        self._propagator = TraceContextTextMapPropagator()
        self._server_kind = SpanKind.SERVER

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    @contextlib.contextmanager
    def span(
        self, name: str, attributes: Mapping[str, Any], *, incoming: Request | None = None
    ) -> Iterator[Any]:
        """A span (a server span continuing ``incoming``'s ``traceparent``), or ``None`` when off."""
        if self._tracer is None:
            yield None
            return
        if incoming is None:
            with self._tracer.start_as_current_span(name, attributes=dict(attributes)) as span:
                yield span
            return
        context = self._propagator.extract(dict(incoming.headers))
        with self._tracer.start_as_current_span(
            name, context=context, kind=self._server_kind, attributes=dict(attributes)
        ) as span:
            yield span


class Calls:
    """The outgoing calls of one incoming request: one HTTP client, the trajectory header forwarded."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient, tracing: Tracing | None = None) -> None:
        self.settings = settings
        self.client = client
        self.tracing = tracing or Tracing({})

    async def request(self, service: str, method: str, path: str, *, json: Any = None) -> tuple[int, Any]:
        """``(status, parsed JSON body)`` of a call answered below 500 and not rate limited.

        Timeouts, transport errors, 429, 5xx and unreadable bodies raise :class:`ServiceError`.
        """
        tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": service}
        with self.tracing.span(f"execute_tool {service}", {**tool, "http.request.method": method}) as span:
            status, body = await self._request(service, method, path, json=json)
            if span is not None:
                span.set_attribute("http.response.status_code", status)
            return status, body

    async def _request(self, service: str, method: str, path: str, *, json: Any) -> tuple[int, Any]:
        base, token = {
            "okta": (self.settings.okta_url, self.settings.okta_token),
            "slack": (self.settings.slack_url, self.settings.slack_token),
            "jira": (self.settings.jira_url, self.settings.jira_token),
        }[service]
        if base is None:
            raise ServiceError(service, "not_configured")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"SSWS {token}" if service == "okta" else f"Bearer {token}"
        try:
            response = await self.client.request(method, base + path, json=json, headers=headers)
        except httpx.TimeoutException:
            raise ServiceError(service, "timeout") from None
        except httpx.TransportError as exc:
            raise ServiceError(service, "unreachable", detail=type(exc).__name__) from None
        if response.status_code == 429:
            raise ServiceError(service, "rate_limited", 429)
        if response.status_code >= 500:
            raise ServiceError(service, "server_error", response.status_code)
        try:
            body = response.json() if response.content else None
        except ValueError:
            raise ServiceError(service, "unreadable", response.status_code) from None
        return response.status_code, body


@dataclass(slots=True)
class Result:
    """A flow's outcome: the HTTP status this API answers and its JSON body (with ``ok`` and ``message``)."""

    status: int
    body: dict[str, Any]


def _failed(http_status: int, message: str, **fields: Any) -> Result:
    return Result(http_status, {"ok": False, **fields, "message": message})


# ------------------------------------------------------------------------------------------- flows


async def login(calls: Calls, username: str, password: str) -> Result:
    """Okta primary authentication for ``username``."""
    try:
        status, body = await calls.request(
            "okta", "POST", "/authn", json={"username": username, "password": password}
        )
    except ServiceError as exc:
        return _failed(exc.http_status, exc.explain("I could not sign you in."), status="ERROR")
    body = body if isinstance(body, dict) else {}
    outcome = body.get("status")
    user = (((body.get("_embedded") or {}).get("user") or {}).get("profile") or {}).get("login") or username
    if status == 200 and outcome == "SUCCESS":
        signed_in = {"ok": True, "status": "SUCCESS", "user": user, "session_token": body.get("sessionToken")}
        return Result(200, {**signed_in, "message": f"You are signed in as {user}."})
    if status == 200 and outcome == "LOCKED_OUT":
        message = (
            f"I could not sign you in: the account {username} is locked after too many failed attempts. "
            "Ask your Okta administrator to unlock it."
        )
        return _failed(403, message, status="LOCKED_OUT")
    if status == 200 and outcome == "PASSWORD_EXPIRED":
        message = f"The password of {user} has expired: change it in Okta, then sign in with the new one."
        return _failed(403, message, status="PASSWORD_EXPIRED", user=user)
    if status == 401 and body.get("errorCode") == "E0000004":
        message = (
            "The username or password is not right, so I could not sign you in. Check both and try again "
            "(several failures in a row lock the account)."
        )
        return _failed(401, message, status="AUTHENTICATION_FAILED")
    problem = ServiceError(
        "okta", "rejected_credentials" if status == 401 else "refused", status, str(outcome or status)
    )
    return _failed(502, problem.explain("I could not sign you in."), status="ERROR")


async def slack_to_jira(
    calls: Calls, channel: str, text: str | None, requested_by: str | None = None
) -> Result:
    """The latest message of ``channel`` (or ``text``) as a Jira issue, and a reply in the channel."""
    channel = channel.lstrip("#")
    source_ts: str | None = None
    author: str | None = None
    if not text:
        try:
            _, history = await calls.request(
                "slack", "POST", "/conversations.history", json={"channel": channel, "limit": 1}
            )
        except ServiceError as exc:
            return _failed(exc.http_status, exc.explain("no ticket was created."))
        history = history if isinstance(history, dict) else {}
        if not history.get("ok"):
            error = str(history.get("error") or "unknown_error")
            if error == "channel_not_found":
                return _failed(404, f"I could not find the Slack channel #{channel}.")
            problem = ServiceError("slack", "refused", detail=error)
            return _failed(502, problem.explain("no ticket was created."))
        messages = history.get("messages") or []
        if not messages or not str(messages[0].get("text") or "").strip():
            return _failed(422, f"There is no message in #{channel} to turn into a ticket.")
        text = str(messages[0]["text"])
        source_ts, author = messages[0].get("ts"), messages[0].get("user")
    first_line = text.strip().splitlines()[0].strip()
    summary = first_line if len(first_line) <= _SUMMARY_LIMIT else first_line[: _SUMMARY_LIMIT - 1] + "…"
    origin = f"From Slack #{channel}" + (f", message by {author} at {source_ts}" if author else "")
    if requested_by:
        origin += f", requested by {requested_by}"
    fields = {
        "project": {"key": calls.settings.jira_project},
        "summary": summary,
        "description": f"{origin}:\n\n{text.strip()}",
        "issuetype": {"name": "Task"},
        "labels": ["from-slack"],
    }
    try:
        key = await _create_issue(calls, fields)
    except ServiceError as exc:
        if exc.kind == "timeout" or exc.status == 504:
            consequence = (
                "I cannot tell whether the ticket was created; please check Jira before trying again."
            )
        elif exc.kind == "rate_limited":
            consequence = "no ticket was created. Please try again later."
        else:
            consequence = "no ticket was created."
        return _failed(exc.http_status, exc.explain(consequence))
    reply = {"channel": channel, "text": f"Created {key}: {summary}"}
    if source_ts:
        reply["thread_ts"] = source_ts
    message = f"I created {key} from the latest message in #{channel}: {summary}"
    try:
        _, posted = await calls.request("slack", "POST", "/chat.postMessage", json=reply)
        replied = isinstance(posted, dict) and bool(posted.get("ok"))
    except ServiceError:
        replied = False
    message += " I replied in the channel." if replied else f" (I could not post the reply in #{channel}.)"
    return Result(
        201, {"ok": True, "issue_key": key, "summary": summary, "replied": replied, "message": message}
    )


async def _create_issue(calls: Calls, fields: Mapping[str, Any]) -> str:
    """Create the issue and return its key.

    Known defect 2: a create that timed out, or was answered 504, is sent once more without
    looking for the first one, which may have landed. Known defect 1: a 429 is not retried.
    """
    for attempt in (1, 2):
        try:
            status, body = await calls.request("jira", "POST", "/issue", json={"fields": fields})
        except ServiceError as exc:
            if attempt == 1 and (exc.kind == "timeout" or exc.status == 504):
                continue
            raise
        if status == 201 and isinstance(body, dict) and body.get("key"):
            return str(body["key"])
        if status == 401:
            raise ServiceError("jira", "rejected_credentials", status)
        raise ServiceError("jira", "refused", status, _jira_errors(body) or f"HTTP {status}")
    raise AssertionError("unreachable: the second attempt returns or raises")  # pragma: no cover


def _jira_errors(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    messages = [str(text) for text in body.get("errorMessages") or []]
    messages += [f"{name}: {text}" for name, text in (body.get("errors") or {}).items()]
    return "; ".join(messages)


async def issue_status(calls: Calls, key: str) -> Result:
    """The status of Jira issue ``key``."""
    unknown = f"I cannot tell the status of {key}."
    try:
        status, body = await calls.request("jira", "GET", f"/issue/{key}")
    except ServiceError as exc:
        return _failed(exc.http_status, exc.explain(unknown))
    if status == 404:
        return _failed(404, f"I could not find {key} in Jira.", issue_key=key)
    fields = body.get("fields") if isinstance(body, dict) else None
    if status != 200 or not isinstance(fields, dict):
        problem = ServiceError("jira", "rejected_credentials" if status == 401 else "refused", status)
        return _failed(502, problem.explain(unknown))
    state = (fields.get("status") or {}).get("name", "unknown")
    summary = fields.get("summary") or ""
    message = f"{key} ({summary}) is {state}."
    return Result(
        200, {"ok": True, "issue_key": key, "status": state, "summary": summary, "message": message}
    )


# --------------------------------------------------------------------------------------- assistant

HELP = (
    'Sorry, I did not understand that. I can sign you in ("sign in as alice@example.com with password '
    '..."), turn the latest Slack message of a channel into a Jira ticket ("turn the latest message in '
    '#support into a Jira ticket"), or tell you the status of a ticket ("what\'s the status of OPS-1").'
)


@dataclass(slots=True)
class Session:
    """One conversation: its turns and what later turns may refer to."""

    session_id: str
    turns: list[dict[str, Any]] = field(default_factory=list)
    last_issue_key: str | None = None
    signed_in_user: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "turns": self.turns,
            "last_issue_key": self.last_issue_key,
            "signed_in_user": self.signed_in_user,
        }


async def answer(calls: Calls, session: Session, message: str) -> tuple[str, str, dict[str, Any]]:
    """``(route, answer, data)`` for one message; updates the session's memory."""
    recognition = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "demo",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": MODEL,
        "gen_ai.conversation.id": session.session_id,
        "gen_ai.usage.input_tokens": len(message.split()),
        "gen_ai.usage.output_tokens": 1,  # the route: one label
    }
    with calls.tracing.span(f"chat {MODEL}", recognition):
        login_words = _LOGIN.search(message)
        channel = _CHANNEL.search(message)
        asks_ticket = channel is not None and _TICKET_WORDS.search(message) is not None
        asks_status = _STATUS_WORDS.search(message) is not None
    if login_words is not None:
        password = login_words["password"]
        if password[:1] in "\"'" and password[-1:] == password[:1] and len(password) >= 2:
            password = password[1:-1]
        else:
            password = password.rstrip(".,;!?")
        result = await login(calls, login_words["user"].strip("\"'"), password)
        if result.body["ok"]:
            session.signed_in_user = result.body["user"]
        return "login", result.body["message"], result.body
    if channel is not None and asks_ticket:
        result = await slack_to_jira(calls, channel["channel"], None, session.signed_in_user)
        if result.body["ok"]:
            session.last_issue_key = result.body["issue_key"]
        return "slack_to_jira", result.body["message"], result.body
    if asks_status:
        named = _ISSUE_KEY.search(message)
        key = named.group(0).upper() if named is not None else session.last_issue_key
        if key is None:
            text = 'Which ticket? Give its key, for example "what\'s the status of OPS-1".'
            return "issue_status", text, {"ok": False, "message": text}
        result = await issue_status(calls, key)
        if result.body["ok"]:
            session.last_issue_key = key
        return "issue_status", result.body["message"], result.body
    return "help", HELP, {"ok": False, "message": HELP}  # nothing asked for was done


def _without_password(message: str) -> str:
    found = _LOGIN.search(message)
    if found is None:
        return message
    return message[: found.start("password")] + "[redacted]" + message[found.end("password") :]


# ------------------------------------------------------------------------------------------ the app


def create_app(env: Mapping[str, str]) -> Starlette:
    """The ASGI app, configured from ``env`` (see the module docstring)."""
    settings = Settings.from_env(env)
    tracing = Tracing(env)
    sessions: OrderedDict[str, Session] = OrderedDict()

    def served(request: Request, route: str) -> Any:
        """The request's server span (continuing its ``traceparent``), or nothing when not tracing."""
        return tracing.span(
            f"{request.method} {route}",
            {"http.request.method": request.method, "http.route": route},
            incoming=request,
        )

    def calls_for(request: Request) -> httpx.AsyncClient:
        trajectory = request.headers.get(TRAJECTORY_HEADER)
        return httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout_s),
            headers={TRAJECTORY_HEADER: trajectory} if trajectory else None,
        )

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def api_login(request: Request) -> Response:
        body = await _json_object(request)
        if body is None or not _text(body, "username") or not _text(body, "password"):
            return _bad_request('send {"username": "...", "password": "..."}')
        async with calls_for(request) as client:
            with served(request, "/api/login"):
                result = await login(Calls(settings, client, tracing), body["username"], body["password"])
        return JSONResponse(result.body, status_code=result.status)

    async def api_slack_to_jira(request: Request) -> Response:
        body = await _json_object(request)
        if body is None or not _text(body, "channel") or not isinstance(body.get("text", ""), str | None):
            return _bad_request('send {"channel": "support"} and optionally "text"')
        async with calls_for(request) as client:
            with served(request, "/api/slack-to-jira"):
                result = await slack_to_jira(
                    Calls(settings, client, tracing), body["channel"], body.get("text")
                )
        return JSONResponse(result.body, status_code=result.status)

    def _new_session_id(request: Request) -> str:
        # A caller that names its trajectory gets a session id derived from it, so a replayed
        # trajectory sees the same id (seeded runs compare equal); others get a random one.
        trajectory = request.headers.get("x-orchestrate-trajectory")
        if trajectory:
            return hashlib.sha256(f"session:{trajectory}".encode()).hexdigest()[:32]
        return uuid.uuid4().hex

    async def assistant_message(request: Request) -> Response:
        body = await _json_object(request)
        if body is None or not _text(body, "message"):
            return _bad_request('send {"message": "...", "session_id": "..."} (session_id is optional)')
        given = body.get("session_id")
        if given is not None and (not isinstance(given, str) or not _SESSION_ID.fullmatch(given)):
            return _bad_request(
                "session_id is 1-128 letters, digits, _ or -; leave it out to start a session"
            )
        session_id = given or _new_session_id(request)
        session = sessions.pop(session_id, None) or Session(session_id)
        sessions[session_id] = session
        while len(sessions) > MAX_SESSIONS:
            sessions.popitem(last=False)
        agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "demo-assistant"}
        async with calls_for(request) as client:
            with (
                served(request, "/api/assistant/message"),
                tracing.span("invoke_agent demo-assistant", agent),
            ):
                route, text, data = await answer(Calls(settings, client, tracing), session, body["message"])
        session.turns.append(
            {
                "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "message": _without_password(body["message"]),
                "answer": text,
                "route": route,
                "ok": bool(data.get("ok")),
            }
        )
        return JSONResponse({"session_id": session_id, "answer": text, "data": data, "route": route})

    async def assistant_session(request: Request) -> Response:
        session = sessions.get(request.path_params["session_id"])
        if session is None:
            return JSONResponse({"ok": False, "message": "No such session."}, status_code=404)
        return JSONResponse(session.view())

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/api/login", api_login, methods=["POST"]),
            Route("/api/slack-to-jira", api_slack_to_jira, methods=["POST"]),
            Route("/api/assistant/message", assistant_message, methods=["POST"]),
            Route("/api/assistant/session/{session_id}", assistant_session),
        ]
    )


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _text(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    return isinstance(value, str) and bool(value.strip())


def _bad_request(fix: str) -> Response:
    return JSONResponse({"ok": False, "message": f"Bad request: {fix}."}, status_code=400)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the app on 127.0.0.1 (``--port``, default ``$PORT`` or 0: the OS picks)."""
    parser = argparse.ArgumentParser(description="Demo system under test (Okta, Slack and Jira flows).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "0")),
        help="port to listen on; 0 (the default unless $PORT is set) lets the OS pick one",
    )
    args = parser.parse_args(argv)
    try:
        application = create_app(os.environ)
    except ValueError as exc:
        print(f"sut.py: {exc}", file=sys.stderr)
        return 2
    # IPPROTO_TCP (not 0) lets asyncio switch Nagle off on accepted connections; without it every
    # request after the first on a kept-alive connection waits for a delayed ACK (about 40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(f"sut.py: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    sock.listen(128)  # connections made from now on wait in the backlog until the server accepts them
    print(f"Demo SUT on http://{args.host}:{port}", flush=True)
    config = uvicorn.Config(application, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
else:
    app = create_app(os.environ)
