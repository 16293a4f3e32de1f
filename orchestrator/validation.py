"""Explain a pydantic validation error to a user: the field, what is wrong and an example of right.

This is the one place where orchestrate phrases a :class:`pydantic.ValidationError` for people.
A config file, a policy, a twin definition, a capture manifest, a worker's request: whatever was
validated, the user reads the same shape, ``field: problem. Fix: fix``, and
:func:`config_error_from_validation` adds the file to make it a
:class:`~orchestrator.errors.ConfigError`. Any package may use it; reading the files themselves
is :mod:`orchestrator.userfiles`.

Only the first error is reported (in the order of the model's fields), because fixing it often
changes what follows; an unknown key beats a missing one beside it (it is usually the same key,
misspelt), and the alternatives of a union are reported together, since the user meant only one.
:func:`explain_validation_errors` phrases every error the same way, for a check that lists all
the mistakes of a file at once.
The model is walked along the error's location, so the message can list the known fields beside
an unknown one and the example can show the field's real default. Values of fields whose names
look secret (token, password, api key, ...) are never echoed.
"""

from __future__ import annotations

import json
import os
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePath
from types import MappingProxyType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, Tag, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticUndefined
from rapidfuzz import process

from orchestrator.errors import ConfigError

__all__ = [
    "SUFFIX_SYNTAX",
    "FileSyntax",
    "Syntax",
    "ValidationProblem",
    "config_error_from_validation",
    "explain_validation_error",
    "explain_validation_errors",
    "format_loc",
    "syntax_for",
]

Syntax = Literal["toml", "yaml", "json", "env"]
"""How an example of right is written: as a line of this file format, or as an environment variable."""
FileSyntax = Literal["toml", "yaml", "json"]
"""The file formats users write (a :data:`Syntax` that is a file)."""

SUFFIX_SYNTAX: Mapping[str, FileSyntax] = MappingProxyType(
    {".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}
)
"""The format of a user file by its (lowercase) suffix; the only suffixes orchestrate reads."""

Loc = tuple[str | int, ...]

# Pydantic names the alternatives of a union in the error location ("int", "list[str]", ...).
_CORE_TAGS = frozenset({"int", "float", "str", "bool", "bytes", "list", "dict", "none", "path", "url"})
# Values of fields named like this are never echoed back: a config error may end up in a log.
_SECRET_NAME = re.compile(r"(?i)token|secret|passw|authori[sz]|api[_-]?key|credential|cookie")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class ValidationProblem:
    """The one error reported for a failed validation, already phrased for a user.

    ``str(problem)`` is the one-line ``field: problem. Fix: fix``; :meth:`to_error` makes it a
    :class:`ConfigError` about a file.
    """

    loc: Loc
    """Where the error is in the document, without pydantic's union-member tags."""
    kind: str
    """Pydantic's error type (``missing``, ``extra_forbidden``, ``int_parsing``, ...)."""
    field: str
    """``loc`` as users write it (see :func:`format_loc`)."""
    problem: str
    """What is wrong, starting with a verb: ``is not a valid integer (got 'x')``."""
    fix: str
    """What to do instead, with an example of right when one can be given."""

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}. Fix: {self.fix}"

    def to_error(self, path: str | os.PathLike[str] | None) -> ConfigError:
        """This problem as a :class:`ConfigError` about ``path`` (a file, or a text such as a variable)."""
        return ConfigError(path, self.field, self.problem, self.fix)


def syntax_for(path: str | os.PathLike[str] | None) -> Syntax:
    """The syntax of examples for a file, chosen by its suffix (TOML when it cannot be told)."""
    if path is None:
        return "toml"
    return SUFFIX_SYNTAX.get(PurePath(path).suffix.lower(), "toml")


