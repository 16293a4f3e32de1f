"""A slot: one twin server with every twin the run needs, its own system under test, its own browser.

A slot is self-contained, so N slots run N trajectories at once without sharing anything but
the machine: each has its own twins (one :class:`~orchestrator.twins.TwinServer`, every twin on a
port the OS picked), its own system under test when ``[sut]`` starts one (a process, or an app
served in process; see :mod:`._sut`), and its own Chromium, launched on the first ``browser:``
step. :meth:`Slot.start` brings them up (twins first: the system under test is given their URLs),
:meth:`Slot.stop` takes everything down and is safe to call twice or after a failed start.

A slot that cannot start (its twins or its system under test) is tried again by the next
trajectory, but not forever: after :data:`MAX_START_FAILURES` failed starts in a row (a start, or
a restart of a system under test that died), it stops trying, and every later trajectory ends
``errored`` at once with the last start error instead of waiting out another start timeout. A
start that succeeds resets the count. Such trajectories have ``slot_failure: true`` in their
``outcome``.

With ``otlp_intake`` (``[telemetry] intake``) the slot also runs its own OTLP/HTTP receiver
(:class:`~orchestrator.telemetry.OtlpIntake`, started between the twins and the system under
test, whose environment names it in ``OTEL_EXPORTER_OTLP_ENDPOINT``), so the spans of one slot's
system under test never mix with another's.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack

import httpx

from orchestrator.agents.runner._browser import SlotBrowser
from orchestrator.agents.runner._settings import SlotSettings
from orchestrator.agents.runner._sut import SystemUnderTest
from orchestrator.agents.runner._trajectory import restart_failure, run_trajectory, slot_failure
from orchestrator.errors import OrchestrateError, UsageError
from orchestrator.scenarios import Trajectory, TrajectorySpec
from orchestrator.telemetry import OtlpIntake
from orchestrator.twins import RunningTwins, TwinRuntime, serve_twins

__all__ = ["MAX_START_FAILURES", "Slot"]

MAX_START_FAILURES = 3
"""Failed starts in a row after which a slot stops trying and errors its trajectories at once."""


class Slot:
    """One slot (see the module docstring); ``name`` names it in records and thread names."""

    def __init__(self, settings: SlotSettings, *, name: str = "slot-1") -> None:
        self.settings = settings
        self.name = name
        self.twins: RunningTwins | None = None
        self.sut: SystemUnderTest | None = None
        self.intake: OtlpIntake | None = None
        """The slot's OTLP receiver while started, with ``otlp_intake`` on."""
        self._stack: ExitStack | None = None
        self._browser: SlotBrowser | None = None
        self._lock = threading.Lock()
        self._start_failures = 0
        self._failing = "the slot"
        """What failed to start last: the twins or the system under test."""
        self._start_error = ""
        self.ssl_context = httpx.create_ssl_context(trust_env=False)
        """One TLS context for every trajectory's client: loading the CA store costs about as much
        CPU as a whole trajectory of HTTP on loopback, so it is done once per slot."""

    @property
    def started(self) -> bool:
        return self._stack is not None

    @property
    def runtimes(self) -> dict[str, TwinRuntime]:
        return dict(self.twins.runtimes) if self.twins is not None else {}

    @property
    def sut_url(self) -> str | None:
        return self.sut.url if self.sut is not None else None

    def start(self) -> None:
        """Start the twins, then the system under test; on failure, stop what started and raise."""
        if self._stack is not None:
            raise UsageError(f"slot {self.name} is already started")
        stack = ExitStack()
        self._failing = "the twins"
        try:
            if self.settings.twins:
                self.twins = stack.enter_context(
                    serve_twins(
                        list(self.settings.twins),
                        project_root=self.settings.project_root,
                        twins_dir=self.settings.twins_dir,
                        startup_timeout=self.settings.twin_start_timeout_s,
                        chaos=None,
                    )
                )
                if self.settings.chaos_profiles is not None:
                    for runtime in self.twins.runtimes.values():
                        runtime.profiles = dict(self.settings.chaos_profiles)
            intake_env: dict[str, str] = {}
            if self.settings.otlp_intake:
                self._failing = "the OTLP intake"
                intake = OtlpIntake(name=f"otlp-intake-{self.name}")
                stack.callback(intake.stop)
                intake.start()
                self.intake = intake
                intake_env = intake.environment()
            self._failing = "the system under test"
            sut = SystemUnderTest(self.settings, slot=self.name, twins=self.twins, extra_env=intake_env)
            stack.callback(sut.stop)
            sut.start()
            self.sut = sut
        except BaseException:
            self.twins = None
            self.sut = None
            self.intake = None
            stack.close()
            raise
        self._stack = stack
        self._start_failures = 0

    def stop(self) -> None:
        """Stop the browser, the system under test and the twins; joins their threads (idempotent)."""
        with self._lock:
            stack, self._stack = self._stack, None
            browser, self._browser = self._browser, None
        try:
            if browser is not None:
                browser.close()
        finally:
            if stack is not None:
                stack.close()
            self.twins = None
            self.sut = None
            self.intake = None

    def ensure_sut(self) -> str | None:
        """Start the system under test again if it died; what happened, or ``None`` when it was fine.

        A restart that fails counts as a failed start of the slot (see the module docstring).
        """
        if self.sut is None:
            return None
        try:
            restarted = self.sut.ensure_running()
        except Exception as exc:
            self._failing = "the system under test"
            self._note_start_failure(restart_failure(exc))
            raise
        if restarted is not None:
            self._start_failures = 0
        return restarted

    @property
    def gave_up(self) -> bool:
        """Whether the slot failed to start :data:`MAX_START_FAILURES` times in a row and stopped trying."""
        return self._start_failures >= MAX_START_FAILURES

    def _note_start_failure(self, error: str) -> None:
        self._start_failures += 1
        self._start_error = error

    def sut_alive(self) -> bool:
        return self.sut is not None and self.sut.alive()

    def browser(self) -> SlotBrowser:
        """The slot's Chromium (launched on its first use)."""
        with self._lock:
            if self._browser is None:
                self._browser = SlotBrowser(
                    self.name, action_timeout_s=self.settings.browser_action_timeout_s
                )
            return self._browser

    def end_trajectory(self) -> None:
        """Close the trajectory's browser context, if a browser step opened one."""
        browser = self._browser
        if browser is not None:
            browser.end_trajectory()

    def secrets(self) -> list[str]:
        """What a trajectory record must never show: every twin token, the SUT's secret-looking env."""
        tokens = [token for runtime in self.runtimes.values() for token in runtime.known_tokens()]
        return [*tokens, *(self.sut.secrets() if self.sut is not None else [])]

    def origins(self) -> dict[str, str]:
        """The slot's own addresses and the names a trajectory record gives them."""
        named: dict[str, str] = {}
        if self.twins is not None:
            for name, endpoint in self.twins.endpoints.items():
                named[endpoint.origin] = f"<twin:{name}>"
        url = self.sut_url
        if url is not None and self.sut is not None and self.sut.mode in ("app", "command"):
            named[url] = "<sut>"
        if self.intake is not None and self.intake.url is not None:
            named[self.intake.url] = "<otlp-intake>"
        return named

    def run(self, spec: TrajectorySpec, *, cancelled: threading.Event | None = None) -> Trajectory:
        """Run one trajectory on this slot, starting the slot first if needed (see :func:`run_trajectory`)."""
        if self.gave_up:
            return slot_failure(
                self.name,
                spec,
                f"{self._failing} failed to start {self._start_failures} times in a row, so slot "
                f"{self.name} no longer tries; last: {self._start_error}",
            )
        if not self.started:
            try:
                self.start()
            except OrchestrateError as exc:
                return self._failed_start(spec, f"slot {self.name} could not start: {exc}")
            except Exception as exc:  # the project's own app factory may raise anything
                return self._failed_start(
                    spec, f"slot {self.name} could not start: {type(exc).__name__}: {exc}"
                )
        return run_trajectory(self, spec, cancelled=cancelled)

    def _failed_start(self, spec: TrajectorySpec, error: str) -> Trajectory:
        self._note_start_failure(error)
        return slot_failure(self.name, spec, error)
