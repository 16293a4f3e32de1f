"""The config sections of services we test and of the improvement loop's actors.

``[targets.NAME]`` (the UI gate), ``[sut]`` (scenario runs) and ``[assistant]`` (the improvement
loop) each describe a service: how it is started and when it is up (:class:`ServiceSection`);
``[sut]`` and ``[assistant]`` also where an assistant API takes messages and how its answers
read (:class:`AssistantEndpoints`). ``[coder]`` and ``[analyst]`` set the loop's two actors.
Re-exported by :mod:`orchestrator.config`, where every section is documented for users.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from orchestrator.userfiles import StrictModel

__all__ = [
    "AnalystSection",
    "AssistantEndpoints",
    "AssistantFields",
    "AssistantSection",
    "CoderSection",
    "RaySection",
    "ServiceSection",
    "SutSection",
    "TargetSection",
    "TelemetrySection",
    "endpoint",
    "header_variables",
    "web_url",
]


def web_url(value: str | None, *, what: str) -> str | None:
    """An absolute http(s) URL with a host and no credentials (``{port}`` may stand for the port)."""
    if value is None:
        return None
    parts = urlsplit(value.replace("{port}", "1"))
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{what} must not carry credentials (user:password@): give the token in token_env")
    return value


class ServiceSection(StrictModel):
    """What starts a service we test and tells when it is up; shared by ``[targets.NAME]`` and ``[sut]``.

    With a ``start_command`` the service is started, ``health_path`` is polled until it answers,
    and it is always stopped after. A ``{port}`` in ``base_url`` or the command is replaced by a
    free port the OS picks (also given to the command as ``$PORT``), so runs never collide on a
    fixed port.
    """

    start_command: list[str] = Field(default_factory=list, description="argv that starts it; no shell.")
    cwd: Path | None = Field(default=None, description="Working directory of the start command.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment for the command.")
    env_passthrough: list[str] = Field(
        default_factory=list, description="Secret-looking variables (tokens, keys) the command may still see."
    )
    health_path: str = Field(default="/", description="Path that answers 2xx/3xx once it is up.")
    start_timeout_s: float = Field(default=30.0, gt=0, le=3600, description="Longest wait for health.")


_BASE_URL_DOC = "Where the service answers; {port} stands for the free port chosen for it."


class TargetSection(ServiceSection):
    """``[targets.NAME]``: something ``orchestrate test --target NAME`` exercises."""

    driver: str = Field(default="web", description="web, mac, command or a plugin driver's name.")
    # Declared after driver, so its check knows which driver it is for.
    base_url: str | None = Field(
        default=None, examples=["http://127.0.0.1:{port}"], description=_BASE_URL_DOC
    )
    app_name: str | None = Field(default=None, description="The macOS app's name (mac driver).")
    profile: str | None = Field(default=None, description="Profile used when --profile is not given.")

    @field_validator("base_url")
    @classmethod
    def _web_base_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        # The web driver needs a URL; a plugin driver may read base_url its own way (a directory).
        return web_url(value, what="base_url") if info.data.get("driver") == "web" else value


def endpoint(value: str) -> str:
    """``METHOD /path`` (the method defaults to GET when only a path is given)."""
    method, _, path = value.strip().rpartition(" ")
    method = (method or "GET").upper()
    if method not in ("GET", "POST", "PUT", "PATCH") or not path.startswith("/"):
        raise ValueError("must be a method and a path, e.g. POST /api/assistant/message")
    return f"{method} {path}"


class AssistantFields(StrictModel):
    """Where the assistant's answer keeps each thing: a JSONPath into its JSON response."""

    answer: str = Field(default="$.answer", description="The answer's text.")
    session_id: str = Field(default="$.session_id", description="The session id to reuse.")
    data: str = Field(default="$.data", description="Structured data of the answer.")
    route: str = Field(default="$.route", description="The route or capability that answered.")
    sources: str = Field(default="$.sources", description="Evidence the answer cites.")
    capability_missing: str = Field(
        default="$.capability_missing", description="True when the answer says it lacks the capability."
    )


