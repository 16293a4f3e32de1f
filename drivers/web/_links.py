"""Which links a ``routes: auto`` crawl follows, and what route each becomes.

The rules, applied to every link found on a page (or listed in ``sitemap.xml``):

- only ``http`` and ``https`` links (no ``mailto:``, ``tel:``, ``javascript:``, ``data:``);
- only the base URL's origin, and only under its path (a base of ``https://host/app`` keeps
  ``/app/...``); the route is the path relative to that base, as profiles write routes;
- no logout-like link (``logout``, ``log-out``, ``signout``, ``sign-out`` and ``_`` spellings,
  in the URL or the link's text), so a crawl never ends the session it may run in;
- no link to something other than a page, by extension (``.pdf``, images, archives, media,
  feeds, scripts, styles, ...); a page answering with another Content-Type is dropped by the
  crawler once it has seen the response;
- the fragment is dropped, and a link differing from a known one only in its query string is the
  same route (``/products?page=2`` is ``/products``); the first spelling found is kept.

Pure functions: no browser, no network.
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from posixpath import splitext
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from orchestrator.policy.test_profiles import origin_of

__all__ = [
    "MAX_SITEMAP_BYTES",
    "NON_HTML_EXTENSIONS",
    "LinkScope",
    "LinkVerdict",
    "is_html_content_type",
    "parse_sitemap",
]

NON_HTML_EXTENSIONS = frozenset(
    f".{extension}"
    for group in (
        "pdf zip gz tgz bz2 xz 7z rar tar dmg exe msi pkg deb rpm apk iso bin",
        "png jpg jpeg gif webp avif svg ico bmp tif tiff",
        "mp3 mp4 m4a m4v wav ogg ogv webm mov avi mkv flac",
        "css js mjs map json xml rss atom txt csv tsv ics vcf",
        "doc docx xls xlsx ppt pptx odt ods odp rtf epub",
        "woff woff2 ttf otf eot wasm",
    )
    for extension in group.split()
)
"""Extensions of links that are never pages (compared lower-cased)."""

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_LOGOUT = re.compile(r"(?<![a-z])(log|sign)[-_ ]?(out|off)(?![a-z])", re.IGNORECASE)
MAX_SITEMAP_BYTES = 5 * 1024 * 1024
_FORBIDDEN_DECLARATIONS = (b"<!doctype", b"<!entity")


def _is_logout(text: str) -> bool:
    """Whether a link's URL or text says log out, also spelt ``doLogout`` or ``log%6Fut``."""
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", unquote(text))
    return _LOGOUT.search(words) is not None


def _normalised(path: str) -> str:
    """``path`` without ``.`` and ``..`` segments (as a browser resolves them), keeping a final ``/``."""
    if not any(segment in (".", "..") for segment in path.split("/")):
        return path
    resolved = posixpath.normpath(path).lstrip("/")
    return "/" + resolved + ("/" if path.endswith("/") and resolved else "")


def is_html_content_type(content_type: str | None) -> bool:
    """Whether a response's Content-Type is a page (absent counts as one: browsers sniff it)."""
    if not content_type:
        return True
    return content_type.split(";", 1)[0].strip().lower() in _HTML_TYPES


@dataclass(frozen=True)
class LinkVerdict:
    """Where a link leads: its route, or why it is not followed."""

    route: str | None
    skipped: str | None = None


@dataclass(frozen=True)
class LinkScope:
    """The base URL a crawl stays under, and the rules above as methods."""

    base_url: str

    @property
    def origin(self) -> str:
        return origin_of(self.base_url)

    @property
    def _prefix(self) -> str:
        return urlsplit(self.base_url).path.rstrip("/")

    def route_of(self, href: str, *, page_url: str | None = None, text: str = "") -> LinkVerdict:
        """The route ``href`` (relative to ``page_url``) leads to, or why it is not followed."""
        url = urljoin(page_url or self.base_url, href.strip())
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            return LinkVerdict(None, f"not a web link ({parts.scheme or 'no'} scheme)")
        if origin_of(url) != self.origin:
            return LinkVerdict(None, f"another origin ({origin_of(url)})")
        path = _normalised(parts.path or "/")
        prefix = self._prefix
        if prefix and path != prefix and not path.startswith(prefix + "/"):
            return LinkVerdict(None, f"outside the base path {prefix}")
        if _is_logout(f"{path}?{parts.query}") or _is_logout(text):
            return LinkVerdict(None, "a logout link")
        extension = splitext(path.rsplit("/", 1)[-1])[1].lower()
        if extension in NON_HTML_EXTENSIONS:
            return LinkVerdict(None, f"not a page ({extension})")
        route = "/" + path[len(prefix) :].lstrip("/")
        return LinkVerdict(urlunsplit(("", "", route, parts.query, "")))

    @staticmethod
    def key_of(route: str) -> str:
        """What makes two routes the same page: the path, without the query string."""
        return route.split("?", 1)[0]


def parse_sitemap(data: bytes) -> tuple[list[str], list[str]]:
    """The page URLs and the nested sitemap URLs a ``sitemap.xml`` lists, in document order.

    A document that is not a sitemap (or declares a DOCTYPE or an ENTITY, refused before parsing
    so nothing can expand) lists nothing.
    """
    if len(data) > MAX_SITEMAP_BYTES or any(d in data.lower() for d in _FORBIDDEN_DECLARATIONS):
        return [], []
    try:
        # Safe here: DOCTYPE and ENTITY declarations were refused above, so nothing can expand.
        root = ET.fromstring(data)  # noqa: S314
    except ET.ParseError:
        return [], []
    kind = root.tag.rsplit("}", 1)[-1]
    if kind not in ("urlset", "sitemapindex"):
        return [], []
    locations = [
        (element.text or "").strip()
        for element in root.iter()
        if element.tag.rsplit("}", 1)[-1] == "loc" and (element.text or "").strip()
    ]
    return (locations, []) if kind == "urlset" else ([], locations)
