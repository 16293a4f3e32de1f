"""Just enough Swift reading for a static scan: blank out comments and strings, find type bodies.

Not a parser: :func:`mask` replaces the contents of comments (nested block comments included)
and string literals (plain, multi-line, raw, with interpolations) by spaces, keeping every offset
and newline, so patterns searched in the masked text never match inside a comment or a string.
:func:`type_spans` finds each ``struct``/``class``/``enum``/``actor``/``extension`` body by brace
matching on the masked text and says whether it is a view (conforms to ``View`` or
``ViewModifier``, or extends ``View``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TypeSpan", "innermost", "mask", "type_spans"]

_DECLARATION = re.compile(
    r"\b(?P<kind>struct|class|enum|actor|extension)\s+(?P<name>[A-Za-z_][\w.]*)\s*(?:<[^{}]*?>)?\s*"
    r"(?::\s*(?P<conforms>[^{}]*?))?\s*(?:\bwhere\b[^{}]*)?\{"
)
_VIEW_PROTOCOL = re.compile(r"\b(?:SwiftUI\.)?(?:View|ViewModifier)\b")


@dataclass(frozen=True)
class TypeSpan:
    """A type body: ``start`` is its opening brace, ``end`` just past its closing one."""

    name: str
    start: int
    end: int
    is_view: bool


def mask(text: str, *, keep_strings: bool = False) -> str:
    """``text`` with comment (and, unless ``keep_strings``, string) contents replaced by spaces."""
    out = list(text)
    length = len(text)

    def blank(start: int, end: int) -> None:
        for index in range(start, min(end, length)):
            if out[index] != "\n":
                out[index] = " "

    index = 0
    while index < length:
        if text.startswith("//", index):
            end = text.find("\n", index)
            end = length if end == -1 else end
            blank(index, end)
            index = end
        elif text.startswith("/*", index):
            end = _block_comment_end(text, index)
            blank(index, end)
            index = end
        elif text[index] in '#"':
            hashes = 0
            while index + hashes < length and text[index + hashes] == "#":
                hashes += 1
            if index + hashes < length and text[index + hashes] == '"':
                content_start, content_end, end = _string_bounds(text, index, hashes)
                if not keep_strings:
                    blank(content_start, content_end)
                index = end
            else:
                index += max(hashes, 1)
        else:
            index += 1
    return "".join(out)


def _block_comment_end(text: str, start: int) -> int:
    depth = 0
    index = start
    while index < len(text):
        if text.startswith("/*", index):
            depth += 1
            index += 2
        elif text.startswith("*/", index):
            depth -= 1
            index += 2
            if depth == 0:
                return index
        else:
            index += 1
    return len(text)


def _string_bounds(text: str, start: int, hashes: int) -> tuple[int, int, int]:
    """Where a string literal's content starts and ends, and where the literal ends."""
    length = len(text)
    quote_at = start + hashes
    multi = text.startswith('"""', quote_at)
    closing = ('"""' if multi else '"') + "#" * hashes
    index = content_start = quote_at + (3 if multi else 1)
    while index < length:
        char = text[index]
        if text.startswith(closing, index):
            return content_start, index, index + len(closing)
        if char == "\n" and not multi:
            break  # an unterminated single-line string ends at the line's end
        if char == "\\" and hashes == 0:
            if index + 1 < length and text[index + 1] == "(":
                index = _interpolation_end(text, index + 2)
                continue
            index += 2
            continue
        index += 1
    return content_start, index, index


def _interpolation_end(text: str, index: int) -> int:
    """Past the ``)`` closing an interpolation ``\\(...)`` whose content starts at ``index``."""
    depth = 1
    length = len(text)
    while index < length and depth:
        char = text[index]
        if char == '"':
            index += 1
            while index < length and text[index] not in '"\n':
                index += 2 if text[index] == "\\" else 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        index += 1
    return index


def _matching_brace(masked: str, open_at: int) -> int:
    depth = 0
    for index in range(open_at, len(masked)):
        char = masked[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(masked)


def type_spans(masked: str) -> list[TypeSpan]:
    """Every type body in the masked source, in source order."""
    spans = []
    for match in _DECLARATION.finditer(masked):
        conforms = match.group("conforms") or ""
        name = match.group("name")
        extends_view = match.group("kind") == "extension" and name in ("View", "SwiftUI.View")
        is_view = extends_view or bool(_VIEW_PROTOCOL.search(conforms))
        open_at = match.end() - 1
        spans.append(
            TypeSpan(name=name, start=open_at, end=_matching_brace(masked, open_at), is_view=is_view)
        )
    return spans


def innermost(spans: list[TypeSpan], offset: int, *, views_only: bool) -> TypeSpan | None:
    """The smallest span holding ``offset`` (only views when ``views_only``)."""
    holding = [s for s in spans if s.start <= offset < s.end and (s.is_view or not views_only)]
    return min(holding, key=lambda s: s.end - s.start, default=None)