class AssistantEndpoints(StrictModel):
    """Where an assistant HTTP API takes a message and shows a session, and how its answer reads."""

    message_path: Annotated[str, AfterValidator(endpoint)] = Field(
        default="POST /api/assistant/message", description="Where a message is sent: {session_id?, message}."
    )
    session_path: Annotated[str, AfterValidator(endpoint)] = Field(
        default="GET /api/assistant/session/{session_id}", description="Where a session is read back."
    )
    fields: AssistantFields = AssistantFields()


class SutSection(AssistantEndpoints, ServiceSection):
    """``[sut]``: the system under test of ``orchestrate run``.

    Either a service (``base_url``, optionally started by ``start_command``; each slot of a
    parallel run starts its own on its own port) or ``app = "module:attr"``, an ASGI app (or a
    factory taking the environment mapping) served in process per slot on a free port. ``env``
    values may name twins: ``{twins.jira.url}`` and ``{twins.jira.token}`` become the slot's
    own twin URL and a valid token.
    """

    base_url: str | None = Field(
        default=None, examples=["http://127.0.0.1:{port}"], description=_BASE_URL_DOC
    )
    app: str | None = Field(
        default=None, examples=["myapp.main:app"], description="An ASGI app or factory, module:attr."
    )
    health_path: str = Field(default="/health", description="Path that answers 2xx/3xx once it is up.")
    request_timeout_s: float = Field(default=30.0, gt=0, le=3600, description="Longest wait for one answer.")

    @field_validator("app")
    @classmethod
    def _module_attr(cls, value: str | None) -> str | None:
        if value is not None and (value.count(":") != 1 or not all(value.split(":"))):
            raise ValueError('must be "module:attribute", e.g. "myapp.main:app"')
        return value

    @field_validator("base_url")
    @classmethod
    def _sut_url(cls, value: str | None) -> str | None:
        return web_url(value, what="base_url")


_HEADER_VARIABLE = re.compile(r"\{env\.([^{}]*)\}")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def header_variables(value: str) -> list[str]:
    """The environment variables a header value names as ``{env.NAME}``, in order."""
    return _HEADER_VARIABLE.findall(value)


def _headers(value: dict[str, str]) -> dict[str, str]:
    for name, text in value.items():
        for variable in header_variables(text):
            if not _VARIABLE_NAME.fullmatch(variable):
                raise ValueError(
                    f"header {name!r} names {{env.{variable}}}, which is not a variable name; "
                    'write e.g. Authorization = "Bearer {env.ASSISTANT_TOKEN}"'
                )
    return value


