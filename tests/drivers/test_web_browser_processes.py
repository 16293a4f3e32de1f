"""How Chromium is launched: one renderer process per page, and Playwright's own settings kept.

Read from ``/proc``: the processes this test started (Playwright's driver and the browser under
it), their command lines and types.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from orchestrator.drivers.web import LAUNCH_ARGS, browser_candidates, launch_chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads processes from /proc"),
]


def descendants() -> list[str]:
    """The command lines of every process under this one."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[str] = []
    waiting = list(children.get(os.getpid(), []))
    while waiting:
        pid = waiting.pop()
        waiting += children.get(pid, [])
        try:
            found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def renderers() -> int:
    return sum(1 for command in descendants() if "--type=renderer" in command)


def disabled_features(command: str) -> set[str]:
    match = re.search(r"--disable-features=(\S*)", command)
    return set(match.group(1).split(",")) if match else set()


@pytest.mark.timeout(60)
def test_every_feature_playwright_disables_stays_disabled() -> None:
    # Chromium reads only the last --disable-features: ours must repeat Playwright's own list.
    executable = next(candidate.path for candidate in browser_candidates())

    async def playwrights_own() -> set[str]:
        async with async_playwright() as playwright:
            # A browser another test is still closing may be under this process too: only a new one counts.
            before = set(descendants())
            browser = await playwright.chromium.launch(executable_path=executable)
            try:
                commands = [
                    c
                    for c in set(descendants()) - before
                    if "--remote-debugging-pipe" in c and "--type=" not in c
                ]
                # The browser process (a launcher script may stand above it with the same arguments).
                assert commands, "no browser process found under this test"
                return set().union(*(disabled_features(c) for c in commands))
            finally:
                await browser.close()

    (ours,) = [arg for arg in LAUNCH_ARGS if arg.startswith("--disable-features=")]
    missing = asyncio.run(playwrights_own()) - disabled_features(ours)
    assert not missing, f"add {sorted(missing)} to _PLAYWRIGHT_DISABLED_FEATURES"


@pytest.mark.timeout(60)
def test_each_page_costs_one_renderer_process_and_nothing_more() -> None:
    async def count() -> list[int]:
        async with async_playwright() as playwright:
            already = renderers()  # of a browser another test may still be closing
            browser, _ = await launch_chromium(playwright)
            try:
                counts = []
                for _ in range(3):
                    context = await browser.new_context()
                    page = await context.new_page()
                    await page.set_content("<h1>hello</h1>")
                    counts.append(renderers() - already)
                return counts
            finally:
                await browser.close()

    assert asyncio.run(count()) == [1, 2, 3]
