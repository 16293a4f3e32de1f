"""Running a journey: its steps in order on one page, with a capture at every marked step.

Steps are :class:`~orchestrator.policy.test_profiles.StepSpec` actions. ``mark`` is a step the user
sees: it is captured (screenshot, ARIA snapshot, axe, and the console and network evidence since
the previous mark) and counted by the onboarding check; the other actions move the page along.
Step indexes are 1-based positions in the journey's step list, in the record and in folder names.
A mark waits for the page's ``load`` event, not for a navigation a click may be about to start:
after a click that changes pages, put an ``expect_visible`` for the new page before the mark.

A step that fails (a selector not found in time, a navigation error) ends the journey: a failed
capture of the page as it was is recorded with the reason, and the run goes on with the next
journey or route. Console or network evidence that arrives after the last mark is not dropped: it
gets a capture of the journey's end state. A run stopped between steps ends the journey too,
with a failed capture saying so.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from orchestrator.drivers.web._browser import first_line
from orchestrator.drivers.web._evidence import take_evidence
from orchestrator.drivers.web._naming import JOURNEYS_DIR, artifact_name, inside
from orchestrator.drivers.web._page_capture import Timeouts, join_url, record_capture
from orchestrator.drivers.web._recorder import PageRecorder
from orchestrator.gate import Capture, JourneyRecord, JourneyStep, safe_name
from orchestrator.policy.test_profiles import JourneySpec, StepSpec

__all__ = ["STOPPED", "run_journey", "step_label"]

STOPPED = "not captured: the run was stopped"


def step_label(step: StepSpec) -> str:
    """A short human name for a step (never the value typed into a field)."""
    match step.action:
        case "mark":
            return step.name or "mark"
        case "goto":
            return f"goto {step.path}"
        case "press":
            return f"press {step.key} in {step.selector}"
        case "expect_visible":
            return f"expect {step.selector} visible"
        case "wait_for":
            return f"wait for {step.selector}"
        case _:
            return f"{step.action} {step.selector}"


async def _perform(page: Page, step: StepSpec, base_url: str, timeouts: Timeouts) -> None:
    """Do one non-mark step; Playwright errors (including timeouts) propagate."""
    if step.action == "goto":
        await page.goto(
            join_url(base_url, step.path or "/"), wait_until="load", timeout=timeouts.navigation_ms
        )
        return
    locator = page.locator(step.selector or "")
    match step.action:
        case "click":
            await locator.click(timeout=timeouts.action_ms)
        case "fill":
            await locator.fill(step.value or "", timeout=timeouts.action_ms)
        case "press":
            await locator.press(step.key or "", timeout=timeouts.action_ms)
        case "expect_visible":
            await locator.wait_for(state="visible", timeout=timeouts.action_ms)
        case "wait_for":
            await locator.wait_for(state="attached", timeout=timeouts.action_ms)
        case _:  # pragma: no cover - StepSpec admits no other action
            raise ValueError(f"unknown step action {step.action!r}")


async def run_journey(
    context: BrowserContext,
    journey: JourneySpec,
    *,
    run_dir: Path,
    base_url: str,
    timeouts: Timeouts,
    cancelled: threading.Event | None = None,
) -> tuple[list[Capture], JourneyRecord]:
    """Run ``journey`` in a new page of ``context``; return its captures and its record.

    ``cancelled`` is looked at before every step: once it is set, no further step runs.
    """
    folder = f"{JOURNEYS_DIR}/{artifact_name(journey.name)}"
    captures: list[Capture] = []
    steps: list[JourneyStep] = []
    page = await context.new_page()
    recorder = PageRecorder(page)

    async def capture(index: int | None, name: str, subfolder: str, errors: list[str], *, axe: bool) -> None:
        directory = inside(run_dir, f"{folder}/{subfolder}")
        evidence = await take_evidence(page, directory, axe=axe, timeout_ms=timeouts.action_ms)
        console, network = recorder.take()
        captures.append(
            record_capture(
                run_dir=run_dir,
                directory=directory,
                kind="journey_step",
                name=name,
                url=page.url,
                journey=journey.name,
                step_index=index,
                evidence=evidence,
                console=console,
                network=network,
                errors=errors + evidence.errors if axe else errors,
            )
        )

    try:
        for index, step in enumerate(journey.steps, start=1):
            label = step_label(step)
            if cancelled is not None and cancelled.is_set():
                captures.append(
                    Capture(
                        kind="journey_step",
                        name=label,
                        journey=journey.name,
                        step_index=index,
                        ok=False,
                        error=STOPPED,
                    )
                )
                break
            steps.append(JourneyStep(index=index, name=label, counted=step.action == "mark"))
            if step.action == "mark":
                errors: list[str] = []
                try:
                    await page.wait_for_load_state("load", timeout=timeouts.navigation_ms)
                except PlaywrightError as exc:
                    errors.append(f"step {index} ({label}): page did not finish loading: {first_line(exc)}")
                await capture(index, label, f"{index:02d}-{safe_name(label, limit=40)}", errors, axe=True)
                continue
            try:
                await _perform(page, step, base_url, timeouts)
            except PlaywrightError as exc:
                problem = f"journey {journey.name!r} step {index} ({label}) failed: {first_line(exc)}"
                await capture(index, label, f"{index:02d}-failed", [problem], axe=False)
                break
        else:
            if recorder.pending:
                await capture(None, f"end of {journey.name}", "end", [], axe=False)
    finally:
        recorder.stop()
        with contextlib.suppress(PlaywrightError):
            await page.close()
    return captures, JourneyRecord(name=journey.name, onboarding=journey.onboarding, steps=steps)
