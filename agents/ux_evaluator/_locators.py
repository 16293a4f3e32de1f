"""Stable names for what a finding is about: the page (its scope) and the resource (its locator).

A finding's fingerprint is made of these names, so they leave out what changes from run to run
without changing what the user sees: the host and port of a local server, query strings, build
hashes in bundle names, line and column numbers. The same broken image on the same page is the
same finding whether the app ran on port 5173 or 8080, before or after a rebuild.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from orchestrator.gate import Capture

__all__ = ["page_scope", "resource_locator", "strip_line_col"]

_LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}  # noqa: S104 - a host name to compare, not a bind
_WEB_SCHEMES = {"http", "https", "ws", "wss"}
_LINE_COL = re.compile(r"(?::\d+){1,2}$")
# A build hash in a bundle name (main.3f2a9c1b.js, app-B7xk29Qa.css) changes with every build.
_BUILD_HASH = re.compile(
    r"([.-])(?=[0-9A-Za-z_]*\d)(?=[0-9A-Za-z_]*[A-Za-z])[0-9A-Za-z_]{8,}(?=\.(?:m?js|css)\b)"
)


def strip_line_col(location: str) -> str:
    """``http://h/app.js:10:5`` -> ``http://h/app.js``."""
    return _LINE_COL.sub("", location.strip())


def _stable_path(path: str) -> str:
    return _BUILD_HASH.sub(r"\1<hash>", path or "/")


def resource_locator(url: str, page_url: str | None = None) -> str:
    """A URL as a stable locator: no scheme, port, query or fragment; no host when it is the page's.

    Same-origin and loopback resources become their path (``/static/missing.png``), so runs on
    different ports, or against different deployments of one app, give the same fingerprint;
    third-party resources keep their host (``cdn.example.com/lib.js``). Build hashes in bundle
    names are replaced by ``<hash>``.
    """
    parts = urlsplit(url.strip())
    if parts.scheme in _WEB_SCHEMES and parts.netloc:
        host = (parts.hostname or "").lower()
        page_host = (urlsplit(page_url).hostname or "").lower() if page_url else ""
        path = _stable_path(parts.path)
        if not page_host or host == page_host or host in _LOOPBACK:
            return path
        return f"{host}{path}"
    if parts.scheme == "data":
        return url[:40]
    return _stable_path(url.split("?", 1)[0].split("#", 1)[0]) or url


def page_scope(capture: Capture) -> str:
    """What page a capture shows, stably: its URL path (with a ``#/`` route), else a named scope.

    The host, port and query are left out, so a route captured on another port, or with a
    cache-busting query, is the same scope. Without a URL: the route name for routes,
    ``journey:<name>`` for journey steps, ``scenario:<name>`` and ``test:<name>`` otherwise.
    """
    if capture.url:
        parts = urlsplit(capture.url)
        if parts.scheme in _WEB_SCHEMES or parts.netloc:
            path = parts.path or "/"
            if parts.fragment.startswith(("/", "!/")):
                path += "#" + parts.fragment
            return path
    if capture.kind == "route":
        return capture.name if capture.name.startswith("/") else f"route:{capture.name}"
    if capture.kind == "journey_step":
        return f"journey:{capture.journey or capture.name}"
    return f"{capture.kind}:{capture.name}"
