"""Progress of a scenario job on stderr: a bar per scenario and one overall, or plain lines.

On a terminal, a rich display with one bar per scenario (trajectories run of planned, errored,
and once judged, satisfied and unsatisfied) and an overall bar. Not on a terminal, one line per
scenario when its last trajectory has run (and one when its last trajectory is judged), so a CI
log shows progress without a line per trajectory. stdout is never touched.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from orchestrator.cli._output import literal, printable

if TYPE_CHECKING:
    from orchestrator.pipelines.scenarios import RunPlan, Tally

__all__ = ["ScenarioProgress"]

_OVERALL = "(overall)"


class ScenarioProgress:
    """The ``on_plan`` and ``on_progress`` hooks of a scenario job (see the module docstring)."""

    def __init__(self, console: Console, *, live: bool) -> None:
        self._console = console
        self._live = live
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._planned: dict[str, int] = {}
        self._announced: set[tuple[str, str]] = set()

    def on_plan(self, run_id: str, plan: RunPlan, done: frozenset[str]) -> None:
        self._planned = {planned.scenario.id: planned.count for planned in plan.scenarios}
        cores = os.cpu_count() or 1
        if plan.parallel > 2 * cores:
            # Oversubscribed slots answer late, and a system under test with tight timeouts then
            # fails differently: the same seed would no longer give the same trajectories.
            self._console.print(
                literal(
                    f"warning: --parallel {plan.parallel} is more than twice the {cores} cores here; "
                    "slow answers may turn into timeouts and change results between runs of one seed",
                    "yellow",
                ),
                highlight=False,
                soft_wrap=True,
            )
        resumed = f", {len(done)} already done" if done else ""
        self._console.print(
            literal(
                f"Scenario run {run_id}: {len(plan.scenarios)} scenario(s), "
                f"{plan.total} trajectories{resumed}, parallel {plan.parallel}, "
                f"chaos {plan.chaos_profile}, seed {plan.seed}"
            ),
            highlight=False,
            soft_wrap=True,
        )
        if self._live:
            self.start(self._planned)

    def on_judging(self, run_id: str, planned: dict[str, int]) -> None:
        """``satisfy``'s start: name the run, then show the bars (or the lines) per scenario."""
        self._console.print(
            literal(
                f"Judging run {run_id}: {sum(planned.values())} trajectories of {len(planned)} scenario(s)"
            ),
            highlight=False,
            soft_wrap=True,
        )
        self._planned = dict(planned)
        if self._live:
            self.start(planned)

    def start(self, planned: dict[str, int]) -> None:
        """Show the bars (also used by ``satisfy``, which has no plan)."""
        self._planned = dict(planned)
        if not self._live or self._progress is not None:
            return
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=self._console,
            transient=False,
        )
        for scenario_id, count in self._planned.items():
            self._tasks[scenario_id] = progress.add_task(printable(scenario_id), total=count, counts="")
        self._tasks[_OVERALL] = progress.add_task(_OVERALL, total=sum(self._planned.values()), counts="")
        progress.start()
        self._progress = progress

    def on_progress(self, phase: str, scenario_id: str, tally: Tally) -> None:
        with self._lock:
            if self._progress is not None:
                self._update(phase, scenario_id, tally)
            else:
                self._line(phase, scenario_id, tally)

    def stop(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None

    def _counts(self, tally: Tally, scenario_id: str | None) -> str:
        def pick(counter: dict[str, int]) -> int:
            return counter.get(scenario_id, 0) if scenario_id else tally.total(counter)

        parts = []
        if pick(tally.errored):
            parts.append(f"{pick(tally.errored)} errored")
        if pick(tally.judged):
            parts.append(f"{pick(tally.satisfied)} satisfied, {pick(tally.unsatisfied)} unsatisfied")
            if pick(tally.unjudged):
                parts.append(f"{pick(tally.unjudged)} unjudged")
        return ", ".join(parts)

    def _update(self, phase: str, scenario_id: str, tally: Tally) -> None:
        assert self._progress is not None
        counter = tally.finished if phase == "ran" else tally.judged
        task = self._tasks.get(scenario_id)
        if task is not None:
            self._progress.update(
                task, completed=counter.get(scenario_id, 0), counts=self._counts(tally, scenario_id)
            )
        self._progress.update(
            self._tasks[_OVERALL], completed=tally.total(counter), counts=self._counts(tally, None)
        )

    def _line(self, phase: str, scenario_id: str, tally: Tally) -> None:
        counter = tally.finished if phase == "ran" else tally.judged
        planned = self._planned.get(scenario_id)
        if (
            planned is None
            or counter.get(scenario_id, 0) < planned
            or (phase, scenario_id) in self._announced
        ):
            return
        self._announced.add((phase, scenario_id))
        verb = "ran" if phase == "ran" else "judged"
        counts = self._counts(tally, scenario_id)
        self._console.print(
            literal(
                f"{scenario_id}: {verb} {planned} {'trajectory' if planned == 1 else 'trajectories'}"
                + (f" ({counts})" if counts else "")
            ),
            highlight=False,
            soft_wrap=True,
        )
