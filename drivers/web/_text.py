"""Text a page hands over, made safe to write: valid UTF-8 and of bounded size.

A page can put anything in a JavaScript string, including a lone UTF-16 surrogate
(``'\\ud800'``), which reaches Python as an unpaired surrogate code point that UTF-8 cannot
encode. Every string that comes from a page (console text, the ARIA snapshot, axe results, URLs,
error messages) goes through :func:`clean_text` or :func:`clean_json` before it is written, so one
odd character costs one replacement character (U+FFFD), never the capture.
"""

from __future__ import annotations

from typing import Any

__all__ = ["clean_json", "clean_text", "cut_text"]


def clean_text(text: str) -> str:
    """``text`` with every unpaired surrogate replaced by U+FFFD (valid pairs are joined)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def clean_json(document: Any) -> Any:
    """A copy of a JSON-shaped ``document`` whose strings (keys too) are :func:`clean_text`-ed."""
    if isinstance(document, str):
        return clean_text(document)
    if isinstance(document, dict):
        return {clean_json(key): clean_json(value) for key, value in document.items()}
    if isinstance(document, list | tuple):
        return [clean_json(item) for item in document]
    return document


def cut_text(text: str, limit: int) -> str:
    """:func:`clean_text` of ``text``, cut to ``limit`` characters with a note of how much was left out."""
    if len(text) <= limit:
        return clean_text(text)
    return clean_text(text[:limit]) + f" [truncated: {len(text) - limit} more characters]"
