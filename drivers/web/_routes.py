"""Which routes a capture session may visit, and finding them when a profile says ``routes: auto``.

- :func:`foreign_route_error`: routes (and journey ``goto`` steps) on an origin that is neither
  the target's nor in the profile's ``allowed_origins`` are a :class:`ConfigError` naming the
  profile's file and field, before any browser starts.
- :func:`discover_routes`: the crawl (:class:`~orchestrator.drivers.web._crawl.Crawler`) in the
  session's browser, bounded by the session's deadline and stopped with the run; what it found is
  written to ``web/routes.json`` and reported as progress, also when it was cut short.
- :func:`nothing_found`: the error when a crawl leaves nothing to visit, so a run never passes
  silently on a site it could not see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog
from playwright.async_api import Browser

from orchestrator.artifacts import atomic_write_json
from orchestrator.drivers.web._browser import first_line
from orchestrator.drivers.web._crawl import Crawler, CrawlLimits, Discovery
from orchestrator.drivers.web._naming import WEB_DIR, inside
from orchestrator.drivers.web._page_capture import Timeouts
from orchestrator.drivers.web._text import clean_json, clean_text
from orchestrator.errors import ConfigError
from orchestrator.policy.test_profiles import JourneySpec, foreign_routes, origin_of

__all__ = ["DISCOVERED_ROUTES_FILE", "discover_routes", "foreign_route_error", "nothing_found"]

DISCOVERED_ROUTES_FILE = f"{WEB_DIR}/routes.json"
_SHOWN = 10
_STOP_GRACE_S = 2.0
"""How long a stopped crawl may take to close its tabs."""
_log = structlog.get_logger(__name__)


def foreign_route_error(
    routes: Sequence[str] | str,
    journeys: Sequence[JourneySpec],
    *,
    base_url: str,
    allowed_origins: Sequence[str],
    profile_name: str | None,
    profile_file: Path | None,
) -> ConfigError | None:
    """The error for the first route on an origin neither the target's nor allowed; ``None`` if none."""
    foreign = foreign_routes(routes, journeys, base_url=base_url, allowed_origins=allowed_origins)
    if not foreign:
        return None
    first = foreign[0]
    more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
    return ConfigError(
        profile_file,
        f"profiles.{profile_name}.{first.field}" if profile_name else first.field,
        f"{clean_text(first.url)!r} is on {first.origin}, not on the target's origin "
        f"{origin_of(base_url)}{more}",
        f'use a path on the target, or allow that origin in the profile: allowed_origins: ["{first.origin}"]',
    )


async def discover_routes(
    browser: Browser,
    *,
    base_url: str,
    limits: CrawlLimits,
    parallel: int,
    timeouts: Timeouts,
    deadline: float,
    until_stopped: Callable[[], Awaitable[None]],
    run_dir: Path,
    progress: Callable[[str, Mapping[str, Any]], None],
) -> Discovery:
    """Crawl ``base_url`` until done, ``deadline`` (loop time) or a stop; record and report the result."""
    progress(
        f"discovering routes from {base_url} (up to {limits.max_routes}, {limits.max_depth} links deep)",
        {"base_url": base_url, "max_routes": limits.max_routes, "max_depth": limits.max_depth},
    )
    crawler = Crawler(browser, base_url, limits, parallel=parallel, timeouts=timeouts)
    crawl = asyncio.ensure_future(crawler.run())
    stop = asyncio.ensure_future(until_stopped())
    stopped: str | None = None
    try:
        async with asyncio.timeout_at(deadline):
            await asyncio.wait({crawl, stop}, return_when=asyncio.FIRST_COMPLETED)
    except TimeoutError:
        stopped = "the profile's timeout ran out"
    finally:
        stop.cancel()
        crawl.cancel()
        await asyncio.wait({crawl, stop}, timeout=_STOP_GRACE_S)
    if stopped is None and stop.done() and not crawl.done():
        stopped = "the run was stopped"
    if crawl.done() and not crawl.cancelled() and (error := crawl.exception()) is not None:
        _log.warning("route discovery failed", error=str(error))
        stopped = clean_text(f"the crawl failed: {type(error).__name__}: {first_line(error)}")
    found = crawler.discovery(stopped)
    atomic_write_json(inside(run_dir, DISCOVERED_ROUTES_FILE), clean_json(found.as_json()))
    shown = ", ".join(found.routes[:_SHOWN]) + (", …" if len(found.routes) > _SHOWN else "")
    progress(
        f"discovered {len(found.routes)} routes in {found.duration_s:.1f} s"
        + (f": {shown}" if shown else "")
        + (f" (crawl cut short: {stopped})" if stopped else ""),
        {
            "routes": found.routes,
            "skipped_links": found.skipped_count,
            "sitemap": found.sitemap,
            "duration_s": round(found.duration_s, 3),
        },
    )
    return found


def nothing_found(found: Discovery) -> str:
    """Why ``routes: auto`` left nothing to visit, and what to do about it."""
    reasons = "; ".join(f"{link}: {reason}" for link, reason in found.skipped[:3])
    why = found.stopped or reasons or "no page answered"
    return (
        f"routes: auto found no page to visit from {found.base_url} ({why}). Fix: check the target's "
        "base_url, or list the routes in the profile (routes: [/, /pricing])"
    )
