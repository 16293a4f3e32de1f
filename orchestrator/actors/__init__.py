"""The actor runtime: typed actors, workers, conductors and how a run is driven.

Built on pykka threading actors. Messages are the frozen models of :mod:`orchestrator.messages`;
asks always have a timeout and fail with typed errors; a run always ends with one terminal event.
"""

from __future__ import annotations

from orchestrator.actors._base import ActorHandle, EventEmitter, Reply, TypedActor, handles, spawn
from orchestrator.actors._conductor import (
    Conductor,
    Delegation,
    SupervisedWorker,
    TerminalGuard,
    run_conductor,
)
from orchestrator.actors._worker import Worker

__all__ = [
    "ActorHandle",
    "Conductor",
    "Delegation",
    "EventEmitter",
    "Reply",
    "SupervisedWorker",
    "TerminalGuard",
    "TypedActor",
    "Worker",
    "handles",
    "run_conductor",
    "spawn",
]
