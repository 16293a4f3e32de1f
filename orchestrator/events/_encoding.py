"""How an event becomes its JSON line: orjson, with the few values orjson refuses handled here.

orjson writes compact UTF-8 JSON many times faster than the standard library, which matters
because every event of every thread is encoded as it is emitted. It refuses three things the
events must still survive, so a refusal takes a slower path that gives the same line the
standard library gave before:

- unpaired surrogates (undecodable bytes from paths, argv or process output, smuggled into
  ``str`` by ``surrogateescape``) cannot be written as UTF-8 nor parsed back: each becomes
  U+FFFD, in keys and values alike;
- dict keys that are not strings (``1``, ``True``) are written as their JSON text, as
  ``json.dumps`` does;
- integers past 64 bits are written exactly, by the standard library.

Pydantic models inside a payload (a ``TokenUsage`` in ``usage``) are written as their JSON
form. ``NaN`` and infinities, which are not JSON, are written as ``null``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson
from pydantic import BaseModel

__all__ = ["dumps"]

_SURROGATES = re.compile("[\ud800-\udfff]")


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (no trailing newline).

    Raises ``TypeError`` for a value no JSON can hold (bytes, sets, arbitrary objects).
    """
    try:
        return orjson.dumps(value, default=_jsonable)
    except TypeError:
        return _dumps_refused(value)


def _dumps_refused(value: Any) -> bytes:
    clean = _cleaned(value)
    try:
        return orjson.dumps(clean, default=_jsonable, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        # Integers past 64 bits: the standard library writes them exactly.
        return json.dumps(clean, separators=(",", ":"), ensure_ascii=False, default=_jsonable).encode()


def _cleaned(value: Any) -> Any:
    """``value`` with unpaired surrogates (in strings and keys) as U+FFFD and non-finite floats as None.

    None is what orjson writes for NaN and infinities; doing it here keeps the standard library
    path from writing ``NaN``, which is not JSON.
    """
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_cleaned(key): _cleaned(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_cleaned(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, BaseModel):
        return _cleaned(value.model_dump())
    return value
