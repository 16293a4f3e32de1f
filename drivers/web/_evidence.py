"""The evidence taken of a page: full-page screenshot, ARIA snapshot and axe-core results.

axe-core is the copy shipped inside the ``axe-playwright-python`` wheel. Contexts register it as
an init script once (:func:`install_axe`), so each page has ``window.axe`` from its first script
on and a capture only asks it to run; pages opened elsewhere get it injected on demand. Each
piece of evidence is taken separately: one that fails (an ARIA snapshot of a page that navigated
away, say) is reported with the others still on disk. Page text in the snapshot and the axe
results is made valid UTF-8 before it is written (:mod:`~orchestrator.drivers.web._text`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from orchestrator.artifacts import atomic_write_bytes, atomic_write_json
from orchestrator.drivers.web._browser import first_line
from orchestrator.drivers.web._text import clean_json, clean_text

__all__ = [
    "AXE_OPTIONS",
    "Evidence",
    "axe_script",
    "install_axe",
    "take_evidence",
]

AXE_OPTIONS: dict[str, Any] = {"resultTypes": ["violations"]}
"""Full details for violations only (axe-playwright-python's default); other results stay terse."""

SCREENSHOT = "screenshot.png"
ARIA = "aria.yaml"
AXE = "axe.json"


@cache
def axe_script() -> str:
    """The axe-core source shipped with axe-playwright-python."""
    return resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


async def install_axe(context: BrowserContext) -> None:
    """Make axe-core available on every page the context opens."""
    await context.add_init_script(script=axe_script())


async def run_axe(page: Page) -> dict[str, Any]:
    """Run axe-core on the page (injecting it first if the page does not have it)."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(axe_script())
    results = await page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    if not isinstance(results, dict) or "violations" not in results:
        raise ValueError("axe-core returned no violations list")
    return results


@dataclass
class Evidence:
    """Files written for one capture (absolute paths) and what went wrong taking them."""

    screenshot: Path | None = None
    aria_snapshot: Path | None = None
    axe: Path | None = None
    errors: list[str] = field(default_factory=list)


async def take_evidence(page: Page, directory: Path, *, axe: bool = True, timeout_ms: float) -> Evidence:
    """Screenshot, ARIA snapshot and (unless ``axe=False``) axe results of ``page`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    evidence = Evidence()
    try:
        shot = directory / SCREENSHOT
        await page.screenshot(
            path=shot, full_page=True, animations="disabled", caret="hide", timeout=timeout_ms
        )
        evidence.screenshot = shot
    except PlaywrightError as exc:
        evidence.errors.append(clean_text(f"screenshot: {first_line(exc)}"))
    try:
        snapshot = await page.locator("body").aria_snapshot(timeout=timeout_ms)
        aria = directory / ARIA
        atomic_write_bytes(aria, clean_text(snapshot.rstrip("\n") + "\n").encode("utf-8"))
        evidence.aria_snapshot = aria
    except PlaywrightError as exc:
        evidence.errors.append(clean_text(f"aria snapshot: {first_line(exc)}"))
    if axe:
        try:
            results = await run_axe(page)
            path = directory / AXE
            atomic_write_json(path, clean_json(results))
            evidence.axe = path
        except (PlaywrightError, ValueError) as exc:
            evidence.errors.append(clean_text(f"axe: {first_line(exc)}"))
    return evidence
