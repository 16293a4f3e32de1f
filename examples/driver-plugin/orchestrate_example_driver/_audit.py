"""Audit one static HTML page: accessibility rules in axe-core's result format, and missing files.

Three axe rules are checked, the ones a parser can decide without rendering:

- ``image-alt`` (critical): an ``<img>`` without an ``alt`` attribute (``alt=""`` marks a
  decorative image and is fine, as are ``role="presentation"`` and ``role="none"``);
- ``button-name`` (critical): a ``<button>`` with no text, no ``aria-label``,
  ``aria-labelledby`` or ``title``, and no image with alt text inside;
- ``html-has-lang`` (serious): an ``<html>`` element without a ``lang``.

The results are written as axe-core writes them (``{"violations": [{"id", "impact", "help",
"nodes": [{"target", "html", "failureSummary"}]}]}``), so the UX evaluator's axe check reads them
like a browser's. Local files a page refers to (``img``, ``script``, stylesheet ``link``) that
do not exist are reported as 404s, as a browser would see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["PageAudit", "audit_page"]

_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
_RULES: dict[str, dict[str, Any]] = {
    "image-alt": {
        "impact": "critical",
        "tags": ["cat.text-alternatives", "wcag2a", "wcag111"],
        "description": "Ensures <img> elements have alternate text or a role of none or presentation",
        "help": "Images must have alternate text",
        "summary": "Fix any of the following:\n  Element does not have an alt attribute",
    },
    "button-name": {
        "impact": "critical",
        "tags": ["cat.name-role-value", "wcag2a", "wcag412"],
        "description": "Ensures buttons have discernible text",
        "help": "Buttons must have discernible text",
        "summary": (
            "Fix any of the following:\n  Element does not have inner text that is visible to screen readers"
        ),
    },
    "html-has-lang": {
        "impact": "serious",
        "tags": ["cat.language", "wcag2a", "wcag311"],
        "description": "Ensures every HTML document has a lang attribute",
        "help": "<html> element must have a lang attribute",
        "summary": "Fix any of the following:\n  The <html> element does not have a lang attribute",
    },
}
_RESOURCE_ATTRIBUTES = {"img": ("src", "image"), "script": ("src", "script"), "link": ("href", "stylesheet")}


@dataclass
class PageAudit:
    """What one page's audit found."""

    violations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Rule id -> the nodes that break it (axe node format)."""
    missing: list[dict[str, Any]] = field(default_factory=list)
    """Local resources that do not exist, as NetworkFailure records."""

    def axe_results(self, url: str) -> dict[str, Any]:
        """The audit as an axe-core results document."""
        violations = []
        for rule_id in sorted(self.violations):
            rule = _RULES[rule_id]
            violations.append(
                {
                    "id": rule_id,
                    "impact": rule["impact"],
                    "tags": rule["tags"],
                    "description": rule["description"],
                    "help": rule["help"],
                    "helpUrl": f"https://dequeuniversity.com/rules/axe/4.10/{rule_id}",
                    "nodes": self.violations[rule_id],
                }
            )
        return {
            "url": url,
            "testEngine": {"name": "orchestrate-example-static-html", "version": "0.1.0"},
            "violations": violations,
        }


def audit_page(page: Path, *, site: Path, route: str) -> PageAudit:
    """Audit the HTML file ``page`` of the site rooted at ``site``, served at ``route``."""
    parser = _Auditor(page, site, route)
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser.audit


class _Auditor(HTMLParser):
    def __init__(self, page: Path, site: Path, route: str) -> None:
        super().__init__(convert_charrefs=True)
        self.audit = PageAudit()
        self._page, self._site, self._route = page, site, route
        # The open elements, each with its CSS path segment and per-tag counts of its children.
        self._stack: list[tuple[str, str, dict[str, int]]] = [("#document", "", {})]
        self._button: dict[str, Any] | None = None

    # --- structure ---------------------------------------------------------------------------

    def _selector(self, tag: str, attrs: dict[str, str | None]) -> str:
        counts = self._stack[-1][2]
        counts[tag] = counts.get(tag, 0) + 1
        segment = tag if tag in ("html", "head", "body") else f"{tag}:nth-of-type({counts[tag]})"
        if attrs.get("id"):
            return f"#{attrs['id']}"
        parent = self._stack[-1][1]
        return f"{parent} > {segment}" if parent else segment

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        selector = self._selector(tag, attrs)
        html = self.get_starttag_text() or f"<{tag}>"
        self._check(tag, attrs, selector, html)
        if tag not in _VOID:
            self._stack.append((tag, selector, {}))

    def handle_startendtag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        self._check(tag, attrs, self._selector(tag, attrs), self.get_starttag_text() or f"<{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            if not self._button["named"]:
                self._violation("button-name", self._button["target"], self._button["html"])
            self._button = None
        # Close up to the matching element; HTML lets authors omit end tags (</p>, </li>).
        for index in range(len(self._stack) - 1, 0, -1):
            if self._stack[index][0] == tag:
                del self._stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if self._button is not None and data.strip():
            self._button["named"] = True

    # --- rules -------------------------------------------------------------------------------

    def _check(self, tag: str, attrs: dict[str, str | None], selector: str, html: str) -> None:
        if tag == "html" and not (attrs.get("lang") or "").strip():
            self._violation("html-has-lang", selector, html)
        if tag == "img":
            if "alt" not in attrs and attrs.get("role") not in ("presentation", "none"):
                self._violation("image-alt", selector, html)
            if self._button is not None and (attrs.get("alt") or "").strip():
                self._button["named"] = True
        if tag == "button":
            named = any((attrs.get(a) or "").strip() for a in ("aria-label", "aria-labelledby", "title"))
            self._button = {"target": selector, "html": html, "named": named}
        if tag in _RESOURCE_ATTRIBUTES:
            self._check_resource(tag, attrs)

    def _violation(self, rule_id: str, target: str, html: str) -> None:
        node = {
            "target": [target],
            "html": html,
            "impact": _RULES[rule_id]["impact"],
            "failureSummary": _RULES[rule_id]["summary"],
        }
        self.audit.violations.setdefault(rule_id, []).append(node)

    def _check_resource(self, tag: str, attrs: dict[str, str | None]) -> None:
        attribute, kind = _RESOURCE_ATTRIBUTES[tag]
        if tag == "link" and "stylesheet" not in (attrs.get("rel") or "").lower().split():
            return
        reference = (attrs.get(attribute) or "").strip()
        parts = urlsplit(reference)
        if not reference or parts.scheme or parts.netloc or not parts.path:
            return  # remote, data: or fragment-only references are not this driver's business
        path = unquote(parts.path)
        base = PurePosixPath("/") if path.startswith("/") else PurePosixPath(self._route).parent
        served = _normalise(base / path)
        file = (self._site / served.lstrip("/")).resolve()
        if not (file.is_relative_to(self._site) and file.is_file()):
            self.audit.missing.append(
                {
                    "url": served,
                    "method": "GET",
                    "status": 404,
                    "failure": f"no file {served} in the site",
                    "resource_type": kind,
                }
            )


def _normalise(path: PurePosixPath) -> str:
    """``/a/./b/../c`` -> ``/a/c``, never above ``/``."""
    parts: list[str] = []
    for part in path.parts[1:]:
        if part == "..":
            if parts:
                parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return "/" + "/".join(parts)
