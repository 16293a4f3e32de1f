"""How we speak to an assistant HTTP API: where a message goes, and how its answer is read.

The improvement loop (``[assistant]``) asks an assistant questions in one session per scenario
and reads the session back after each; both use :class:`AssistantEndpoints` (``message_path``,
``session_path``) and :class:`~orchestrator.config.AssistantFields` (a JSONPath per part of an
answer). :func:`read_reply` turns an answer's JSON into an :class:`AssistantReply`, so every
caller reads ``answer``, ``session_id``, ``data``, ``route``, ``sources`` and
``capability_missing`` the same way; :func:`resolve_headers` fills ``{env.NAME}`` in configured
headers and returns the values to redact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import jsonpath

from orchestrator._service_config import AssistantEndpoints, AssistantFields, header_variables
from orchestrator.errors import ConfigError

__all__ = [
    "REDACTED",
    "AssistantReply",
    "message_request",
    "read_reply",
    "resolve_headers",
    "scrub_secrets",
    "session_request",
]

REDACTED = "[redacted]"


@dataclass(frozen=True)
class AssistantReply:
    """The parts of an answer, read through the field mapping; ``None`` where the answer has none."""

    text: str | None
    session_id: str | None
    data: Any
    route: str | None
    sources: list[Any] = field(default_factory=list)
    capability_missing: bool = False


def message_request(
    endpoints: AssistantEndpoints, message: str, session_id: str | None
) -> tuple[str, str, dict[str, Any]]:
    """The method, path and JSON body that send ``message`` (in ``session_id``'s session, if any)."""
    method, _, path = endpoints.message_path.partition(" ")
    body: dict[str, Any] = {"message": message}
    if session_id is not None:
        body = {"session_id": session_id, **body}
    return method, path, body


def session_request(endpoints: AssistantEndpoints, session_id: str) -> tuple[str, str]:
    """The method and path that read a session back (``{session_id}`` filled, URL-quoted)."""
    method, _, path = endpoints.session_path.partition(" ")
    return method, path.replace("{session_id}", quote(session_id, safe=""))


def _first(path: str, document: Any, name: str, section: str) -> Any:
    try:
        matches = jsonpath.findall(path, document)
    except jsonpath.JSONPathError as exc:
        raise ConfigError(
            None, f"[{section}].fields.{name}", f"{path!r} is not a JSONPath ({exc})", f"write e.g. $.{name}"
        ) from None
    return matches[0] if matches else None


def read_reply(document: Any, fields: AssistantFields, *, section: str = "assistant") -> AssistantReply:
    """Read an answer's JSON through ``fields``; a field path that is not a JSONPath is a ConfigError."""
    session = _first(fields.session_id, document, "session_id", section)
    text = _first(fields.answer, document, "answer", section)
    route = _first(fields.route, document, "route", section)
    sources = _first(fields.sources, document, "sources", section)
    missing = _first(fields.capability_missing, document, "capability_missing", section)
    if text is not None and not isinstance(text, str):
        text = json.dumps(text, ensure_ascii=False)
    return AssistantReply(
        text=text,
        session_id=str(session) if isinstance(session, str | int) and not isinstance(session, bool) else None,
        data=_first(fields.data, document, "data", section),
        route=str(route) if route is not None else None,
        sources=list(sources) if isinstance(sources, list) else [] if sources is None else [sources],
        capability_missing=missing is True,
    )


def resolve_headers(
    headers: Mapping[str, str], env: Mapping[str, str], *, section: str = "assistant"
) -> tuple[dict[str, str], list[str]]:
    """Headers with ``{env.NAME}`` filled from ``env``, and the filled-in values (to redact).

    A variable that is not set is a :class:`ConfigError` naming it and the header.
    """
    resolved: dict[str, str] = {}
    secrets: list[str] = []
    for name, template in headers.items():
        value = template
        for variable in header_variables(template):
            secret = env.get(variable)
            if not secret:
                raise ConfigError(
                    None,
                    f"[{section}].headers.{name}",
                    f"needs the environment variable {variable}, which is not set",
                    f"export {variable}=... before running",
                )
            secrets.append(secret)
            value = value.replace(f"{{env.{variable}}}", secret)
        resolved[name] = value
    return resolved, secrets


def scrub_secrets(value: Any, secrets: Sequence[str]) -> Any:
    """A copy of a JSON value with every occurrence of each secret in its strings (keys too) replaced.

    Applied to an answer as soon as it arrives, so nothing derived from it (a check's detail, a
    shortened summary, an outcome handed to the analyst or a model) can carry a token the
    assistant echoed, or a part of one.
    """
    tokens = [secret for secret in secrets if secret]
    if not tokens:
        return value
    if isinstance(value, str):
        for token in tokens:
            value = value.replace(token, REDACTED)
        return value
    if isinstance(value, Mapping):
        return {scrub_secrets(key, tokens): scrub_secrets(item, tokens) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub_secrets(item, tokens) for item in value]
    return value
