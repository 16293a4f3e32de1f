"""A twin definition loaded from its folder and checked from end to end.

A folder holds ``twin.json`` (:class:`~orchestrator.twins._manifest.TwinManifest`), and
declarative routes (``routes.yaml``), a Python module, or both; optionally a seed data file.
Loading validates each file and every cross-reference (entities, path parameters, template
names, duplicate routes) and raises :class:`~orchestrator.errors.ConfigError` naming the file, the
field and the fix. The result is immutable and can serve any number of twin instances.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from starlette.routing import compile_path

from orchestrator.errors import ConfigError
from orchestrator.twins._declarative import DeclarativeRoute, RouteSpecError
from orchestrator.twins._handler import Handler
from orchestrator.twins._manifest import TwinManifest
from orchestrator.twins._python_routes import SeedCheck, load_python_routes
from orchestrator.twins._routespec import RoutesFile
from orchestrator.twins._seed import SeedData, check_seed_data
from orchestrator.twins._template import Presenter, TemplateError, compile_presenter
from orchestrator.userfiles import load_structured_file, validate_document

__all__ = ["MANIFEST_NAME", "ROUTES_NAME", "RouteEntry", "TwinDefinition", "load_twin_definition"]

MANIFEST_NAME = "twin.json"
ROUTES_NAME = "routes.yaml"

_MANIFEST_EXAMPLES = {
    "name": 'use a short lowercase name, for example "name": "github"',
    "auth.type": 'use "none", "bearer" or "api_key", for example "type": "bearer"',
}


@dataclass(frozen=True, slots=True)
class RouteEntry:
    """One served route: id, methods, path (relative to the base path), handler and origin.

    ``read_only`` routes never change the state, so ``stale_data`` chaos serves them a snapshot.
    """

    id: str
    methods: tuple[str, ...]
    path: str
    handler: Handler
    public: bool
    origin: Literal["routes", "module"]
    params: tuple[str, ...]
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class TwinDefinition:
    """A validated twin: its manifest, routes, default seed data, seed checks and presenters
    (per entity, the ``computed`` fields added to every record the twin sends)."""

    manifest: TwinManifest
    directory: Path
    routes: tuple[RouteEntry, ...]
    seed: SeedData
    seed_checks: tuple[SeedCheck, ...]
    presenters: Mapping[str, Presenter] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def base_path(self) -> str:
        return self.manifest.base_path

    def route_ids(self) -> frozenset[str]:
        return frozenset(route.id for route in self.routes)


def load_twin_definition(directory: Path) -> TwinDefinition:
    """Load and validate the twin in ``directory`` (see the module docstring)."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST_NAME
    if not manifest_path.is_file():
        raise ConfigError(
            manifest_path,
            "(file)",
            "is missing: every twin folder needs a twin.json",
            f'create {manifest_path} with at least {{"name": "{_guess_name(directory)}"}} and a routes.yaml',
        )
    manifest = validate_document(
        TwinManifest, load_structured_file(manifest_path), path=manifest_path, examples=_MANIFEST_EXAMPLES
    )
    routes: list[RouteEntry] = []
    routes_path = _routes_path(manifest, directory, manifest_path)
    if routes_path is not None:
        routes.extend(_declarative_routes(manifest, routes_path))
    seed_checks: tuple[SeedCheck, ...] = ()
    if manifest.module is not None:
        registry = load_python_routes(manifest.module, directory, manifest.name, manifest_path)
        seed_checks = tuple(registry.seed_checks)
        for route in registry.routes:
            params = _params_of(route.path, manifest_path, "module", f"route {route.id!r}")
            routes.append(
                RouteEntry(
                    route.id,
                    route.methods,
                    route.path,
                    route.handler,
                    route.public,
                    "module",
                    params,
                    route.read_only,
                )
            )
    if not routes:
        raise ConfigError(
            manifest_path,
            "routes",
            "the twin defines no routes",
            f'add a {ROUTES_NAME} next to twin.json, or name a Python module with "module": "handlers.py"',
        )
    _check_unique(routes, manifest_path)
    seed: SeedData = {}
    if manifest.seed is not None:
        seed_path = directory / manifest.seed
        if not seed_path.is_file():
            raise ConfigError(
                manifest_path,
                "seed",
                f"names {manifest.seed!r}, which is not a file in {directory}",
                'put the seed data next to twin.json, for example "seed": "seed.yaml"',
            )
        seed = check_seed_data(
            load_structured_file(seed_path),
            manifest.entities,
            twin=manifest.name,
            source=seed_path,
            checks=seed_checks,
        )
    presenters = _presenters(manifest, manifest_path)
    return TwinDefinition(manifest, directory, tuple(routes), seed, seed_checks, presenters)


