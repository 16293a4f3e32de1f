"""A slot's Chromium for ``browser:`` steps: launched once on first use, a fresh context per trajectory.

Playwright's async API runs on an event loop in a thread of the browser's own, so the slot may
drive it from any thread (the runner actor's, a test's) and stop it from another; every call
waits with a deadline. Within one trajectory the browser steps share one page (a multi-step UI
flow goes on where the last step left it); the context, with its cookies and storage, is closed
when the trajectory ends, so trajectories never share browser state. Every request the page makes
carries the trajectory header, so the twins' journals attribute what the UI caused.

Steps are the UI gate's journey vocabulary (:class:`~orchestrator.policy.test_profiles.StepSpec`):
goto, click, fill, press, expect_visible, wait_for, and mark (a name only: nothing is captured).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from orchestrator.chromium import first_line, launch_chromium
from orchestrator.policy.test_profiles import StepSpec

__all__ = ["BrowserRun", "SlotBrowser", "step_label"]

T = TypeVar("T")

_NAVIGATION_TIMEOUT_MS = 30_000.0
_CLOSE_TIMEOUT_S = 10.0


def step_label(step: StepSpec) -> str:
    """A short name for a browser step (never the value typed into a field)."""
    match step.action:
        case "goto":
            return f"goto {step.path}"
        case "mark":
            return f"mark {step.name}"
        case "press":
            return f"press {step.key} in {step.selector}"
        case _:
            return f"{step.action} {step.selector}"


@dataclass(frozen=True)
class BrowserRun:
    """What a ``browser:`` step did: the actions performed, the page's text and URL, the failure."""

    performed: list[str]
    text: str | None
    url: str | None
    failure: str | None = None


class SlotBrowser:
    """Chromium for one slot (see the module docstring). Thread-safe; :meth:`close` is idempotent."""

    def __init__(self, name: str, *, action_timeout_s: float = 10.0) -> None:
        self.name = name
        self.action_timeout_ms = action_timeout_s * 1000
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None

    @property
    def launched(self) -> bool:
        return self._browser is not None

    def run(
        self,
        steps: Sequence[StepSpec],
        *,
        base_url: str,
        headers: Mapping[str, str],
        timeout_s: float,
        cancelled: threading.Event,
    ) -> BrowserRun:
        """Perform ``steps`` on this trajectory's page within ``timeout_s``.

        A step that fails (a selector not found in time, a navigation error) ends the list with
        ``failure`` set; Chromium that cannot start raises :class:`BrowserLaunchError`; running out
        of time raises :class:`TimeoutError`.
        """
        budget_ms = max(timeout_s, 0.0) * 1000
        coroutine = self._run(steps, base_url.rstrip("/") + "/", dict(headers), budget_ms, cancelled)
        return self._call(coroutine, timeout_s)

    def end_trajectory(self) -> None:
        """Close this trajectory's context (its page, cookies and storage)."""
        if self._context is not None and self._loop is not None:
            with contextlib.suppress(Exception):
                self._call(self._close_context(), _CLOSE_TIMEOUT_S)

    def close(self) -> None:
        """Close the context, the browser and Playwright, then stop the loop and join its thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shut_down(), loop)
        with contextlib.suppress(Exception):
            future.result(_CLOSE_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_CLOSE_TIMEOUT_S)
        if not thread.is_alive():
            loop.close()

    # ----------------------------------------------------------------------------- the loop side

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout_s: float) -> T:
        loop = self._ensure_loop()
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            return future.result(max(timeout_s, 0.001))
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the browser did not finish within {timeout_s:.1f} s") from None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name=f"orchestrate-browser-{self.name}", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def _page_for(self, headers: dict[str, str]) -> Page:
        if self._browser is None:
            playwright = await async_playwright().start()
            try:
                self._browser, _ = await launch_chromium(playwright)
            except BaseException:
                await playwright.stop()
                raise
            self._playwright = playwright
        if self._page is None:
            self._context = await self._browser.new_context(extra_http_headers=headers)
            self._page = await self._context.new_page()
        return self._page

    async def _run(
        self,
        steps: Sequence[StepSpec],
        base_url: str,
        headers: dict[str, str],
        budget_ms: float,
        cancelled: threading.Event,
    ) -> BrowserRun:
        page = await self._page_for(headers)
        action_ms = min(self.action_timeout_ms, budget_ms)
        navigation_ms = min(_NAVIGATION_TIMEOUT_MS, budget_ms)
        performed: list[str] = []
        for step in steps:
            if cancelled.is_set():
                return BrowserRun(performed, None, page.url, "the run was stopped")
            label = step_label(step)
            try:
                await _perform(page, step, base_url, action_ms, navigation_ms)
            except PlaywrightError as exc:
                failure = f"{label} failed: {first_line(exc)}"
                return BrowserRun(performed, await _text(page), page.url, failure)
            performed.append(label)
        return BrowserRun(performed, await _text(page), page.url)

    async def _close_context(self) -> None:
        context, self._context, self._page = self._context, None, None
        if context is not None:
            await context.close()

    async def _shut_down(self) -> None:
        try:
            await self._close_context()
        finally:
            browser, self._browser = self._browser, None
            playwright, self._playwright = self._playwright, None
            try:
                if browser is not None:
                    await browser.close()
            finally:
                if playwright is not None:
                    await playwright.stop()


async def _perform(page: Page, step: StepSpec, base_url: str, action_ms: float, navigation_ms: float) -> None:
    """Do one step; Playwright errors (timeouts included) propagate."""
    if step.action == "mark":
        return
    if step.action == "goto":
        path = step.path or "/"
        url = path if path.startswith(("http://", "https://")) else base_url + path.lstrip("/")
        await page.goto(url, timeout=navigation_ms)
        return
    locator = page.locator(step.selector or "")
    match step.action:
        case "click":
            await locator.click(timeout=action_ms)
        case "fill":
            await locator.fill(step.value or "", timeout=action_ms)
        case "press":
            await locator.press(step.key or "", timeout=action_ms)
        case "expect_visible":
            await locator.wait_for(state="visible", timeout=action_ms)
        case "wait_for":
            await locator.wait_for(state="attached", timeout=action_ms)
        case _:  # pragma: no cover - StepSpec admits no other action
            raise ValueError(f"unknown step action {step.action!r}")


async def _text(page: Page) -> str | None:
    """The page's visible text, or ``None`` when there is no page body to read."""
    try:
        return await page.inner_text("body", timeout=2_000)
    except PlaywrightError:
        return None
