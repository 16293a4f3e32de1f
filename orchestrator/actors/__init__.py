"""The actor runtime: typed actors, workers, conductors and how a run is driven.

Built on pykka threading actors. Messages are the frozen models of :mod:`orchestrator.messages`;
asks always have a timeout and fail with typed errors; a worker declares its capabilities as
request and result models; a delegation's failure is data (an :class:`Outcome` with a
:class:`Failure`); tool and model calls are recorded by one bracket; a run always ends with one
terminal event.
"""

from __future__ import annotations

from orchestrator.actors._base import ActorHandle, EventEmitter, Reply, TypedActor, handles, spawn
from orchestrator.actors._bracket import ModelCallRecord, ToolCallRecord, model_call, new_trace_id, tool_call
from orchestrator.actors._conductor import Conductor, TerminalGuard
from orchestrator.actors._contract import Capability, ContractModel, Done
from orchestrator.actors._delegation import (
    Delegation,
    Failure,
    FailureKind,
    Outcome,
    SupervisedWorker,
    WorkerPool,
)
from orchestrator.actors._run import run_conductor
from orchestrator.actors._worker import Worker

__all__ = [
    "ActorHandle",
    "Capability",
    "Conductor",
    "ContractModel",
    "Delegation",
    "Done",
    "EventEmitter",
    "Failure",
    "FailureKind",
    "ModelCallRecord",
    "Outcome",
    "Reply",
    "SupervisedWorker",
    "TerminalGuard",
    "ToolCallRecord",
    "TypedActor",
    "Worker",
    "WorkerPool",
    "handles",
    "model_call",
    "new_trace_id",
    "run_conductor",
    "spawn",
    "tool_call",
]
