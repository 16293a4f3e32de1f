"""One trajectory of a scenario run shown as a run of its own (the scenario panel links to it)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from orchestrator.events import Event

__all__ = ["trajectory_events"]


def trajectory_events(events: Sequence[Event], trajectory_id: str) -> list[Event]:
    """One trajectory of a scenario run, as a run of its own: the events that belong to it.

    Those are the trajectory's own events (published under its id as ``task_id``, or naming it as
    ``trajectory_id``), and every event of the delegations that worked on it (running it, judging
    it: their objectives name it), matched by ``call_id``, so its model calls come along.
    """
    calls: set[str] = set()
    for event in events:
        payload = event.payload
        if event.task_id == trajectory_id or payload.get("trajectory_id") == trajectory_id:
            if event.call_id:
                calls.add(event.call_id)
        elif event.event_type == "conductor.worker.call" and event.call_id:
            objective = str(payload.get("worker_objective") or "")
            if re.search(rf"(?<![\w-]){re.escape(trajectory_id)}(?![\w-])", objective):
                calls.add(event.call_id)
    return [
        event
        for event in events
        if event.task_id == trajectory_id
        or event.payload.get("trajectory_id") == trajectory_id
        or (event.call_id is not None and event.call_id in calls)
    ]
