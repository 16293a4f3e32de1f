"""The exception tree of orchestrate: one root, so callers can catch everything we raise.

Every error the library raises on purpose derives from :class:`OrchestrateError`, wherever it is
defined. The CLI turns any of them into a one-paragraph message and exit code 2 (a framework or
configuration error), never a traceback. User mistakes in files carry the file, the field, what
was wrong and an example of right, so the message alone is enough to fix them
(:mod:`orchestrator.validation` phrases every validation error that way).

The tree below is every class of the package, with the module that defines it when it is not
this one; ``tests/test_errors_tree.py`` compares it with the real classes, so it cannot drift::

    OrchestrateError                     root; exit_code 2
    ├── ConfigError                      a config, policy or definition file is invalid (file, field, fix)
    ├── UsageError                       a command was asked for something that cannot be (bad option value)
    ├── ActorError                       the actor runtime could not deliver or complete a message
    │   ├── AskTimeoutError              an ask got no reply within its timeout
    │   ├── WorkerFailedError            the handler raised; carries the original type and message
    │   ├── WorkerDiedError              the actor was dead or stopped before it replied
    │   ├── UnknownMessageError          the actor has no handler for the message type
    │   ├── UnknownCapabilityError       the worker does not declare the capability it was asked for
    │   ├── ContractError                a request or result does not match its capability's contract
    │   └── EscalationError              a supervised worker failed more often than its restart budget
    ├── RunInterruptedError              the run got SIGINT or SIGTERM and was ended
    ├── EventError
    │   ├── EventSchemaError             an event's payload does not match its type's schema
    │   └── EventStoreError              the event store cannot be opened, written or read
    ├── RunError
    │   ├── RunNotFoundError             no run with that id exists
    │   └── RunExistsError               a run dir would be overwritten
    ├── ArtifactError                    an artifact could not be written or read safely
    ├── TargetStartError                 services: a target or SUT exited at start or never got healthy
    ├── BrowserLaunchError               chromium: no Chromium could be started (names every candidate)
    ├── RouteSpecError                   twins: a declarative route names something that does not exist *
    ├── TemplateError                    twins: a response template names an unknown reference *
    ├── SeedDataError                    twins: a twin's seed check refused its seed data *
    ├── BodyTooLargeError                twins: a request body is over the twin's cap (answered with 413)
    ├── CatalogError                     pipelines.scenarios: scenario files are invalid (file, line, fix)
    ├── PackError                        packs: a pack or domain scenario file is invalid (file, line, fix)
    ├── UnresolvedPlaceholderError       packs: a placeholder finds nothing when its step runs (step blocked)
    ├── ActorLostError                   ray_backend: a Ray actor (or its node) died before answering
    ├── CallCancelledError               ray_backend: a cancelled run's Ray actor did not end in time
    ├── LlmError                         llm: a model call was refused, or failed past its retries
    │   ├── LlmAnswerError               llm: the answer was not the JSON asked for, also when asked again
    │   └── LlmNotConfiguredError        llm: no model is configured ([llm] model in orchestrate.toml)
    └── TrackerError                     trackers: an issue tracker could not be read or written
        ├── TrackerAuthError             trackers: the tracker refused the credentials
        ├── TrackerRateLimitError        trackers: still rate-limited when the retry budget ran out
        ├── TrackerUnavailableError      trackers: unreachable or failing past the retry budget
        ├── IssueBodyTooLargeError       agents.issue_reconciler: a body over the tracker's limit; not sent
        └── UnsafeCommandError           agents.issue_reconciler: a tracker CLI command refused before it ran

``*`` a twin definition's loader re-raises these as a :class:`ConfigError` naming the file.
A module may raise a private exception (``_Name``) for its own control flow; it is caught in that
module, never reaches a caller, and is not drawn here.
``orchestrator.policy`` imports nothing of ours and defines no exception: the ``ValueError`` its
validators raise reaches a user only inside a pydantic ``ValidationError``, which is explained as
a :class:`ConfigError` (or a :class:`UsageError` for a request) before it leaves the library.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ActorError",
    "ArtifactError",
    "AskTimeoutError",
    "ConfigError",
    "ContractError",
    "EscalationError",
    "EventError",
    "EventSchemaError",
    "EventStoreError",
    "OrchestrateError",
    "RunError",
    "RunExistsError",
    "RunInterruptedError",
    "RunNotFoundError",
    "UnknownCapabilityError",
    "UnknownMessageError",
    "UsageError",
    "WorkerDiedError",
    "WorkerFailedError",
]


class OrchestrateError(Exception):
    """Root of every error orchestrate raises on purpose.

    ``exit_code`` is what the CLI exits with when this error ends a command.
    ``error_code`` is a short stable token used in terminal events (``error_code`` field).
    """

    exit_code: int = 2
    error_code: str = "orchestrate_error"


class ConfigError(OrchestrateError):
    """A user-editable file (config, policy, profile, definition) is invalid.

    The message names the file, the field, what was wrong, and an example of a right value, so a
    user can fix the file without reading our code.
    """

    error_code = "config_error"

    def __init__(self, path: str | os.PathLike[str] | None, field: str, problem: str, fix: str) -> None:
        self.path = Path(path) if path is not None else None
        self.field = field
        self.problem = problem
        self.fix = fix
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}{field}: {problem}. Fix: {fix}")


class UsageError(OrchestrateError):
    """A command or API call was given a value that cannot work (not a file problem)."""

    error_code = "usage_error"


class ActorError(OrchestrateError):
    """The actor runtime could not deliver a message or get its reply."""

    error_code = "actor_error"


class AskTimeoutError(ActorError):
    """An ask got no reply within its timeout; the worker may still be busy."""

    error_code = "ask_timeout"


class WorkerFailedError(ActorError):
    """The worker's handler raised. ``error_type`` and ``error_message`` describe the original."""

    error_code = "worker_failed"

    def __init__(self, worker: str, error_type: str, error_message: str) -> None:
        self.worker = worker
        self.error_type = error_type
        self.error_message = error_message
        super().__init__(f"{worker} failed: {error_type}: {error_message}")