def _presenters(manifest: TwinManifest, manifest_path: Path) -> dict[str, Presenter]:
    presenters: dict[str, Presenter] = {}
    for entity, spec in manifest.entities.items():
        if not spec.computed:
            continue
        for name, value in spec.computed.items():
            try:
                compile_presenter({name: value})
            except TemplateError as exc:
                raise ConfigError(
                    manifest_path,
                    f"entities.{entity}.computed.{name}",
                    str(exc),
                    'refer to the record and the base URL, for example "url": "{base_url}/items/{record.id}"',
                ) from None
        presenters[entity] = compile_presenter(spec.computed)
    return presenters


def _routes_path(manifest: TwinManifest, directory: Path, manifest_path: Path) -> Path | None:
    if manifest.routes is None:
        default = directory / ROUTES_NAME
        return default if default.is_file() else None
    path = directory / manifest.routes
    if not path.is_file():
        raise ConfigError(
            manifest_path,
            "routes",
            f"names {manifest.routes!r}, which is not a file in {directory}",
            f'put the routes next to twin.json, for example "routes": "{ROUTES_NAME}"',
        )
    return path


def _declarative_routes(manifest: TwinManifest, path: Path) -> list[RouteEntry]:
    document = validate_document(RoutesFile, load_structured_file(path), path=path)
    entries: list[RouteEntry] = []
    for index, spec in enumerate(document.routes):
        where = f"routes[{index}]"
        params = _params_of(spec.path, path, f"{where}.path", spec.path)
        try:
            handler = DeclarativeRoute(spec, manifest, document.defaults, params)
        except RouteSpecError as exc:
            raise ConfigError(path, f"{where}.{exc.field}", exc.problem, exc.fix) from None
        entries.append(
            RouteEntry(
                spec.route_id,
                (spec.method,),
                spec.path,
                handler,
                spec.public,
                "routes",
                params,
                spec.reads_only,
            )
        )
    return entries


def _params_of(path: str, source: Path, field: str, what: str) -> tuple[str, ...]:
    try:
        _, _, convertors = compile_path(path)
    except (AssertionError, ValueError) as exc:
        raise ConfigError(
            source,
            field,
            f"{what}: the path {path!r} is not valid ({exc})",
            "write parameters as {name} or {name:int} (convertors: str, int, float, path, uuid), "
            "each name once, for example /repos/{owner}/{repo}/issues/{number:int}",
        ) from None
    return tuple(convertors)


def _check_unique(routes: list[RouteEntry], manifest_path: Path) -> None:
    ids: set[str] = set()
    endpoints: set[tuple[str, str]] = set()
    for route in routes:
        if route.id in ids:
            raise ConfigError(
                manifest_path,
                "routes",
                f"two routes share the id {route.id!r}",
                "give every route its own `id`",
            )
        ids.add(route.id)
        shape = re.sub(r"\{[^}]*\}", "{}", route.path)
        for method in route.methods:
            if (method, shape) in endpoints:
                raise ConfigError(
                    manifest_path,
                    "routes",
                    f"{method} {route.path} is defined twice (route {route.id!r})",
                    "keep one definition per method and path, in routes.yaml or in the module",
                )
            endpoints.add((method, shape))


def _guess_name(directory: Path) -> str:
    name = re.sub(r"[^a-z0-9_-]", "", directory.name.lower())
    return name or "my-service"