def _pattern(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(
                f'is not a regular expression ({exc}); e.g. "(?i)I can\'t do that yet"'
            ) from None
    return value


class AssistantSection(AssistantEndpoints, ServiceSection):
    """``[assistant]``: the assistant HTTP API that ``orchestrate case | scenario | pack | pack-loop`` ask.

    ``base_url`` is where it answers; with a ``start_command`` it is started (on a free port when
    ``{port}`` is used), waited for on ``health_path``, restarted after each coder run of the
    loop, and always stopped. ``headers`` go with every request; a value may name environment
    variables as ``{env.NAME}`` (a token), read when the run starts and redacted from every
    artifact, event and log. An answer signals a missing capability through the
    ``fields.capability_missing`` field or, when set, text matching ``capability_missing_pattern``.
    """

    base_url: str | None = Field(
        default=None, examples=["http://127.0.0.1:{port}"], description=_BASE_URL_DOC
    )
    health_path: str = Field(default="/health", description="Path that answers 2xx/3xx once it is up.")
    timeout_s: float = Field(default=60.0, gt=0, le=3600, description="Longest wait for one answer.")
    headers: Annotated[dict[str, str], AfterValidator(_headers)] = Field(
        default_factory=dict,
        examples=[{"Authorization": "Bearer {env.ASSISTANT_TOKEN}"}],
        description="Sent with every request; {env.NAME} is read from the environment and redacted.",
    )
    capability_missing_pattern: Annotated[str | None, AfterValidator(_pattern)] = Field(
        default=None, description="A regular expression: answer text that says a capability is missing."
    )

    @field_validator("base_url")
    @classmethod
    def _assistant_url(cls, value: str | None) -> str | None:
        return web_url(value, what="base_url")


class CoderSection(StrictModel):
    """``[coder]``: the coding agent the improvement loop runs on the analyst's backlog.

    ``command`` is an argv (no shell) run in ``repo``; ``{backlog}``, ``{analysis}``, ``{repo}``
    and ``{iteration}`` in it are replaced by the backlog and analysis files of the iteration, the
    repository and the iteration's number. Secret-looking variables are kept from it unless
    listed in ``env_passthrough`` (a coding agent's own API key).
    """

    command: list[str] = Field(
        default_factory=list,
        examples=[["python", "coder.py", "--backlog", "{backlog}", "--repo", "{repo}"]],
        description="argv of the coding agent; empty means the loop runs no coder.",
    )
    repo: Path | None = Field(
        default=None, description="Where the coder works. Default: [assistant] cwd, else the project root."
    )
    timeout_s: float = Field(default=1800.0, gt=0, le=86_400, description="Longest one coder run may take.")
    allowed_paths: list[str] = Field(
        default_factory=list,
        examples=[["app.py", "capabilities.json"]],
        description="Globs (relative to repo) the coder may change; a change elsewhere stops the loop.",
    )
    env_passthrough: list[str] = Field(
        default_factory=list, description="Secret-looking variables (API keys) the coder may still see."
    )


class AnalystSection(StrictModel):
    """``[analyst]``: how the improvement loop's analyst scores an iteration."""

    mode: Literal["auto", "rules", "llm"] = Field(
        default="auto", description="auto: the [llm] model when one is set, else rules; rules; llm."
    )
    stall_limit: int = Field(
        default=2, ge=0, le=100, description="Coder runs in a row without a gain before the user must decide."
    )


class TelemetrySection(StrictModel):
    """``[telemetry]``: OpenTelemetry export of runs, and intake of the system under test's own spans.

    With ``otlp_endpoint`` (or the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``), every run's events
    are exported as OTLP/HTTP traces following the GenAI semantic conventions, off the hot path:
    a collector that is down never slows or fails a run (what cannot be sent is dropped and
    counted). With ``intake``, a scenario run listens for OTLP/HTTP on loopback and the SUT's own
    spans become events of its trajectories.
    """

    otlp_endpoint: str | None = Field(
        default=None,
        examples=["http://127.0.0.1:4318"],
        description="OTLP/HTTP collector base URL (+ /v1/traces); default: OTEL_EXPORTER_OTLP_ENDPOINT.",
    )
    service_name: str = Field(
        default="orchestrate", min_length=1, description="service.name of exported spans."
    )
    export_timeout_s: float = Field(default=10.0, gt=0, le=600, description="Longest wait for one export.")
    max_queue: int = Field(default=20_000, ge=100, le=10_000_000, description="Spans kept before dropping.")
    intake: bool = Field(default=False, description="Take the SUT's own OTLP spans into its trajectories.")

    @field_validator("otlp_endpoint")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        return web_url(value, what="otlp_endpoint")


class RaySection(StrictModel):
    """``[ray]``: where ``--backend ray`` runs slots (Ray is an optional extra: ``orchestrate[ray]``)."""

    address: str | None = Field(
        default=None,
        examples=["ray://10.0.0.5:10001", "auto"],
        description="Cluster to join; default: a local Ray instance started for the run.",
    )
    num_cpus_per_slot: float = Field(default=1.0, gt=0, le=64, description="CPUs a slot actor reserves.")
