"""Declarative routes at work: a ``routes.yaml`` route compiled to a handler over the twin's state.

See :mod:`orchestrator.twins._routespec` for what a route declares. Compiling checks every
reference (entity, path parameter, template name) and raises :class:`RouteSpecError` with the
field at fault, which the loader turns into a ``ConfigError`` naming the file.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any

from starlette.datastructures import URL

from orchestrator.errors import OrchestrateError
from orchestrator.twins._handler import TwinCall, TwinReply
from orchestrator.twins._manifest import TwinManifest
from orchestrator.twins._routespec import (
    ErrorCondition,
    FilterSpec,
    InputField,
    PaginationSpec,
    ResponseSpec,
    RouteDefaults,
    RouteSpec,
)
from orchestrator.twins._seed import type_matches
from orchestrator.twins._state import StateView
from orchestrator.twins._template import Compiled, TemplateContext, TemplateError, compile_template

__all__ = ["DeclarativeRoute", "RouteSpecError", "paginate"]

_DEFAULT_STATUS = {"list": 200, "create": 201, "read": 200, "update": 200, "delete": 204, "static": 200}
_DEFAULT_BODY: dict[str, Any] = {
    "list": "$items",
    "create": "$record",
    "read": "$record",
    "update": "$record",
}
_BUILTIN_ERRORS: dict[ErrorCondition, ResponseSpec] = {
    "not_found": ResponseSpec(status=404, body={"message": "Not Found"}),
    "parent_not_found": ResponseSpec(status=404, body={"message": "Not Found"}),
    "invalid": ResponseSpec(
        status=422, body={"message": "$error.message", "field": "$error.field", "code": "$error.code"}
    ),
}


class RouteSpecError(OrchestrateError):
    """A route refers to something that does not exist; ``field`` is relative to the route."""

    def __init__(self, field: str, problem: str, fix: str) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"{field}: {problem}")


class _Answer:
    """A compiled response: status, body template, header templates."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self, spec: ResponseSpec, params: frozenset[str], field: str, default_body: Any = None
    ) -> None:
        body = spec.body if spec.body is not None else default_body
        self.status = spec.status
        self.body = _compile(body, params, f"{field}.body")
        self.headers = {
            name: _compile(value, params, f"{field}.headers.{name}") for name, value in spec.headers.items()
        }

    def render(self, ctx: TemplateContext, extra_headers: Mapping[str, str] | None = None) -> TwinReply:
        headers = {name: str(value(ctx)) for name, value in self.headers.items()}
        if extra_headers:
            headers = {**extra_headers, **headers}
        return TwinReply(status=self.status, body=self.body(ctx), headers=headers)


