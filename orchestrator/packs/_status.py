"""The status of a step or a scenario, and how a command's exit code follows from it.

``blocked`` (the step could not be asked, e.g. a placeholder found nothing) is worse than
``needs_exact_capability`` (the assistant lacks something it needs), which is worse than
``partial`` (some expectations unmet), which is worse than ``accepted``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

__all__ = ["STATUS_ORDER", "StepStatus", "exit_code", "worst"]

StepStatus = Literal["accepted", "partial", "needs_exact_capability", "blocked"]
STATUS_ORDER: tuple[StepStatus, ...] = ("accepted", "partial", "needs_exact_capability", "blocked")
"""Every status, from best to worst."""
_EXIT_CODES: dict[StepStatus, int] = {
    "accepted": 0,
    "partial": 1,
    "needs_exact_capability": 1,
    "blocked": 2,
}


def worst(statuses: Iterable[StepStatus]) -> StepStatus:
    """The worst of ``statuses`` (a scenario's status from its steps'); ``accepted`` when there are none."""
    return max(statuses, key=STATUS_ORDER.index, default="accepted")


def exit_code(status: StepStatus) -> int:
    """0 for accepted, 1 for partial or needs_exact_capability, 2 for blocked."""
    return _EXIT_CODES[status]
