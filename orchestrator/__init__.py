"""orchestrate: test agentic software the way it really fails.

The public Python API. Everything a user may import is listed in ``__all__`` (sorted, guarded by
a test); private modules start with an underscore and may change without notice.
"""

from __future__ import annotations

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

__version__ = "0.1.0"

__all__ = [
    "ActorError",
    "ArtifactError",
    "AskTimeoutError",
    "ConfigError",
    "EscalationError",
    "EventError",
    "EventSchemaError",
    "EventStoreError",
    "OrchestrateError",
    "RunError",
    "RunExistsError",
    "RunInterruptedError",
    "RunNotFoundError",
    "UnknownMessageError",
    "UsageError",
    "WorkerDiedError",
    "WorkerFailedError",
    "__version__",
]
