"""orchestrate: test agentic software the way it really fails.

The public Python API. Everything a user may import is listed in ``__all__`` (sorted, guarded by
a test); private modules start with an underscore and may change without notice.
"""

from __future__ import annotations

__version__ = "0.1.0"

from orchestrator.actors import (
    ActorHandle,
    Conductor,
    Delegation,
    EventEmitter,
    Reply,
    SupervisedWorker,
    TerminalGuard,
    TypedActor,
    Worker,
    handles,
    run_conductor,
    spawn,
)
from orchestrator.artifacts import (
    JsonlRead,
    append_jsonl_locked,
    atomic_write_json,
    atomic_write_text,
    read_jsonl,
)
from orchestrator.config import ProjectConfig, load_config
from orchestrator.correlation import correlation_scope, current_correlation
from orchestrator.errors import (
    ActorError,
    ArtifactError,
    AskTimeoutError,
    ConfigError,
    EscalationError,
    EventError,
    EventSchemaError,
    EventStoreError,
    OrchestrateError,
    RunError,
    RunExistsError,
    RunInterruptedError,
    RunNotFoundError,
    UnknownMessageError,
    UsageError,
    WorkerDiedError,
    WorkerFailedError,
)
from orchestrator.events import Event, EventBus, EventStore, Timeline, build_timeline, reindex
from orchestrator.messages import Message, RunOutcome, StartRun, WorkRequest, WorkResult
from orchestrator.policyfiles import load_policy, load_policy_model
from orchestrator.runs import RunDir, RunInfo, create_run, find_run, list_runs, mark_run_finished, prune_runs
from orchestrator.scaffold import InitResult, init_project

__all__ = [
    "ActorError",
    "ActorHandle",
    "ArtifactError",
    "AskTimeoutError",
    "Conductor",
    "ConfigError",
    "Delegation",
    "EscalationError",
    "Event",
    "EventBus",
    "EventEmitter",
    "EventError",
    "EventSchemaError",
    "EventStore",
    "EventStoreError",
    "InitResult",
    "JsonlRead",
    "Message",
    "OrchestrateError",
    "ProjectConfig",
    "Reply",
    "RunDir",
    "RunError",
    "RunExistsError",
    "RunInfo",
    "RunInterruptedError",
    "RunNotFoundError",
    "RunOutcome",
    "StartRun",
    "SupervisedWorker",
    "TerminalGuard",
    "Timeline",
    "TypedActor",
    "UnknownMessageError",
    "UsageError",
    "WorkRequest",
    "WorkResult",
    "Worker",
    "WorkerDiedError",
    "WorkerFailedError",
    "__version__",
    "append_jsonl_locked",
    "atomic_write_json",
    "atomic_write_text",
    "build_timeline",
    "correlation_scope",
    "create_run",
    "current_correlation",
    "find_run",
    "handles",
    "init_project",
    "list_runs",
    "load_config",
    "load_policy",
    "load_policy_model",
    "mark_run_finished",
    "prune_runs",
    "read_jsonl",
    "reindex",
    "run_conductor",
    "spawn",
]