class WorkerDiedError(ActorError):
    """The worker actor was dead, or stopped before it replied."""

    error_code = "worker_died"


class UnknownMessageError(ActorError):
    """The actor has no handler for this message type; never dropped silently."""

    error_code = "unknown_message"


class UnknownCapabilityError(ActorError):
    """A worker was asked for a capability it does not declare; refused before any work."""

    error_code = "unknown_capability"


class ContractError(ActorError):
    """A request or a result does not match the models its capability declares.

    ``side`` is ``"request"`` (the caller sent something the worker cannot take) or ``"result"``
    (the worker produced something its contract does not allow: an invalid result).
    """

    error_code = "contract_error"

    def __init__(self, message: str, *, side: str = "request") -> None:
        self.side = side
        super().__init__(message)


class EscalationError(ActorError):
    """A supervised worker failed more times than its restart budget allows."""

    error_code = "escalated"


class RunInterruptedError(OrchestrateError):
    """The run was ended by SIGINT or SIGTERM before it finished.

    ``signum`` is the signal that ended it (``None`` when the run was stopped otherwise); the CLI
    then exits with ``128 + signum``, the shell's convention (130 for SIGINT, 143 for SIGTERM).
    """

    exit_code = 130
    error_code = "interrupted"

    def __init__(self, message: str = "the run was interrupted", *, signum: int | None = None) -> None:
        super().__init__(message)
        self.signum = signum
        if signum is not None:
            self.exit_code = 128 + signum


class EventError(OrchestrateError):
    """Something is wrong with an event or the event store."""

    error_code = "event_error"


class EventSchemaError(EventError):
    """An emitted event does not match the payload schema of its type (a programming error)."""

    error_code = "event_schema"


class EventStoreError(EventError):
    """The event store database cannot be opened, written or read."""

    error_code = "event_store"


class RunError(OrchestrateError):
    """A run id or run dir problem."""

    error_code = "run_error"


class RunNotFoundError(RunError):
    """No run with the given id exists in the project."""

    error_code = "run_not_found"


class RunExistsError(RunError):
    """Creating the run would overwrite an existing run dir."""

    error_code = "run_exists"


class ArtifactError(OrchestrateError):
    """An artifact could not be written or read safely."""

    error_code = "artifact_error"