def format_loc(loc: Loc) -> str:
    """A location as users write it: ``events.batch_size``, ``profiles.smoke.routes[0]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = part if _PLAIN_KEY.fullmatch(part) else json.dumps(part)
            text += f".{key}" if text else key
    return text or "(document)"


# ------------------------------------------------------------------------------------------ explaining


def config_error_from_validation(
    path: str | os.PathLike[str] | None,
    exc: ValidationError,
    *,
    examples: Mapping[str, str] | None = None,
    model: type[BaseModel] | None = None,
    syntax: Syntax | None = None,
) -> ConfigError:
    """Turn the first (most relevant) error of ``exc`` into a :class:`ConfigError` about ``path``.

    ``examples`` maps a field (``events.batch_size``, or without list indexes
    ``profiles.smoke.routes``) to the fix to print; other fields get an example derived from the
    error and the field's declaration. Pass the validated ``model`` so an unknown field can be
    listed beside the known ones; ``syntax`` defaults to the one of ``path``'s suffix.
    """
    problem = explain_validation_error(
        exc, examples=examples, model=model, syntax=syntax if syntax is not None else syntax_for(path)
    )
    return problem.to_error(path)


def explain_validation_error(
    exc: ValidationError,
    *,
    examples: Mapping[str, str] | None = None,
    model: type[BaseModel] | None = None,
    syntax: Syntax = "toml",
) -> ValidationProblem:
    """The first (most relevant) error of ``exc``, phrased for a user.

    ``model`` is the model that was validated: with it, an unknown field is listed beside the
    known ones and the example shows the field's declared default or first example. ``syntax``
    is how the example is written (``toml``, ``yaml``, ``json`` or ``env`` for a variable).
    ``examples`` maps a field to the fix to print instead, as in
    :func:`config_error_from_validation`. ``str()`` of the answer is one line a user can act on.
    """
    located = [(error, _locate(model, error["loc"])) for error in exc.errors(include_url=False)]
    return _explain_first(located, examples, syntax)[0]


def explain_validation_errors(
    exc: ValidationError,
    *,
    examples: Mapping[str, str] | None = None,
    model: type[BaseModel] | None = None,
    syntax: Syntax = "toml",
) -> list[ValidationProblem]:
    """Every error of ``exc``, each phrased as :func:`explain_validation_error` phrases the first.

    The alternatives of one union still make one problem, and a missing key is left out when an
    unknown key beside it is reported as its misspelling (the fix renames one to the other).
    """
    located = [(error, _locate(model, error["loc"])) for error in exc.errors(include_url=False)]
    problems: list[ValidationProblem] = []
    while located:
        problem, used = _explain_first(located, examples, syntax)
        problems.append(problem)
        located = [item for position, item in enumerate(located) if position not in used]
    return problems


def _explain_first(
    located: list[tuple[ErrorDetails, _Where]], examples: Mapping[str, str] | None, syntax: Syntax
) -> tuple[ValidationProblem, set[int]]:
    """The first error of ``located`` phrased, and the positions of the errors that phrase covers."""
    first, where = located[0]
    used = {0}
    if first["type"] == "missing":
        # A required key is often missing because it was misspelt: the unknown key is the news.
        typo = [
            position
            for position, (e, w) in enumerate(located)
            if e["type"] == "extra_forbidden" and w.loc[:-1] == where.loc[:-1]
        ]
        if typo:
            missing = _last_key(where.loc)
            first, where = located[typo[0]]
            used = {typo[0], 0} if _closest_field(where) == missing else {typo[0]}
    loc = where.loc
    alternatives = [
        (position, e, w)
        for position, (e, w) in enumerate(located)
        if w.union_at is not None and w.loc[: w.union_at] == loc[: where.union_at]
    ]
    if where.union_at is None or len({w.union_tag for _, _, w in alternatives}) == 1:
        # No union, or only one alternative applied (a tagged union): the error is inside it.
        problem = _describe(first, where, syntax)
        fix = _fix(first, where, syntax)
    else:
        used |= {position for position, _, _ in alternatives}
        loc = loc[: where.union_at]
        forms = list(dict.fromkeys(_form(e, w, syntax) for _, e, w in alternatives))
        uses = list(
            dict.fromkeys(_noun(e) if len(w.loc) == len(loc) else w.union_tag for _, e, w in alternatives)
        )
        got = _got(first, loc) if len(where.loc) == len(loc) else ""
        problem = f"matches none of its allowed forms{got}: {'; or '.join(forms)}"
        example = _example_clause(loc, _example_value(where.union_info, None), syntax)
        fix = f"use {' or '.join(uses)}{example}"
    field = format_loc(loc)
    if examples:
        unindexed = format_loc(tuple(part for part in loc if isinstance(part, str)))
        fix = examples.get(field) or examples.get(unindexed) or fix
    return ValidationProblem(loc, first["type"], field, problem, fix), used


@dataclass(frozen=True, slots=True)
class _Where:
    """What walking the model along an error location found."""

    loc: Loc
    union_at: int | None  # length of ``loc`` where the first union-member tag was dropped
    owner: type[BaseModel] | None  # the model that owns the last element of ``loc``
    info: FieldInfo | None  # the declaration of the last element, when it is a model field
    annotation: Any  # declared type of the last element, when known
    union_info: FieldInfo | None  # the declaration of the field whose union was tagged, when known
    union_tag: str  # the alternative pydantic tried ("int", "list[str]", a model name, a tag value)


def _locate(model: type[BaseModel] | None, raw_loc: Loc) -> _Where:
    loc: list[str | int] = []
    union_at: int | None = None
    union_info: FieldInfo | None = None
    union_tag = ""
    owner: type[BaseModel] | None = None
    info: FieldInfo | None = None
    current: Any = model
    for part in raw_loc:
        current = _unwrap(current)
        if _is_model(current):
            owner, info = current, _field(current, part)
            current = info.annotation if info is not None else None
            loc.append(part)
            continue
        owner = None
        if isinstance(part, str) and (_is_union(current) or (current is None and _looks_like_tag(part))):
            if union_at is None:
                union_at, union_info, union_tag = len(loc), info, part
            current = _member_named(current, part)
            continue
        info = None
        origin, args = get_origin(current), get_args(current)
        if isinstance(part, int) and origin in (list, tuple, set, frozenset) and args:
            current = args[0]
        elif origin is dict and len(args) == 2:
            current = args[1]
        else:
            current = None
        loc.append(part)
    return _Where(tuple(loc), union_at, owner, info, current, union_info, union_tag)


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif _is_union(annotation):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field(model: type[BaseModel], key: str | int) -> FieldInfo | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _known_fields(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _looks_like_tag(part: str) -> bool:
    return "[" in part or part in _CORE_TAGS or part.startswith("function-")


def _member_named(union: Any, tag: str) -> Any:
    """The alternative of ``union`` that pydantic tagged ``tag``: by type name or discriminator value."""
    for member in get_args(_unwrap(union)) if union is not None else ():
        if get_origin(member) is Annotated and any(
            isinstance(meta, Tag) and meta.tag == tag for meta in member.__metadata__
        ):
            return get_args(member)[0]  # a member of a union with a callable Discriminator
        if getattr(member, "__name__", None) == tag:
            return member
        if _is_model(member) and any(
            get_origin(_unwrap(info.annotation)) is Literal and tag in get_args(_unwrap(info.annotation))
            for info in member.model_fields.values()
        ):
            return member
    return None


# ------------------------------------------------------------------------------------------- phrasing

# Type errors: what the value is not (problem), and what to use instead (fix, unions).
_TYPES: dict[str, tuple[str, str]] = {
    "int_type": ("a valid integer", "a whole number"),
    "int_parsing": ("a valid integer", "a whole number"),
    "int_from_float": ("a whole number", "a whole number"),
    "float_type": ("a valid number", "a number"),
    "float_parsing": ("a valid number", "a number"),
    "finite_number": ("a finite number", "a finite number"),
    "bool_type": ("true or false", "true or false"),
    "bool_parsing": ("true or false", "true or false"),
    "string_type": ("text", "text"),
    "path_type": ("a valid path", "a path"),
    "list_type": ("a list", "a list"),
    "tuple_type": ("a list", "a list"),
    "set_type": ("a list", "a list"),
    "url_type": ("a URL", "a URL"),
    "url_parsing": ("a valid URL", "a URL"),
}
_TABLE_TYPES = frozenset({"dict_type", "model_type", "model_attributes_type"})
_LIMITS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("greater than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
    "multiple_of": ("a multiple of", "multiple_of"),
}
_LENGTHS = {"too_short", "string_too_short", "too_long", "string_too_long"}


def _describe(error: ErrorDetails, where: _Where, syntax: Syntax) -> str:
    kind, ctx, got = error["type"], error.get("ctx", {}), _got(error, where.loc)
    known = _known_fields(where.owner) if where.owner is not None else []
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return f"is not a known field; known fields: {', '.join(known)}" if known else "is not a known field"
    if kind in _TYPES:
        return f"is not {_TYPES[kind][0]}{got}"
    if kind in _TABLE_TYPES:
        return f"is not a {'table' if syntax == 'toml' else 'mapping'} of settings{got}"
    if kind in _LIMITS:
        words, key = _LIMITS[kind]
        return f"must be {words} {ctx.get(key)}{got}"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected')}{got}"
    if kind in _LENGTHS:
        short = "short" in kind
        count = ctx.get("min_length" if short else "max_length")
        unit = ("character" if kind.startswith("string") else "item") + ("" if count == 1 else "s")
        limit = "short: it needs at least" if short else "long: it may have at most"
        return f"is too {limit} {count} {unit}{got}"
    if kind == "string_pattern_mismatch":
        return f"does not match the pattern {ctx.get('pattern')}{got}"
    message = re.sub(r"^(Value error|Assertion failed), ", "is invalid: ", error["msg"])
    message = re.sub(r"^Input (should be )?", r"\1", message)
    return f"{message[:1].lower()}{message[1:]}{got}"


def _fix(error: ErrorDetails, where: _Where, syntax: Syntax) -> str:
    kind, ctx, key = error["type"], error.get("ctx", {}), _last_key(where.loc)
    if kind == "extra_forbidden":
        known = _known_fields(where.owner) if where.owner is not None else []
        match = _closest_field(where)
        if match is not None:
            return f"rename `{key}` to `{match}`, or remove it"
        return f"remove `{key}`, or use one of the known fields" if known else f"remove `{key}`"
    if kind in _TABLE_TYPES:
        return _table_fix(where.loc, syntax)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = ctx.get("expected_tags")
        value = f"one of {tags}" if tags else "the kind of entry it is"
        return f"set {ctx.get('discriminator')} to {value}"
    example = _example_clause(where.loc, _example_value(where.info, where.annotation), syntax)
    if kind == "missing":
        return f"add it{example or ' with a value'}"
    quoted = " in double quotes" if syntax == "toml" and kind in ("string_type", "path_type") else ""
    if kind in _TYPES:
        return f"use {_TYPES[kind][1]}{quoted}{_range_text(where.info)}{example}"
    if kind in _LIMITS:
        return f"use a value{_range_text(where.info) or ' within the limit'}{example}"
    if kind in ("literal_error", "enum"):
        return f"use one of {ctx.get('expected')}{example}"
    return f"use a valid value{example}" if example else "change the value so that it meets the rule above"


def _closest_field(where: _Where) -> str | None:
    """The known field an unknown key most likely misspells, if one is close enough."""
    known = _known_fields(where.owner) if where.owner is not None else []
    match = process.extractOne(_last_key(where.loc), known, score_cutoff=60) if known else None
    return match[0] if match is not None else None


def _form(error: ErrorDetails, where: _Where, syntax: Syntax) -> str:
    """One alternative of a union and why it did not fit."""
    inner = where.loc[(where.union_at or 0) :]
    if not inner:
        return _noun(error)
    return f"{where.union_tag}, where {format_loc(inner)} {_describe(error, where, syntax)}"


def _noun(error: ErrorDetails) -> str:
    """What to use instead, for the alternatives of a union."""
    kind = error["type"]
    if kind in _TYPES:
        return _TYPES[kind][1]
    if kind in _TABLE_TYPES:
        return "a table of settings"
    if kind in ("literal_error", "enum"):
        return f"one of {error.get('ctx', {}).get('expected')}"
    return re.sub(r"^Input should be ", "", error["msg"])


_URL_CREDENTIALS = re.compile(r"(\w[\w+.-]*://)[^/@\s]+@")


def _got(error: ErrorDetails, loc: Loc) -> str:
    value = error.get("input", PydanticUndefined)
    if error["type"] in ("missing", "extra_forbidden") or value is PydanticUndefined:
        return ""
    if any(isinstance(part, str) and _SECRET_NAME.search(part) for part in loc):
        return " (got a hidden value)"
    if isinstance(value, bool):
        shown = "true" if value else "false"
    elif isinstance(value, str | int | float):
        if isinstance(value, str):
            value = _URL_CREDENTIALS.sub(r"\1***@", value)  # a URL's user:password is never echoed
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    elif value is None:
        shown = "nothing"
    else:
        shown = "a table" if isinstance(value, dict) else "a list" if isinstance(value, list) else "a value"
    return f" (got {shown})"


def _table_fix(loc: Loc, syntax: Syntax) -> str:
    key = _last_key(loc)
    if not loc:
        return "write the document as `key: value` settings at the top level"
    if syntax == "toml":
        return f"write it as a table: a `[{format_loc(loc)}]` header followed by `key = value` lines"
    if syntax == "yaml":
        return f"write it as a mapping: `{key}:` followed by indented `key: value` lines"
    if syntax == "json":
        return f'write it as an object: `"{key}": {{"key": "value"}}`'
    return f"set its keys one by one, for example {_env_name(loc)}__KEY=value"


def _last_key(loc: Loc) -> str:
    return next((part for part in reversed(loc) if isinstance(part, str)), "value")


def _env_name(loc: Loc) -> str:
    return "ORCHESTRATE_" + "__".join(part.upper() for part in loc if isinstance(part, str))


_RANGE_WORDS = (("ge", "at least"), ("gt", "greater than"), ("le", "at most"), ("lt", "less than"))


def _range_text(info: FieldInfo | None) -> str:
    """The limits declared on a field, as words: `` from 1 to 10000``, `` that is greater than 0``."""
    limits = {
        key: getattr(item, key) for item in _metadata(info) for key, _ in _RANGE_WORDS if hasattr(item, key)
    }
    if limits.keys() == {"ge", "le"}:
        return f" from {limits['ge']} to {limits['le']}"
    words = [f"{phrase} {limits[key]}" for key, phrase in _RANGE_WORDS if key in limits]
    return f" that is {' and '.join(words)}" if words else ""


def _metadata(info: FieldInfo | None) -> list[Any]:
    return list(info.metadata) if info is not None else []


def _example_value(info: FieldInfo | None, annotation: Any) -> Any:
    """A right value: the field's first example or its default when plain, else one from its type."""
    if info is not None:
        candidates = list(info.examples or [])
        if not info.is_required():
            candidates.append(info.get_default(call_default_factory=True))
        plain = next((_plain(item) for item in candidates if _plain(item) is not None), None)
        if plain is not None:
            return plain
        annotation = annotation if annotation is not None else info.annotation
    annotation = _unwrap(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return _plain(args[0])
    if origin in (list, tuple, set, frozenset):
        item = _example_value(None, args[0]) if args else None
        return [item] if item is not None else []
    if not isinstance(annotation, type):
        return None
    if issubclass(annotation, Enum):
        return _plain(next(iter(annotation)))
    low: Any = next((item.ge for item in _metadata(info) if isinstance(item, annotated_types.Ge)), None)
    by_type: list[tuple[type, Any]] = [
        (bool, True),
        (int, low if isinstance(low, int) else 1),
        (float, float(low) if low is not None else 1.0),
        (str, "text"),
        (PurePath, "path/to/file"),
    ]
    return next((value for kind, value in by_type if issubclass(annotation, kind)), None)


def _plain(value: Any) -> Any:
    """``value`` as a scalar (or list of scalars) that can be written in a file, else ``None``."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(item, bool | int | float | str) for item in value):
        return list(value)
    return None


def _example_clause(loc: Loc, value: Any, syntax: Syntax) -> str:
    if value is None:
        return ""
    if loc and isinstance(loc[-1], int):  # an item of a list: show the whole list
        value = [value]
    # JSON scalars and flow lists are valid TOML and YAML too (true/false, numbers, "text", [..]).
    text = json.dumps(value, ensure_ascii=False)
    key = _last_key(loc)
    assignment = {
        "env": f"{_env_name(loc)}={value if isinstance(value, str) else text}",
        "json": f"{json.dumps(key)}: {text}",
        "yaml": f"{key}: {text}",
    }.get(syntax, f"{key} = {text}")
    return f", for example `{assignment}`"
