"""One live twin: its definition plus its own state, chaos engine, journal and route table.

A :class:`TwinRuntime` is what the ASGI app serves and the admin API changes. Several runtimes
of the same definition never share anything, so parallel slots stay isolated.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from starlette.datastructures import Headers
from starlette.routing import compile_path

from orchestrator.errors import UsageError
from orchestrator.policy.chaos import ChaosConfig
from orchestrator.twins._body import DEFAULT_MAX_BODY_BYTES
from orchestrator.twins._chaos import ChaosEngine, resolve_chaos_profile
from orchestrator.twins._definition import RouteEntry, TwinDefinition
from orchestrator.twins._journal import Journal
from orchestrator.twins._seed import check_seed_data, merge_seed
from orchestrator.twins._state import TwinState

__all__ = ["AuthOutcome", "AuthResult", "TwinRuntime"]

AuthOutcome = Literal["none", "valid", "missing", "invalid", "expired"]


@dataclass(frozen=True, slots=True)
class AuthResult:
    """How a request's credentials fared; ``token`` is kept only to redact it from summaries."""

    outcome: AuthOutcome
    principal: str | None = None
    token: str | None = None


_NO_AUTH = AuthResult("none")
_MISSING = AuthResult("missing")


@dataclass(frozen=True, slots=True)
class _CompiledRoute:
    regex: re.Pattern[str]
    convertors: dict[str, Any]
    entry: RouteEntry


class TwinRuntime:
    """A live twin (see the module docstring). Thread-safe where the admin API needs it."""

    def __init__(
        self,
        definition: TwinDefinition,
        *,
        seed: int | None = None,
        chaos: ChaosConfig | None = None,
        chaos_profile: str | None = None,
        profiles: Mapping[str, ChaosConfig] | None = None,
        data: Any = None,
        data_source: Path | str | None = None,
        journal_limit: int = 20_000,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if max_body_bytes < 1:
            raise UsageError(f"max_body_bytes must be at least 1 (got {max_body_bytes})")
        self.definition = definition
        self.max_body_bytes = max_body_bytes
        """Request bodies over this many bytes are refused with 413 and never stored."""
        manifest = definition.manifest
        self.name = manifest.name
        self.profiles: dict[str, ChaosConfig] = dict(profiles or {})
        if chaos is None and chaos_profile is not None:
            chaos = resolve_chaos_profile(chaos_profile, self.profiles)
        self.chaos = ChaosEngine(
            twin=manifest.name,
            supported=frozenset(manifest.chaos.modes),
            route_ids=definition.route_ids(),
            seed=seed,
            config=chaos,
            profile=chaos_profile,
        )
        self.state = TwinState({name: spec.id_field for name, spec in manifest.entities.items()})
        self.journal = Journal(journal_limit)
        self.stopping = asyncio.Event()
        """Set when the server stops, so held requests (latency, timeout) end at once."""
        self._routes: dict[str, list[_CompiledRoute]] = {}
        for entry in definition.routes:
            regex, _, convertors = compile_path(entry.path)
            for method in entry.methods:
                self._routes.setdefault(method, []).append(_CompiledRoute(regex, convertors, entry))
        auth = manifest.auth
        self._auth_type = auth.type
        self._auth_header = auth.header_name
        self._schemes = frozenset(scheme.lower() for scheme in auth.schemes)
        self._principals = auth.principals()
        self._expired = frozenset(auth.expired_tokens)
        self._accept_any = auth.accept_any_token
        self.sensitive_headers = frozenset({self._auth_header.lower()})
        self.reset(data, source=data_source)

    # --------------------------------------------------------------------------------- admin side

    def check_data(
        self, data: Any, *, source: Path | str | None = "reset data"
    ) -> dict[str, list[dict[str, Any]]]:
        """Validate seed data for this twin (a :class:`ConfigError` names what is wrong)."""
        manifest = self.definition.manifest
        return check_seed_data(
            data, manifest.entities, twin=self.name, source=source, checks=self.definition.seed_checks
        )

    def reset(
        self, data: Any = None, *, seed: int | None = None, source: Path | str | None = "reset data"
    ) -> int:
        """Reload the default seed plus ``data``, clear the journal, restart the RNG; return the seed."""
        checked = self.check_data(data, source=source)
        self.state.reset(merge_seed(self.definition.seed, checked))
        self.journal.clear()
        return self.chaos.reseed(seed)

    def set_chaos(self, config: ChaosConfig | None, *, profile: str | None = None) -> None:
        self.chaos.configure(config, profile=profile)

    def set_chaos_profile(self, name: str | None) -> None:
        """Switch to the named profile (``None``: chaos off)."""
        if name is None:
            self.chaos.configure(None)
            return
        self.chaos.configure(resolve_chaos_profile(name, self.profiles), profile=name)

    def info(self) -> dict[str, Any]:
        manifest = self.definition.manifest
        return {
            "name": self.name,
            "version": manifest.version,
            "description": manifest.description,
            "base_path": manifest.base_path,
            "auth": manifest.auth.type,
            "entities": list(manifest.entities),
            "routes": [
                {
                    "id": entry.id,
                    "methods": list(entry.methods),
                    "path": manifest.base_path + entry.path,
                    "read_only": entry.read_only,
                }
                for entry in self.definition.routes
            ],
        }

    # ------------------------------------------------------------------------------- request side

    def match(self, method: str, path: str) -> tuple[RouteEntry, dict[str, Any]] | None:
        """The route serving ``method path`` and its converted parameters, or ``None``."""
        base = self.definition.manifest.base_path
        if base:
            if not path.startswith(base):
                return None
            path = path[len(base) :] or "/"
        for route in self._routes.get(method, ()):
            found = route.regex.match(path)
            if found is not None:
                params = {
                    name: route.convertors[name].convert(value) for name, value in found.groupdict().items()
                }
                return route.entry, params
        return None

    def authenticate(self, headers: Headers) -> AuthResult:
        """Check a request's credentials against the twin's auth config."""
        if self._auth_type == "none":
            return _NO_AUTH
        raw = headers.get(self._auth_header)
        if not raw or not raw.strip():
            return _MISSING
        if self._auth_type == "bearer":
            scheme, _, token = raw.strip().partition(" ")
            token = token.strip()
            if scheme.lower() not in self._schemes or not token:
                return AuthResult("invalid", token=token or raw)
        else:
            token = raw.strip()
        if token in self._expired:
            return AuthResult("expired", token=token)
        principal = self._principals.get(token)
        if principal is not None:
            return AuthResult("valid", principal, token)
        if self._accept_any:
            return AuthResult("valid", "twin-user", token)
        return AuthResult("invalid", token=token)

    def known_tokens(self) -> list[str]:
        """Every token in the twin's config (redacted wherever it shows up)."""
        return [*self._principals, *self._expired]
