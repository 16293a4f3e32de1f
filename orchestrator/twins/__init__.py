"""Digital twins: fake, stateful HTTP services with seeded chaos, standing in for third-party APIs.

A twin is a folder (``twin.json`` plus ``routes.yaml`` and/or a Python module, optionally seed
data) served by a Starlette app under uvicorn on loopback, with an admin API under ``/__twin/``
(reset, state, journal, chaos). Shipped twins: ``github``, ``gitlab``, ``openai``, ``slack``,
``jira``, ``okta``; projects add theirs under ``.scenarios/twins/<service>/`` and plugins through
the ``orchestrate.twins`` entry point group.

::

    from orchestrator.twins import serve_twins

    with serve_twins(["github"], seed=7, chaos_profile="gentle") as twins:
        issues = httpx.get(f"{twins['github']}/repos/acme/app/issues",
                           headers={"Authorization": "Bearer ghp_twin_valid"}).json()
"""

from __future__ import annotations

from orchestrator.twins._app import build_twin_app
from orchestrator.twins._body import DEFAULT_MAX_BODY_BYTES
from orchestrator.twins._chaos import ChaosEngine, load_chaos_profiles, resolve_chaos_profile
from orchestrator.twins._client import TwinAdmin
from orchestrator.twins._connect import ClientHint, client_hint
from orchestrator.twins._declarative import paginate
from orchestrator.twins._definition import RouteEntry, TwinDefinition, load_twin_definition
from orchestrator.twins._discovery import (
    ENTRY_POINT_GROUP,
    SHIPPED_DIR,
    TwinSource,
    discover_twins,
    find_twin,
    load_twin,
    project_twins_dir,
)
from orchestrator.twins._handler import Handler, TwinCall, TwinReply
from orchestrator.twins._journal import (
    FALLBACK_TRAJECTORY_HEADER,
    REDACTED,
    TRAJECTORY_HEADER,
    Journal,
    redact_data,
    summarize,
)
from orchestrator.twins._manifest import AuthSpec, EntitySpec, TwinManifest
from orchestrator.twins._python_routes import PyRoute, TwinRoutes
from orchestrator.twins._routespec import PaginationSpec
from orchestrator.twins._runtime import TwinRuntime
from orchestrator.twins._seed import SeedDataError, check_seed_data
from orchestrator.twins._server import RunningTwins, TwinEndpoint, TwinServer, serve_twins
from orchestrator.twins._state import StateView, TwinState

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ENTRY_POINT_GROUP",
    "FALLBACK_TRAJECTORY_HEADER",
    "REDACTED",
    "SHIPPED_DIR",
    "TRAJECTORY_HEADER",
    "AuthSpec",
    "ChaosEngine",
    "ClientHint",
    "EntitySpec",
    "Handler",
    "Journal",
    "PaginationSpec",
    "PyRoute",
    "RouteEntry",
    "RunningTwins",
    "SeedDataError",
    "StateView",
    "TwinAdmin",
    "TwinCall",
    "TwinDefinition",
    "TwinEndpoint",
    "TwinManifest",
    "TwinReply",
    "TwinRoutes",
    "TwinRuntime",
    "TwinServer",
    "TwinSource",
    "TwinState",
    "build_twin_app",
    "check_seed_data",
    "client_hint",
    "discover_twins",
    "find_twin",
    "load_chaos_profiles",
    "load_twin",
    "load_twin_definition",
    "paginate",
    "project_twins_dir",
    "redact_data",
    "resolve_chaos_profile",
    "serve_twins",
    "summarize",
]
