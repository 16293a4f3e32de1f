"""The admin API of a twin, under ``/__twin/``. Admin calls are neither journaled nor chaos-rolled.

==========================  ==============================================================
``GET  /__twin/``           name, version, base path, auth type, entities and routes
``GET  /__twin/health``     ``{"ok": true}`` once the twin serves
``POST /__twin/reset``      ``{"data": {...}, "seed": 7}`` (both optional): reload the default
                            seed plus ``data``, clear the journal, restart the RNG
``GET  /__twin/state``      the whole state (``?entity=issues`` for one entity), secret-looking
                            fields (passwords, tokens) redacted
``GET  /__twin/journal``    entries in arrival order, ``?since=SEQ&trajectory=ID&limit=N``;
                            ``next_seq``: entries below it are final (poll with since=next_seq-1)
``GET  /__twin/chaos``      the active chaos: seed, rolls, profile, config, supported modes
``PUT  /__twin/chaos``      ``{"profile": "hostile"}`` or ``{"config": {...} | null}``, optional
                            ``"seed"``
==========================  ==============================================================

Bad input answers 422 with ``{"error": ..., "message": ...}`` naming the field and the fix.

Admin writes (``POST /reset``, ``PUT /chaos``) can wipe a twin's state and journal, so a web
page must not be able to make them: any page may send a "simple" cross-origin request (a
``no-cors`` fetch, a form post) to a loopback port. A write therefore needs
``Content-Type: application/json`` (a type no simple request can carry; 415 otherwise), and is
refused with 403 when its ``Origin`` header names any origin but the twin's own. Bodies are
capped like the twin's own requests (413).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orchestrator.errors import OrchestrateError
from orchestrator.policy.chaos import ChaosConfig
from orchestrator.twins._body import BodyTooLargeError, read_capped_body, too_large
from orchestrator.twins._journal import redact_data
from orchestrator.twins._runtime import TwinRuntime
from orchestrator.validation import config_error_from_validation

__all__ = ["admin_routes"]


def admin_routes(runtime: TwinRuntime) -> list[Route]:
    """The admin endpoints of ``runtime``."""

    async def info(request: Request) -> Response:
        return JSONResponse(runtime.info())

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "twin": runtime.name})

    async def reset(request: Request) -> Response:
        document = await _json_object(request, runtime.max_body_bytes)
        if isinstance(document, Response):
            return document
        seed = document.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            return _problem("invalid_seed", 'seed: must be a whole number, for example {"seed": 7}')
        try:
            used = runtime.reset(document.get("data"), seed=seed, source=None)
        except OrchestrateError as exc:
            return _problem("invalid_data", str(exc))
        return JSONResponse({"ok": True, "seed": used, "state": runtime.state.counts()})

    async def state(request: Request) -> Response:
        dump = redact_data(runtime.state.dump(), runtime.known_tokens())
        entity = request.query_params.get("entity")
        if entity is None:
            return JSONResponse(dump)
        if entity not in dump:
            return _problem(
                "unknown_entity", f"entity: {entity!r} is not one of {', '.join(dump) or 'none'}", 404
            )
        return JSONResponse(dump[entity])

    async def journal(request: Request) -> Response:
        params = request.query_params
        try:
            since = int(params.get("since", "0"))
            limit = int(params["limit"]) if "limit" in params else None
        except ValueError:
            return _problem(
                "invalid_query", "since and limit must be whole numbers, for example ?since=10&limit=100"
            )
        if limit is not None and limit < 0:
            return _problem("invalid_query", f"limit must be 0 or more (got {limit}), for example ?limit=100")
        entries = runtime.journal.entries(since=since, trajectory=params.get("trajectory"), limit=limit)
        return JSONResponse(
            {
                "twin": runtime.name,
                "entries": entries,
                "next_seq": runtime.journal.next_seq,
                "dropped": runtime.journal.dropped,
            }
        )

    async def chaos(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(runtime.chaos.describe())
        document = await _json_object(request, runtime.max_body_bytes)
        if isinstance(document, Response):
            return document
        # Everything is checked before anything changes: a refused request leaves chaos as it was.
        seed = document.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            return _problem("invalid_seed", 'seed: must be a whole number, for example {"seed": 7}')
        if "profile" not in document and "config" not in document and "seed" not in document:
            return _problem(
                "invalid_chaos",
                'send {"profile": "hostile"}, {"config": {...}} or {"config": null}, optionally with "seed"',
            )
        profile = document.get("profile")
        if profile is not None and not isinstance(profile, str):
            return _problem(
                "invalid_chaos",
                f"profile: must be a profile name or null (got {type(profile).__name__}), "
                'for example {"profile": "hostile"}',
            )
        try:
            if "profile" in document:
                runtime.set_chaos_profile(profile)
            elif "config" in document:
                config = document["config"]
                runtime.set_chaos(None if config is None else ChaosConfig.model_validate(config))
        except ValidationError as exc:
            error = config_error_from_validation(None, exc, model=ChaosConfig, syntax="json")
            return _problem("invalid_chaos", f"config.{error.field}: {error.problem}. Fix: {error.fix}")
        except OrchestrateError as exc:
            return _problem("invalid_chaos", str(exc))
        if seed is not None:
            runtime.chaos.reseed(seed)
        return JSONResponse(runtime.chaos.describe())

    return [
        Route("/", info, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/state", state, methods=["GET"]),
        Route("/journal", journal, methods=["GET"]),
        Route("/chaos", chaos, methods=["GET", "PUT"]),
    ]


async def _json_object(request: Request, max_body_bytes: int) -> dict[str, Any] | Response:
    refused = _refused_write(request)
    if refused is not None:
        return refused
    try:
        raw = await read_capped_body(request.receive, request.headers, max_body_bytes)
    except BodyTooLargeError as exc:
        return JSONResponse(too_large(exc.limit), status_code=413, headers={"Connection": "close"})
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        return _problem("invalid_json", f"the body is not valid JSON ({exc.msg} at line {exc.lineno})", 400)
    except RecursionError:
        return _problem("invalid_json", "the body is JSON nested too deeply", 400)
    if not isinstance(document, dict):
        return _problem("invalid_json", 'the body must be a JSON object, for example {"seed": 7}', 400)
    return document


def _refused_write(request: Request) -> Response | None:
    """403 for a write from another origin, 415 for one that is not JSON; ``None`` if acceptable."""
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/").lower() not in _own_origins(request):
        return _problem(
            "cross_origin",
            f"admin writes are refused from another origin (Origin: {origin[:100]}); call the admin "
            "API from a script or a test (TwinAdmin), not from a web page",
            403,
        )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return _problem(
            "unsupported_media_type",
            "admin writes need Content-Type: application/json (got "
            f"{content_type or 'none'}); send the body as JSON, for example with httpx's json=",
            415,
        )
    return None


def _own_origins(request: Request) -> set[str]:
    """The origins a page served by this twin itself would send: its socket address, or the Host."""
    scheme = request.url.scheme
    server = request.scope.get("server")
    if server is None:
        return {f"{scheme}://{request.headers.get('host', '')}".lower()}
    host, port = server[0], server[1]
    names = {f"[{host}]" if ":" in host else host, "localhost"}
    return {f"{scheme}://{name}:{port}".lower() for name in names}


def _problem(error: str, message: str, status: int = 422) -> Response:
    return JSONResponse({"error": error, "message": message}, status_code=status)
