"""Read the files users write: parse them, report syntax mistakes, and validate them as a model.

Every user-editable file (project config, policy, profile, twin definition, seed data) is read
with :func:`load_structured_file` and checked with :func:`validate_document`, so every mistake is
reported the same way: the file, the field, what was wrong and an example of right, as a
:class:`~orchestrator.errors.ConfigError`. A syntax error gives the parser's line and column and
what the format looks like; a YAML mapping that repeats a key is refused instead of silently
keeping the last value. Phrasing validation errors is :mod:`orchestrator.validation`'s job.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from orchestrator.errors import ConfigError
from orchestrator.validation import SUFFIX_SYNTAX, Syntax, config_error_from_validation

__all__ = ["StrictModel", "load_structured_file", "validate_document"]

M = TypeVar("M", bound=BaseModel)

_SYNTAX_SHAPE = {
    "toml": "TOML looks like `[section]` headers followed by `key = value` lines, text in double quotes",
    "yaml": "YAML looks like `key: value` lines, nested keys indented by two spaces, list items as `- item`",
    "json": "JSON needs double quotes around keys and text, and no comma after the last item",
}
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


class StrictModel(BaseModel):
    """Base of models read from user files: unknown keys are errors (typos are caught), values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def load_structured_file(path: str | os.PathLike[str]) -> Any:
    """Parse a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file (chosen by suffix) and return its data.

    A syntax error raises :class:`ConfigError` with field ``(syntax)`` and the parser's line and
    column. YAML mappings with a repeated key are refused too (PyYAML would silently keep the last
    one, hiding a typo). An empty YAML file reads as ``None``.
    """
    path = Path(path)
    syntax = SUFFIX_SYNTAX.get(path.suffix.lower())
    if syntax is None:
        raise ConfigError(
            path,
            "(file)",
            f"has an unsupported suffix {path.suffix!r}",
            "use a .toml, .yaml, .yml or .json file",
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            path,
            "(file)",
            f"cannot be read ({exc.strerror or exc})",
            "check that the file exists and is readable",
        ) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            path,
            "(syntax)",
            f"is not UTF-8 text (invalid byte at offset {exc.start})",
            "save the file as UTF-8",
        ) from exc
    try:
        return _parse(text, syntax)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        where = f" at line {match[1]}, column {match[2]}" if match else ""
        detail = _TOML_POSITION.sub("", message).strip()
        raise _syntax_error(path, syntax, where, detail) from exc
    except yaml.YAMLError as exc:
        where, detail = "", str(exc)
        if isinstance(exc, yaml.MarkedYAMLError):
            mark = exc.problem_mark or exc.context_mark
            if mark is not None:
                where = f" at line {mark.line + 1}, column {mark.column + 1}"
            detail = ", ".join(part for part in (exc.context, exc.problem) if part) or detail
        raise _syntax_error(path, syntax, where, detail) from exc
    except json.JSONDecodeError as exc:
        raise _syntax_error(path, syntax, f" at line {exc.lineno}, column {exc.colno}", exc.msg) from exc


def _parse(text: str, syntax: str) -> Any:
    if syntax == "toml":
        return tomllib.loads(text)
    if syntax == "json":
        return json.loads(text)
    loader = _UniqueKeyLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _syntax_error(path: Path, syntax: str, where: str, detail: str) -> ConfigError:
    detail = detail[:1].lower() + detail[1:]
    return ConfigError(
        path,
        "(syntax)",
        f"is not valid {syntax.upper()}{where}: {detail}",
        f"correct the file{where}; {_SYNTAX_SHAPE[syntax]}",
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in one mapping is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        merge_tag = "tag:yaml.org,2002:merge"
        # With merge keys (`<<`), overriding a merged key is legitimate; leave those to PyYAML.
        if isinstance(node, yaml.MappingNode) and not any(key.tag == merge_tag for key, _ in node.value):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # unhashable key: PyYAML reports it below
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"found the key {key!r} twice; keep only one",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)


def validate_document(
    model: type[M],
    document: Any,
    *,
    path: str | os.PathLike[str] | None,
    examples: Mapping[str, str] | None = None,
    syntax: Syntax | None = None,
) -> M:
    """Validate ``document`` (data read from ``path``) as ``model``; a failure raises :class:`ConfigError`."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise config_error_from_validation(path, exc, examples=examples, model=model, syntax=syntax) from None