class DeclarativeRoute:
    """The handler of one declarative route (callable with a :class:`TwinCall`)."""

    def __init__(
        self, spec: RouteSpec, manifest: TwinManifest, defaults: RouteDefaults, params: tuple[str, ...]
    ) -> None:
        self.spec = spec
        names = frozenset(params)
        self._entity = spec.entity or ""
        entities = manifest.entities
        if spec.action != "static" and self._entity not in entities:
            raise _unknown_entity("entity", self._entity, entities)
        self._id_field = entities[self._entity].id_field if self._entity in entities else "id"
        self._where = {name: _compile(value, names, f"where.{name}") for name, value in spec.where.items()}
        self._lookup: tuple[str, str] | None = None
        if spec.action in ("read", "update", "delete"):
            self._lookup = self._lookup_of(spec, params)
        self._parent: tuple[str, dict[str, Compiled], str | None] | None = None
        self._parent_id_field = "id"
        if spec.parent is not None:
            if spec.parent.entity not in entities:
                raise _unknown_entity("parent.entity", spec.parent.entity, entities)
            match = {k: _compile(v, names, f"parent.match.{k}") for k, v in spec.parent.match.items()}
            self._parent = (spec.parent.entity, match, spec.parent.increment)
            self._parent_id_field = entities[spec.parent.entity].id_field
        self._sets = [(name, _compile(value, names, f"set.{name}")) for name, value in spec.set.items()]
        self._transitions = [
            (
                transition.field,
                transition.to,
                [
                    (name, _compile(value, names, f"transitions[{index}].set.{name}"))
                    for name, value in transition.set.items()
                ],
            )
            for index, transition in enumerate(spec.transitions)
        ]
        self._aliases: list[tuple[str, str, tuple[str, ...], str]] = []
        for index, alias in enumerate(defaults.aliases):
            if alias.param not in names:
                continue
            if alias.entity not in entities:
                raise _unknown_entity(f"(defaults.aliases[{index}].entity)", alias.entity, entities)
            self._aliases.append((alias.param, alias.entity, tuple(alias.match), alias.value))
        pagination = spec.pagination or (defaults.pagination if spec.action == "list" else None)
        self._pagination = pagination
        self._answer = _Answer(
            spec.response or ResponseSpec(status=_DEFAULT_STATUS[spec.action]),
            names,
            "response",
            _DEFAULT_BODY.get(spec.action),
        )
        self._errors = {
            condition: _Answer(
                spec.errors.get(condition) or defaults.errors.get(condition) or builtin,
                names,
                f"errors.{condition}",
            )
            for condition, builtin in _BUILTIN_ERRORS.items()
        }
        self._filters = [(f, tuple(f.field.split("."))) for f in spec.filters]

    @staticmethod
    def _lookup_of(spec: RouteSpec, params: tuple[str, ...]) -> tuple[str, str]:
        if spec.lookup is not None:
            if spec.lookup.param not in params:
                raise RouteSpecError(
                    "lookup.param",
                    f"{spec.lookup.param!r} is not a parameter of the path {spec.path}",
                    f"use one of its parameters ({', '.join(params) or 'none'}) or add it to the path",
                )
            return spec.lookup.field, spec.lookup.param
        if not params:
            raise RouteSpecError(
                "path",
                f"a {spec.action} route needs a path parameter that names the record",
                "add one, for example /items/{id}, or set `lookup: {field: id, param: id}`",
            )
        return "", params[-1]

    # ---------------------------------------------------------------------------------- serving

    def __call__(self, call: TwinCall) -> TwinReply:
        if self._aliases:
            call.path_params = self._resolve_aliases(call)
        ctx = TemplateContext(
            path=call.path_params,
            query=call.query,
            body=call.body,
            principal=call.principal,
            base_url=call.base_url,
        )
        state = call.state
        scope = {name: value(ctx) for name, value in self._where.items()}
        parent_key: str | None = None
        if self._parent is not None:
            entity, match, _ = self._parent
            ctx.parent = state.find(entity, **{name: value(ctx) for name, value in match.items()})
            if ctx.parent is None:
                return self._errors["parent_not_found"].render(ctx)
            parent_key = str(ctx.parent.get(self._parent_id_field))
        action = self.spec.action
        if action == "static":
            return self._answer.render(ctx)
        return self._act(call, ctx, scope, parent_key)

    def _presented(self, call: TwinCall, ctx: TemplateContext) -> TemplateContext:
        if isinstance(ctx.record, dict):
            ctx.record = call.present(self._entity, ctx.record)
        return ctx

    def _resolve_aliases(self, call: TwinCall) -> dict[str, Any]:
        params = dict(call.path_params)
        for param, entity, fields, value in self._aliases:
            wanted = params.get(param)
            for field in fields:
                record = call.state.find(entity, **{field: wanted})
                if record is not None and record.get(value) is not None:
                    params[param] = record[value]
                    break
        return params

    def _act(
        self, call: TwinCall, ctx: TemplateContext, scope: Mapping[str, Any], parent_key: str | None
    ) -> TwinReply:
        """Carry out a list, create, read, update or delete; records are answered presented."""
        state = call.state
        action = self.spec.action
        if action == "list":
            return self._list(call, ctx, scope)
        if action == "create":
            return self._create(call, ctx, scope, parent_key)
        record = self._find(state, scope, call.path_params)
        if record is None:
            return self._errors["not_found"].render(ctx)
        ctx.record = record
        key = record[self._id_field]
        if action == "delete":
            state.delete(self._entity, key)
            return self._answer.render(ctx)
        if action == "update":
            values, problem = self._read_input(call.body, partial=True)
            if problem is not None:
                ctx.error = problem
                return self._errors["invalid"].render(ctx)
            ctx.record = {**record, **values}
            changes = dict(values)
            for field, to, sets in self._transitions:
                if field in values and values[field] == to and record.get(field) != to:
                    for name, value in sets:
                        changes[name] = ctx.record[name] = value(ctx)
            for name, value in self._sets:
                changes[name] = ctx.record[name] = value(ctx)
            ctx.record = state.update(self._entity, key, changes)
        return self._answer.render(self._presented(call, ctx))

    def _find(
        self, state: StateView, scope: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        assert self._lookup is not None  # set for read/update/delete by the constructor
        field, param = self._lookup
        wanted = params.get(param)
        if not field or field == self._id_field:
            record = state.get(self._entity, wanted)
            return record if record is not None and _in_scope(record, scope) else None
        text = str(wanted)
        for record in state.list(self._entity):
            if str(record.get(field)) == text and _in_scope(record, scope):
                return record
        return None

    def _list(self, call: TwinCall, ctx: TemplateContext, scope: Mapping[str, Any]) -> TwinReply:
        records = call.state.list(self._entity)
        if scope:
            texts = [(name, str(value)) for name, value in scope.items()]
            records = [r for r in records if all(str(r.get(name)) == text for name, text in texts)]
        for spec, keys in self._filters:
            value = call.query.get(spec.param, spec.default)
            if value is None or value in spec.ignore or value == "":
                continue
            wanted = _Wanted(spec, value)
            records = [record for record in records if wanted.matches(record, keys)]
        order = self.spec.order
        if order is not None:
            direction = call.query.get(order.direction_param, "") if order.direction_param else ""
            descending = (direction or order.direction) == "desc"
            records = sorted(
                records, key=lambda record: _sort_key(record.get(order.field)), reverse=descending
            )
        headers: dict[str, str] = {}
        if self._pagination is not None:
            records, headers = paginate(records, self._pagination, call)
        ctx.items = [call.present(self._entity, record) for record in records]
        return self._answer.render(ctx, headers)

    def _create(
        self, call: TwinCall, ctx: TemplateContext, scope: Mapping[str, Any], parent_key: str | None
    ) -> TwinReply:
        state = call.state
        values, problem = self._read_input(call.body, partial=False)
        if problem is not None:
            ctx.error = problem
            return self._errors["invalid"].render(ctx)
        record: dict[str, Any] = {**scope, **values}
        ctx.record = record
        ctx.seq = lambda: state.next_id(self._entity)
        for name, value in self._sets:
            ctx.scope_seq = _scope_counter(state, self._entity, scope, name)
            record[name] = value(ctx)
        try:
            ctx.record = state.insert(self._entity, record)
        except ValueError as exc:
            ctx.error = {"field": self._id_field, "code": "already_exists", "message": str(exc)}
            return self._errors["invalid"].render(ctx)
        if self._parent is not None and self._parent[2] is not None and parent_key is not None:
            counter = self._parent[2]
            current = ctx.parent.get(counter) if isinstance(ctx.parent, dict) else 0
            state.update(
                self._parent[0], parent_key, {counter: (current if isinstance(current, int) else 0) + 1}
            )
        return self._answer.render(self._presented(call, ctx))

    def _read_input(self, body: Any, *, partial: bool) -> tuple[dict[str, Any], dict[str, str] | None]:
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            return {}, {"field": "(body)", "code": "invalid", "message": "the body must be a JSON object"}
        values: dict[str, Any] = {}
        for name, spec in self.spec.input.items():
            key = spec.source or name
            if key not in body:
                if spec.required and not partial:
                    return {}, {"field": key, "code": "missing_field", "message": f"{key} is required"}
                if not partial and "default" in spec.model_fields_set:
                    values[name] = copy.deepcopy(spec.default)
                continue
            value, problem = _coerce(body[key], spec, key)
            if problem is not None:
                return {}, problem
            values[name] = value
        return values, None


# ------------------------------------------------------------------------------------------ helpers


def _compile(value: Any, params: frozenset[str], field: str) -> Compiled:
    try:
        return compile_template(value, params)
    except TemplateError as exc:
        raise RouteSpecError(
            field, str(exc), "refer only to path parameters and the documented $names"
        ) from None


def _unknown_entity(field: str, name: str, entities: Mapping[str, Any]) -> RouteSpecError:
    known = ", ".join(entities) or "none"
    return RouteSpecError(
        field,
        f"names the entity {name!r}, which twin.json does not declare (entities: {known})",
        'declare it under "entities" in twin.json, or use one of the declared entities',
    )


def _in_scope(record: Mapping[str, Any], scope: Mapping[str, Any]) -> bool:
    return all(str(record.get(name)) == str(value) for name, value in scope.items())


def _values_at(value: Any, keys: tuple[str, ...]) -> list[Any]:
    """Every value at ``keys``, fanning out over lists met on the way."""
    if not keys:
        return value if isinstance(value, list) else [value]
    if isinstance(value, list):
        return [found for item in value for found in _values_at(item, keys)]
    if isinstance(value, Mapping):
        return _values_at(value.get(keys[0]), keys[1:]) if keys[0] in value else []
    return []


class _Wanted:
    """One filter's parameter value, prepared once per request (matching is case-insensitive)."""

    __slots__ = ("needle", "op", "parts")

    def __init__(self, spec: FilterSpec, value: str) -> None:
        self.op = spec.op
        self.needle = value.casefold()
        self.parts = {part.strip().casefold() for part in value.split(spec.separator) if part.strip()}

    def matches(self, record: Mapping[str, Any], keys: tuple[str, ...]) -> bool:
        if self.op == "eq" and len(keys) == 1:  # the common case: one plain field
            plain = record.get(keys[0])
            if not isinstance(plain, list):
                return plain is not None and str(plain).casefold() == self.needle
        found = {str(item).casefold() for item in _values_at(record, keys) if item is not None}
        if self.op == "eq":
            return self.needle in found
        if self.op == "contains":
            return any(self.needle in item for item in found)
        if self.op == "all_of":
            return self.parts <= found
        return bool(self.parts & found)


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    return (1, "" if value is None else str(value))


def _scope_counter(state: StateView, entity: str, scope: Mapping[str, Any], field: str) -> Callable[[], int]:
    def next_in_scope() -> int:
        numbers = [
            record[field]
            for record in state.list(entity)
            if isinstance(record.get(field), int) and _in_scope(record, scope)
        ]
        return max(numbers, default=0) + 1

    return next_in_scope


def _int_param(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


def paginate(
    records: list[dict[str, Any]], spec: PaginationSpec, call: TwinCall
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The page of ``records`` the call asks for, and the headers that link the other pages."""
    per_page = min(
        max(_int_param(call.query.get(spec.per_page_param), spec.default_per_page), 1), spec.max_per_page
    )
    page = max(_int_param(call.query.get(spec.page_param), 1), 1)
    total = len(records)
    pages = max(math.ceil(total / per_page), 1)
    start = (page - 1) * per_page
    chunk = records[start : start + per_page]
    url = URL(call.url)

    def link(number: int) -> str:
        target = url.include_query_params(**{spec.page_param: number, spec.per_page_param: per_page})
        return f"<{target}>"

    links: list[str] = []
    if page > 1:
        links.append(f'{link(min(page - 1, pages))}; rel="prev"')
    if page < pages:
        links.append(f'{link(page + 1)}; rel="next"')
        links.append(f'{link(pages)}; rel="last"')
    if page > 1:
        links.append(f'{link(1)}; rel="first"')
    headers: dict[str, str] = {}
    if links:
        headers["Link"] = ", ".join(links)
    if spec.style == "page_headers":
        headers.update(
            {
                "X-Total": str(total),
                "X-Total-Pages": str(pages),
                "X-Per-Page": str(per_page),
                "X-Page": str(page),
                "X-Next-Page": str(page + 1) if page < pages else "",
                "X-Prev-Page": str(page - 1) if 1 < page <= pages + 1 else "",
            }
        )
    return chunk, headers


def _coerce(value: Any, spec: InputField, key: str) -> tuple[Any, dict[str, str] | None]:
    if spec.split is not None and isinstance(value, str):
        value = [part.strip() for part in value.split(spec.split) if part.strip()]
    if spec.wrap is not None and isinstance(value, list):
        value = [{spec.wrap: item} if isinstance(item, str) else item for item in value]
    if value is not None and not type_matches(value, spec.type):
        return None, {"field": key, "code": "invalid", "message": f"{key} must be of type {spec.type}"}
    if spec.enum is not None and value not in spec.enum:
        allowed = ", ".join(str(item) for item in spec.enum)
        return None, {"field": key, "code": "invalid", "message": f"{key} must be one of: {allowed}"}
    if spec.map is not None and isinstance(value, str) and value in spec.map:
        value = spec.map[value]
    return value, None
