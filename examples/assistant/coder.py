"""A deterministic demo coder: fixes the first fixable backlog item by switching on a capability.

    python coder.py --backlog BACKLOG.md --repo DIR [--analysis analysis.json]

It reads backlog items (from ``analysis.json``'s ``backlog`` list first when given, then from the
Markdown backlog), takes the first one it can fix, and fixes exactly that one by setting a switch in
``DIR/capabilities.json`` to true:

- a ``route`` item: the route it names (``inventory_list``, ``item_detail``, ``low_stock``,
  ``reorder``, ``order_status``, also written with a space or a hyphen, such as "low stock");
- an ``evidence`` item: ``cite_sources``;
- a ``presentation`` item: ``tidy_lists``.

An item is fixable when its switch is off now. Markdown items are lines such as
``- [route] restock/low-items: the low_stock capability is missing``; an ``analysis.json`` item is
an object with ``category`` and ``problem`` and/or ``suggested_change`` text.

Exit codes: 0 a switch was turned on (the change is printed), 3 nothing in the backlog is fixable,
2 bad input (a missing or unreadable file, or one that is not in the expected shape).
The capabilities file is replaced atomically (a temporary file in the same folder, then a rename),
so the assistant, which reads it on every request, never sees half of it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BacklogItem", "InputError", "choose_fix", "main", "read_analysis", "read_backlog", "write_json"]

CAPABILITIES_FILE = "capabilities.json"
ROUTES = ("inventory_list", "item_detail", "low_stock", "reorder", "order_status")
SWITCH_FOR_CATEGORY = {"evidence": "cite_sources", "presentation": "tidy_lists"}
BACKLOG_LINE = re.compile(
    r"^\s*[-*]\s+(?:\[[ xX]\]\s+)?\[(?P<category>[\w-]+)\]\s+"
    r"(?:(?P<where>[\w.-]+/[\w.-]+):\s*)?(?P<problem>\S.*)$"
)
EXIT_CHANGED, EXIT_BAD_INPUT, EXIT_NOTHING_TO_FIX = 0, 2, 3


class InputError(ValueError):
    """A file the coder was given is missing or malformed; the message names it and the fix."""


@dataclass(frozen=True)
class BacklogItem:
    """One backlog entry: its category (route, evidence, presentation) and all its text."""

    category: str
    text: str


def route_pattern(route: str) -> re.Pattern[str]:
    """``low_stock`` also as "low stock" and "low-stock"; "reorder" never as in "reorder level"."""
    words = r"[ _-]".join(re.escape(word) for word in route.split("_"))
    return re.compile(rf"(?<![\w-]){words}(?![\w-])(?![ _-]level)", re.IGNORECASE)


def read_backlog(path: Path) -> list[BacklogItem]:
    """The items of a Markdown backlog, in order; lines that are not items are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the backlog ({exc.strerror}); pass an existing file") from exc
    items: list[BacklogItem] = []
    for line in text.splitlines():
        match = BACKLOG_LINE.match(line)
        if match:
            where = match.group("where") or ""
            items.append(BacklogItem(match.group("category").lower(), f"{where} {match.group('problem')}"))
    return items


def read_analysis(path: Path) -> list[BacklogItem]:
    """The ``backlog`` items of an analysis file, in order."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the analysis ({exc.strerror}); pass an existing file") from exc
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc
    backlog = raw.get("backlog") if isinstance(raw, dict) else None
    if not isinstance(backlog, list):
        raise InputError(f'{path}: field "backlog" must be a list of {{"category", "problem"}} objects')
    items: list[BacklogItem] = []
    for index, entry in enumerate(backlog):
        if not isinstance(entry, dict) or not isinstance(entry.get("category"), str):
            raise InputError(
                f'{path}: backlog[{index}] needs a "category" string (route, evidence, presentation)'
            )
        text = " ".join(
            str(entry[key]) for key in ("scenario", "step", "problem", "suggested_change") if entry.get(key)
        )
        items.append(BacklogItem(entry["category"].lower(), text))
    return items


def switch_for(item: BacklogItem) -> str | None:
    """The capability switch that fixes ``item``, or None when the coder cannot tell."""
    if item.category in SWITCH_FOR_CATEGORY:
        return SWITCH_FOR_CATEGORY[item.category]
    if item.category != "route":
        return None
    named = [(match.start(), route) for route in ROUTES if (match := route_pattern(route).search(item.text))]
    return min(named)[1] if named else None


def choose_fix(items: Sequence[BacklogItem], capabilities: dict[str, Any]) -> tuple[BacklogItem, str] | None:
    """The first item whose switch is off now, with that switch."""
    for item in items:
        switch = switch_for(item)
        if switch is not None and capabilities.get(switch) is not True:
            return item, switch
    return None


def read_capabilities(path: Path) -> dict[str, Any]:
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read ({exc.strerror}); --repo must hold {CAPABILITIES_FILE}"
        ) from exc
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise InputError(f'{path}: expected an object such as {{"low_stock": false}}')
    return raw


def write_json(path: Path, value: Any) -> None:
    """Replace ``path`` with ``value`` as JSON atomically: readers see the old file or the new one."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(value, indent=2) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fix the first fixable backlog item in capabilities.json.")
    parser.add_argument("--backlog", type=Path, required=True, help="Markdown backlog")
    parser.add_argument("--repo", type=Path, required=True, help="folder holding capabilities.json")
    parser.add_argument("--analysis", type=Path, help="analysis.json whose backlog items are read first")
    args = parser.parse_args(argv)
    path = args.repo / CAPABILITIES_FILE
    try:
        items = read_analysis(args.analysis) if args.analysis else []
        items += read_backlog(args.backlog)
        capabilities = read_capabilities(path)
    except InputError as exc:
        print(f"coder.py: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    fix = choose_fix(items, capabilities)
    if fix is None:
        print(f"nothing to fix: none of {len(items)} backlog items names a switch that is off in {path}")
        return EXIT_NOTHING_TO_FIX
    item, switch = fix
    write_json(path, {**capabilities, switch: True})
    print(f"turned on {switch} in {path} for the {item.category} item: {item.text.strip()}")
    return EXIT_CHANGED


if __name__ == "__main__":
    sys.exit(main())
