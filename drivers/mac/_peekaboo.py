"""The peekaboo command line, as the mac driver uses it: commands, their JSON, their failures.

Three commands are used, always with ``--json`` (one JSON document on stdout, shaped
``{"success": bool, "data": {...}, "error": {"message": ..., "code": ...}}``):

- ``peekaboo permissions status --json``: which macOS permissions the terminal has;
- ``peekaboo see --app APP --json``: the app window's accessibility (AX) tree as UI elements;
- ``peekaboo image --app APP --path FILE --format png --json``: a screenshot of the window.

The app name comes from the project's config and reaches a command line, so it is checked
against a conservative character set first (:func:`validate_app_name`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError

__all__ = [
    "PEEKABOO",
    "REQUIRED_PERMISSIONS",
    "image_argv",
    "missing_permissions",
    "parse_json_output",
    "permissions_argv",
    "reported_error",
    "see_argv",
    "validate_app_name",
]

PEEKABOO = "peekaboo"
REQUIRED_PERMISSIONS = ("Screen Recording", "Accessibility")
"""Screen Recording for screenshots, Accessibility for AX snapshots."""

_APP_NAME = re.compile(r"[\w][\w .'&()+,-]*")
_APP_NAME_MAX = 100
_GRANTED_WORDS = frozenset({"granted", "authorized", "allowed", "true", "yes"})


def validate_app_name(name: str | None, *, source: Path | str | None = None) -> str:
    """Return the app name if it may reach a command line; else raise :class:`ConfigError`.

    Allowed: letters, digits, ``_``, space and ``. ' & ( ) + , -``, starting with a letter or
    digit, at most 100 characters. Refused, among others: an empty name, a leading ``-`` (it would
    read as an option), path separators, newline, CR and NUL.
    """
    example = 'app_name = "Calculator"'
    field = "targets.<name>.app_name"
    if not name:
        raise ConfigError(source, field, "the mac driver needs the app's name and none is set", example)
    if len(name) > _APP_NAME_MAX:
        raise ConfigError(source, field, f"is {len(name)} characters long; at most {_APP_NAME_MAX}", example)
    if _APP_NAME.fullmatch(name) is None or name != name.strip():
        raise ConfigError(
            source,
            field,
            f"{name[:60]!r} has characters an app name may not have (allowed: letters, digits, "
            "spaces and . ' & ( ) + , - _; it must not start with '-' or hold '/', newlines or NUL)",
            example,
        )
    return name


def permissions_argv() -> list[str]:
    return [PEEKABOO, "permissions", "status", "--json"]


def see_argv(app: str) -> list[str]:
    return [PEEKABOO, "see", "--app", app, "--json"]


def image_argv(app: str, path: Path) -> list[str]:
    return [PEEKABOO, "image", "--app", app, "--path", str(path), "--format", "png", "--json"]


def parse_json_output(stdout: str) -> dict[str, Any] | None:
    """The JSON document peekaboo printed, or ``None`` when stdout holds none.

    Tolerates log lines around the document (older versions print some in JSON mode).
    """
    text = stdout.strip()
    if not text:
        return None
    for candidate in (text, text[text.find("{") : text.rfind("}") + 1]):
        try:
            document = json.loads(candidate)
        except ValueError:
            continue
        return document if isinstance(document, dict) else None
    return None


def reported_error(document: Mapping[str, Any] | None) -> str | None:
    """The failure peekaboo reported in its JSON, or ``None`` when it reported success."""
    if document is None or document.get("success", True) is not False:
        return None
    error = document.get("error")
    if isinstance(error, Mapping):
        message = str(error.get("message") or "unknown error")
        code = error.get("code")
        return f"{message} ({code})" if code else message
    return str(error) if error else "peekaboo reported success: false"


def missing_permissions(document: Mapping[str, Any] | None) -> list[str] | None:
    """Which of :data:`REQUIRED_PERMISSIONS` are not granted; ``None`` if the answer is unreadable.

    Understands the shapes peekaboo versions print: ``data.permissions`` as a list of
    ``{name, isGranted}`` (or ``{name, status}``) entries, ``data.permissions`` as a mapping
    ``{"screen_recording": true, "accessibility": false}``, and ``data`` as the list itself.
    """
    if document is None:
        return None
    data = document.get("data", document)
    entries: Any = data.get("permissions") if isinstance(data, Mapping) else data
    granted: dict[str, bool] = {}
    if isinstance(entries, Mapping):
        for key, value in entries.items():
            granted[_key(str(key))] = _is_granted(value)
    elif isinstance(entries, Sequence) and not isinstance(entries, str):
        for entry in entries:
            if isinstance(entry, Mapping) and "name" in entry:
                state = next(
                    (entry[k] for k in ("isGranted", "granted", "is_granted", "status") if k in entry), None
                )
                granted[_key(str(entry["name"]))] = _is_granted(state)
    else:
        return None
    if not any(_key(name) in granted for name in REQUIRED_PERMISSIONS):
        return None
    return [name for name in REQUIRED_PERMISSIONS if not granted.get(_key(name), False)]


def _key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _is_granted(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in _GRANTED_WORDS
