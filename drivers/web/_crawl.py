"""``routes: auto``: find a site's routes by crawling it in the browser, breadth-first.

From the base URL (depth 0) the crawler visits pages level by level and follows the links each
page has once loaded, so links a script adds count too; the pages the site's ``sitemap.xml`` lists
are added as if the base page linked them (depth 1). Which links are followed, and what route each
becomes, is :mod:`~orchestrator.drivers.web._links`. A visited page is dropped when its response is
not HTML (by Content-Type, or a download), when it redirects off the site or to a route already
found; a page whose navigation fails, or whose server answers with an HTTP error, is kept, so the
capture reports the broken link. The crawl stops
at ``max_routes`` routes, and follows no link from a page ``max_depth`` links away.

Pages are visited in parallel tabs of a browser context of its own (no HAR, no trace; images,
media and fonts not loaded), yet the result does not depend on which tab was faster: a level is
visited in chunks of at most the routes still wanted, and results are taken in the order their
links were found. Same site, same routes.

:class:`Crawler` keeps what it found as it goes, so a crawl cut short (a stop, the profile's
deadline) still yields the routes found so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, Route
from playwright.async_api import Error as PlaywrightError

from orchestrator.drivers.web._browser import first_line
from orchestrator.drivers.web._links import LinkScope, is_html_content_type, parse_sitemap
from orchestrator.drivers.web._page_capture import Timeouts, join_url
from orchestrator.drivers.web._text import clean_text
from orchestrator.policy.test_profiles import origin_of

__all__ = ["CrawlLimits", "Crawler", "Discovery", "FoundRoute"]

SITEMAP = "/sitemap.xml"
_MAX_NESTED_SITEMAPS = 5
_MAX_SKIPPED = 200
"""Skipped links kept in the record (the count is always exact)."""
_NOT_LOADED = frozenset({"image", "media", "font"})
_LINKS_JS = """elements => elements
    .filter(e => typeof e.href === 'string' && !e.hasAttribute('download'))
    .map(e => [e.href, (e.getAttribute('aria-label') || e.textContent || '').trim().slice(0, 200)])"""
_DOWNLOAD_ERRORS = ("Download is starting", "net::ERR_ABORTED")


@dataclass(frozen=True)
class CrawlLimits:
    """How far a ``routes: auto`` crawl goes (the profile's ``max_routes`` and ``max_depth``)."""

    max_routes: int = 25
    max_depth: int = 3


@dataclass(frozen=True)
class FoundRoute:
    """One route the crawl keeps, how deep it was and what led to it."""

    route: str
    depth: int
    via: str
    """``base``, ``sitemap``, or the route of the page that linked it."""
    status: int | None = None
    error: str | None = None
    """Why the page could not be loaded; the capture will say so again."""


@dataclass(frozen=True)
class Discovery:
    """What a crawl found: the routes (in crawl order), what it skipped and why, how it ended."""

    base_url: str
    limits: CrawlLimits
    found: list[FoundRoute]
    skipped: list[tuple[str, str]]
    """(link, reason), the first :data:`_MAX_SKIPPED` of them."""
    skipped_count: int
    sitemap: str
    duration_s: float
    stopped: str | None = None
    """Why the crawl ended before it ran out of links or reached ``max_routes``."""

    @property
    def routes(self) -> list[str]:
        return [found.route for found in self.found]

    def as_json(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "max_routes": self.limits.max_routes,
            "max_depth": self.limits.max_depth,
            "routes": [
                {"route": f.route, "depth": f.depth, "via": f.via, "status": f.status, "error": f.error}
                for f in self.found
            ],
            "sitemap": self.sitemap,
            "skipped": [{"link": link, "reason": reason} for link, reason in self.skipped],
            "skipped_count": self.skipped_count,
            "duration_s": round(self.duration_s, 3),
            "stopped": self.stopped,
        }


@dataclass(frozen=True)
class _Candidate:
    route: str
    depth: int
    via: str


@dataclass
class _Visit:
    status: int | None = None
    final_url: str | None = None
    not_a_page: str | None = None
    error: str | None = None
    links: list[tuple[str, str]] = field(default_factory=list)


class Crawler:
    """One crawl of one site (see the module docstring); :meth:`run` it, then read :meth:`discovery`."""

    def __init__(
        self, browser: Browser, base_url: str, limits: CrawlLimits, *, parallel: int, timeouts: Timeouts
    ) -> None:
        self.browser = browser
        self.scope = LinkScope(base_url)
        self.limits = limits
        self.parallel = max(1, parallel)
        self.timeouts = timeouts
        self.found: list[FoundRoute] = []
        self.sitemap = "not read"
        self._found_keys: set[str] = set()
        self._queued_keys: set[str] = set()
        self._skipped: dict[str, str] = {}
        self._started = time.monotonic()
        self._pages: asyncio.Queue[Page] = asyncio.Queue()
        self._opened = 0

    def discovery(self, stopped: str | None = None) -> Discovery:
        """What was found so far."""
        return Discovery(
            base_url=self.scope.base_url,
            limits=self.limits,
            found=list(self.found),
            skipped=list(self._skipped.items())[:_MAX_SKIPPED],
            skipped_count=len(self._skipped),
            sitemap=self.sitemap,
            duration_s=time.monotonic() - self._started,
            stopped=stopped,
        )

    async def run(self) -> None:
        """Crawl until out of links, at ``max_routes``, or cancelled (what was found is kept)."""
        self._started = time.monotonic()
        context = await self.browser.new_context(locale="en-US", timezone_id="UTC", reduced_motion="reduce")
        try:
            await context.route("**/*", _skip_heavy)
            level = [self._queue("/", 0, "base")]
            from_sitemap = await self._read_sitemap(context) if self.limits.max_depth > 0 else []
            depth = 0
            while level and not self._full:
                next_level: list[_Candidate] = []
                await self._visit_level(context, level, next_level)
                for route in from_sitemap if depth == 0 else []:
                    if self._new(route):
                        next_level.append(self._queue(route, 1, "sitemap"))
                level, depth = next_level, depth + 1
        finally:
            with contextlib.suppress(PlaywrightError):
                await context.close()

    @property
    def _full(self) -> bool:
        return len(self.found) >= self.limits.max_routes

    def _new(self, route: str) -> bool:
        return LinkScope.key_of(route) not in self._queued_keys

    def _queue(self, route: str, depth: int, via: str) -> _Candidate:
        self._queued_keys.add(LinkScope.key_of(route))
        return _Candidate(route, depth, via)

    def _skip(self, link: str, reason: str) -> None:
        self._skipped.setdefault(clean_text(link), reason)

    async def _visit_level(
        self, context: BrowserContext, level: Sequence[_Candidate], next_level: list[_Candidate]
    ) -> None:
        waiting = [c for c in level if LinkScope.key_of(c.route) not in self._found_keys]
        while waiting and not self._full:
            wanted = self.limits.max_routes - len(self.found)
            chunk, waiting = waiting[:wanted], waiting[wanted:]
            visits = await asyncio.gather(*(self._visit(context, c.route) for c in chunk))
            for candidate, visit in zip(chunk, visits, strict=True):
                if self._full:
                    break
                self._take(candidate, visit, next_level)

    def _take(self, candidate: _Candidate, visit: _Visit, next_level: list[_Candidate]) -> None:
        """Keep the visited route (or say why not) and queue the links it has."""
        url = join_url(self.scope.base_url, candidate.route)
        if visit.not_a_page is not None:
            self._skip(url, visit.not_a_page)
            return
        route = candidate.route
        if visit.final_url is not None and visit.final_url != url:
            landed = self.scope.route_of(visit.final_url)
            if landed.route is None:
                self._skip(url, f"redirects to {clean_text(visit.final_url)}: {landed.skipped}")
                return
            route = landed.route
        key = LinkScope.key_of(route)
        if key in self._found_keys:
            self._skip(url, f"the same page as {route}")
            return
        self._found_keys.add(key)
        self._queued_keys.add(key)
        self.found.append(
            FoundRoute(route, candidate.depth, candidate.via, status=visit.status, error=visit.error)
        )
        if candidate.depth >= self.limits.max_depth:
            return
        page_url = visit.final_url or url
        for href, text in visit.links:
            verdict = self.scope.route_of(href, page_url=page_url, text=text)
            if verdict.route is None:
                self._skip(href, verdict.skipped or "not followed")
            elif self._new(verdict.route):
                next_level.append(self._queue(verdict.route, candidate.depth + 1, route))

    async def _visit(self, context: BrowserContext, route: str) -> _Visit:
        page = await self._page(context)
        url = join_url(self.scope.base_url, route)
        keep = True
        try:
            try:
                response = await page.goto(url, wait_until="load", timeout=self.timeouts.navigation_ms)
            except PlaywrightError as exc:
                keep = False  # a failed navigation can leave the tab stuck
                message = first_line(exc)
                if any(marker in message for marker in _DOWNLOAD_ERRORS):
                    return _Visit(not_a_page="not a page (a download)")
                return _Visit(error=clean_text(f"navigation to {url} failed: {message}"))
            content_type = await response.header_value("content-type") if response is not None else None
            status = response.status if response is not None else None
            # An error answer is kept whatever its type: a broken link is what the capture must show.
            if (status is None or status < 400) and not is_html_content_type(content_type):
                return _Visit(not_a_page=f"not a page ({clean_text(content_type or '')})")
            try:
                links = await page.eval_on_selector_all("a[href], area[href]", _LINKS_JS)
            except PlaywrightError as exc:  # the page navigated away while it was read
                keep = False
                return _Visit(
                    status=status,
                    final_url=page.url,
                    error=clean_text(f"the links of {url} could not be read: {first_line(exc)}"),
                )
            return _Visit(
                status=status,
                final_url=page.url,
                links=[(str(href), str(text)) for href, text in links],
            )
        finally:
            await self._release(page, keep=keep)

    async def _page(self, context: BrowserContext) -> Page:
        """A tab from the pool; a new one while fewer than ``parallel`` are open."""
        if self._pages.empty() and self._opened < self.parallel:
            self._opened += 1
            return await context.new_page()
        return await self._pages.get()

    async def _release(self, page: Page, *, keep: bool) -> None:
        if keep:
            self._pages.put_nowait(page)
            return
        self._opened -= 1
        with contextlib.suppress(PlaywrightError):
            await page.close()

    async def _read_sitemap(self, context: BrowserContext) -> list[str]:
        """The routes ``sitemap.xml`` lists (following a sitemap index one level), in its order."""
        pages, nested = await self._fetch_sitemap(context, join_url(self.scope.base_url, SITEMAP))
        if pages is None:
            return []
        for url in nested[:_MAX_NESTED_SITEMAPS]:
            if origin_of(url) != self.scope.origin:
                self._skip(url, f"another origin ({origin_of(url)}) (in sitemap.xml)")
                continue
            more, _ = await self._fetch_sitemap(context, url, record=False)
            pages += more or []
        self.sitemap = f"{len(pages)} URLs"
        routes: list[str] = []
        for url in pages:
            verdict = self.scope.route_of(url)
            if verdict.route is None:
                self._skip(url, f"{verdict.skipped} (in sitemap.xml)")
            else:
                routes.append(verdict.route)
        return routes

    async def _fetch_sitemap(
        self, context: BrowserContext, url: str, *, record: bool = True
    ) -> tuple[list[str] | None, list[str]]:
        try:
            response = await context.request.get(
                url, timeout=self.timeouts.navigation_ms, fail_on_status_code=False
            )
        except PlaywrightError as exc:
            if record:
                self.sitemap = f"unreachable ({first_line(exc)})"
            return None, []
        try:
            if response.status != 200:
                if record:
                    self.sitemap = f"absent (HTTP {response.status})"
                return None, []
            pages, nested = parse_sitemap(await response.body())
        finally:
            await response.dispose()
        if record and not pages and not nested:
            self.sitemap = "not a sitemap"
        return pages, nested


async def _skip_heavy(route: Route) -> None:
    """Images, media and fonts hold no links; the crawl does not wait for them."""
    if route.request.resource_type in _NOT_LOADED:
        await route.abort()
    else:
        await route.fallback()
