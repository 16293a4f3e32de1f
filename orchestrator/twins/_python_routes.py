"""Python routes: behaviour a ``routes.yaml`` cannot express, written as plain functions.

A twin's ``module`` (named in ``twin.json``) defines ``routes = TwinRoutes()`` and registers
handlers on it::

    from orchestrator.twins import TwinCall, TwinReply, TwinRoutes

    routes = TwinRoutes()

    @routes.post("/v1/chat/completions")
    def chat_completions(call: TwinCall) -> TwinReply:
        return TwinReply(body={"echo": call.body})

    @routes.seed_check
    def rules_compile(data):   # optional: reject bad seed data with a ValueError
        ...

Handlers run on the server's event loop (they may be ``async def``); they must not block.

A route that only reads (the default for ``GET``) is served from a stale snapshot when the
``stale_data`` chaos mode fires; an API whose reads are ``POST`` says so with ``read_only=True``
(Slack's ``conversations.history``), one whose ``GET`` writes with ``read_only=False``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.errors import ConfigError
from orchestrator.twins._handler import Handler

__all__ = ["PyRoute", "SeedCheck", "TwinRoutes", "load_python_routes"]

H = TypeVar("H", bound=Handler)
SeedCheck = Callable[[Mapping[str, list[dict[str, Any]]]], None]
"""Checks a twin's seed data (entity to records); raises ``ValueError`` saying what is wrong."""

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class PyRoute:
    """One Python route: methods, path (relative to the twin's base path), handler, id, auth,
    and whether it only reads the state (then ``stale_data`` chaos may serve it a snapshot)."""

    methods: tuple[str, ...]
    path: str
    handler: Handler
    id: str
    public: bool = False
    read_only: bool = False


class TwinRoutes:
    """The registry a twin module fills with routes (see the module docstring)."""

    def __init__(self) -> None:
        self.routes: list[PyRoute] = []
        self.seed_checks: list[SeedCheck] = []

    def route(
        self,
        methods: str | Sequence[str],
        path: str,
        *,
        id: str | None = None,
        public: bool = False,
        read_only: bool | None = None,
    ) -> Callable[[H], H]:
        """Register the decorated function for ``methods`` on ``path`` (``{param}`` syntax).

        ``id`` names the route in journals and chaos overrides (default: the function's name);
        ``public`` routes skip the twin's auth check; ``read_only`` says the route never changes
        the state (default: when its only method is ``GET``).
        """
        wanted = (methods,) if isinstance(methods, str) else tuple(methods)
        upper = tuple(method.upper() for method in wanted)
        unknown = [method for method in upper if method not in _METHODS]
        if unknown or not upper:
            raise ValueError(f"unsupported HTTP method(s) {unknown or upper}; use {sorted(_METHODS)}")
        if not path.startswith("/"):
            raise ValueError(f"route path {path!r} must start with '/'")

        def register(handler: H) -> H:
            name = id if id is not None else getattr(handler, "__name__", path)
            reads = read_only if read_only is not None else upper == ("GET",)
            self.routes.append(PyRoute(upper, path, handler, name, public, reads))
            return handler

        return register

    def get(
        self, path: str, *, id: str | None = None, public: bool = False, read_only: bool | None = None
    ) -> Callable[[H], H]:
        return self.route("GET", path, id=id, public=public, read_only=read_only)

    def post(
        self, path: str, *, id: str | None = None, public: bool = False, read_only: bool | None = None
    ) -> Callable[[H], H]:
        return self.route("POST", path, id=id, public=public, read_only=read_only)

    def put(
        self, path: str, *, id: str | None = None, public: bool = False, read_only: bool | None = None
    ) -> Callable[[H], H]:
        return self.route("PUT", path, id=id, public=public, read_only=read_only)

    def patch(
        self, path: str, *, id: str | None = None, public: bool = False, read_only: bool | None = None
    ) -> Callable[[H], H]:
        return self.route("PATCH", path, id=id, public=public, read_only=read_only)

    def delete(
        self, path: str, *, id: str | None = None, public: bool = False, read_only: bool | None = None
    ) -> Callable[[H], H]:
        return self.route("DELETE", path, id=id, public=public, read_only=read_only)

    def seed_check(self, check: SeedCheck) -> SeedCheck:
        """Register a check of the twin's seed data, run on every reset before the data is loaded."""
        self.seed_checks.append(check)
        return check


def load_python_routes(reference: str, twin_dir: Path, twin_name: str, manifest_path: Path) -> TwinRoutes:
    """Import a twin module and return its ``routes``.

    ``reference`` ending in ``.py`` is a file relative to ``twin_dir`` (imported under a private
    module name); anything else is a dotted import path.
    """
    try:
        if reference.endswith(".py"):
            module = _import_file(twin_dir / reference, twin_name, manifest_path)
        else:
            module = importlib.import_module(reference)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            manifest_path,
            "module",
            f"{reference!r} could not be imported: {type(exc).__name__}: {exc}",
            "fix the module so it imports cleanly, or name an existing one, "
            'for example "module": "handlers.py"',
        ) from exc
    routes = getattr(module, "routes", None)
    if not isinstance(routes, TwinRoutes):
        raise ConfigError(
            manifest_path,
            "module",
            f"{reference!r} has no `routes` registry",
            "define `routes = TwinRoutes()` at module level (from orchestrator.twins import TwinRoutes) "
            "and register handlers with @routes.get(...) / @routes.post(...)",
        )
    if not routes.routes:
        raise ConfigError(
            manifest_path,
            "module",
            f"{reference!r} registers no routes",
            'add at least one handler, for example @routes.get("/items")',
        )
    return routes


def _import_file(path: Path, twin_name: str, manifest_path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(
            manifest_path,
            "module",
            f"names {path.name!r}, which is not a file in {path.parent}",
            'put the module next to twin.json, for example "module": "handlers.py"',
        )
    module_name = f"_orchestrate_twin_{twin_name.replace('-', '_')}_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a loader
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module
