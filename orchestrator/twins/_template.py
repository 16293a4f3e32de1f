"""Templates of declarative routes: JSON values whose strings refer to the request and the state.

- A string that is exactly ``$name`` or ``$name.dotted.path`` becomes that value, of any JSON
  type: ``$record``, ``$items``, ``$parent``, ``$body``, ``$query``, ``$path``, ``$error``,
  ``$principal``, ``$now`` (ISO 8601, UTC), ``$base_url``, ``$seq`` (the entity's next number) and
  ``$scope_seq`` (one more than the highest value of the field being set among the records in
  the route's ``where`` scope). A missing value is ``null``.
- A string with ``{name}`` placeholders is text with values put in: ``{owner}`` is a path
  parameter, ``{record.number}`` or ``{base_url}`` are the values above.
- A string starting with ``$$`` is a literal string starting with ``$``.

Templates are compiled once, when the definition is loaded, so a typo is reported with the file
and field, and serving a request only calls small closures. :func:`compile_presenter` compiles an
entity's ``computed`` fields into a :data:`Presenter`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from orchestrator.errors import OrchestrateError

__all__ = [
    "ROOTS",
    "Compiled",
    "Presenter",
    "TemplateContext",
    "TemplateError",
    "compile_presenter",
    "compile_template",
    "dig",
    "utc_now",
]

ROOTS = frozenset(
    {
        "record",
        "items",
        "parent",
        "body",
        "query",
        "path",
        "error",
        "principal",
        "now",
        "base_url",
        "seq",
        "scope_seq",
    }
)

_EXPRESSION = re.compile(r"\$([a-z_]+)((?:\.[A-Za-z0-9_-]+)*)")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_-]+)*)\}")


class TemplateError(OrchestrateError):
    """A template refers to something that does not exist."""


def utc_now() -> str:
    """Now, as the ISO 8601 UTC text REST APIs use (``2024-05-01T12:00:00Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TemplateContext:
    """The values a template can refer to while one request is served."""

    __slots__ = (
        "base_url",
        "body",
        "error",
        "items",
        "parent",
        "path",
        "principal",
        "query",
        "record",
        "scope_seq",
        "seq",
    )

    def __init__(
        self,
        *,
        path: Mapping[str, Any],
        query: Mapping[str, str],
        body: Any,
        principal: str | None,
        base_url: str,
    ) -> None:
        self.path = path
        self.query = query
        self.body = body
        self.principal = principal
        self.base_url = base_url
        self.record: Any = None
        self.items: Any = None
        self.parent: Any = None
        self.error: Any = None
        self.seq: Callable[[], int] | None = None
        self.scope_seq: Callable[[], int] | None = None

    def root(self, name: str) -> Any:
        if name == "now":
            return utc_now()
        if name in ("seq", "scope_seq"):
            counter = self.seq if name == "seq" else self.scope_seq
            return counter() if counter is not None else None
        return getattr(self, name)


Compiled = Callable[[TemplateContext], Any]


def compile_template(value: Any, path_params: frozenset[str]) -> Compiled:
    """Compile a template (any JSON value); unknown names raise :class:`TemplateError`."""
    if isinstance(value, dict):
        parts = [(key, compile_template(item, path_params)) for key, item in value.items()]
        return lambda ctx: {key: part(ctx) for key, part in parts}
    if isinstance(value, list):
        items = [compile_template(item, path_params) for item in value]
        return lambda ctx: [item(ctx) for item in items]
    if isinstance(value, str):
        return _compile_string(value, path_params)
    return lambda ctx: value


Presenter = Callable[[Mapping[str, Any], str], dict[str, Any]]
"""A record as the twin sends it, given the record and the twin's base URL."""


def compile_presenter(fields: Mapping[str, Any]) -> Presenter:
    """Compile ``computed`` fields (name to template); unknown names raise :class:`TemplateError`."""
    compiled = [(name, compile_template(value, frozenset())) for name, value in fields.items()]

    def present(record: Mapping[str, Any], base_url: str) -> dict[str, Any]:
        ctx = TemplateContext(path={}, query={}, body=None, principal=None, base_url=base_url)
        ctx.record = record
        return {**record, **{name: template(ctx) for name, template in compiled}}

    return present


def _compile_string(text: str, path_params: frozenset[str]) -> Compiled:
    if text.startswith("$$"):
        literal = text[1:]
        return lambda ctx: literal
    if text.startswith("$"):
        match = _EXPRESSION.fullmatch(text)
        if match is None:
            raise TemplateError(
                f"{text!r} is not a reference; write $name or $name.field (names: {_names()})"
            )
        return _getter(match[1], match[2], path_params)
    pieces: list[str | Compiled] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        pieces.append(text[position : match.start()])
        name, rest = match[1], match[2]
        if name in path_params and not rest:
            pieces.append(_getter("path", f".{name}", path_params))
        elif name in ROOTS:
            pieces.append(_getter(name, rest, path_params))
        else:
            params = ", ".join(sorted(path_params)) or "none"
            raise TemplateError(
                f"{{{name}{rest}}} in {text!r} is neither a path parameter (here: {params}) "
                f"nor one of {_names()}"
            )
        position = match.end()
    if not pieces:
        return lambda ctx: text
    pieces.append(text[position:])
    return lambda ctx: "".join(piece if isinstance(piece, str) else _as_text(piece(ctx)) for piece in pieces)


def _getter(root: str, rest: str, path_params: frozenset[str]) -> Compiled:
    if root not in ROOTS:
        raise TemplateError(f"${root} is not a known reference (names: {_names()})")
    keys = tuple(rest.split(".")[1:]) if rest else ()
    if root == "path" and keys and keys[0] not in path_params:
        params = ", ".join(sorted(path_params)) or "none"
        raise TemplateError(f"$path.{keys[0]} is not a parameter of this route's path (parameters: {params})")
    if not keys:
        return lambda ctx: ctx.root(root)
    return lambda ctx: dig(ctx.root(root), keys)


def dig(value: Any, keys: tuple[str, ...]) -> Any:
    """Follow ``keys`` into nested mappings and lists (numeric keys index lists); ``None`` if absent."""
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _names() -> str:
    return ", ".join(f"${name}" for name in sorted(ROOTS))
