"""The one Ray actor a local worker keeps: started on first need, asked, replaced when lost.

Both Ray runners (trajectory slots and domain scenarios) forward each request to an actor of
their own. :class:`RemoteActor` is what they share: :meth:`RemoteActor.call` asks the actor's
``run`` method and waits in short steps, so a cancelled run asks the actor to ``cancel`` (and
kills it if it does not answer in time: :class:`CallCancelledError`); an actor that died, or
whose node did, is dropped and reported as :class:`ActorLostError`, so the runner can ask once
more on a new actor. :meth:`RemoteActor.drop` stops the actor's work (``stop``) and kills it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog

from orchestrator.errors import OrchestrateError
from orchestrator.ray_backend._init import import_ray

__all__ = ["ActorLostError", "CallCancelledError", "RemoteActor", "start_actor"]

log = structlog.get_logger(__name__)

_POLL_S = 0.2
"""How often a runner waiting on its actor looks at its cancel event."""
_CANCEL_GRACE_S = 10.0
"""How long a cancelled request may take to end before its actor is killed."""
_STOP_GRACE_S = 15.0
"""How long an actor may take to stop what it started (a SUT, twins) before it is killed."""


class ActorLostError(OrchestrateError):
    """The actor died (or its node did) before answering; the message says how."""

    error_code = "ray_actor_lost"


class CallCancelledError(OrchestrateError):
    """The run was cancelled and the actor did not end the request in time."""

    error_code = "ray_call_cancelled"


def start_actor(actor_class: type, *args: Any, name: str, num_cpus: float) -> Any:
    """Start ``actor_class(*args)`` on the cluster as a runner's actor; its handle (it starts async).

    Spread over the nodes, two calls at once (a request, and ``cancel`` or ``node`` beside it),
    and never restarted by Ray: a lost actor is the runner's to replace, because only the runner
    knows what it was asking.
    """
    ray = import_ray()
    options = ray.remote(actor_class).options(
        name=name, num_cpus=num_cpus, max_concurrency=2, max_restarts=0, scheduling_strategy="SPREAD"
    )
    return options.remote(*args)


class RemoteActor:
    """One actor, made by ``start(n)`` (``n`` counts the actors started) when first needed."""

    def __init__(self, start: Callable[[int], Any], *, what: str, owner: str) -> None:
        self._start = start
        self._what = what
        self._owner = owner
        self._actor: Any = None
        self._started = 0

    def call(self, payload: Any, cancelled: threading.Event) -> Any:
        """The actor's answer to ``run(payload)``; see the module docstring for what it raises."""
        ray = import_ray()
        actor = self._ensure()
        reference = actor.run.remote(payload)
        while not ray.wait([reference], timeout=_POLL_S)[0]:
            if cancelled.is_set():
                actor.cancel.remote()
                if not ray.wait([reference], timeout=_CANCEL_GRACE_S)[0]:
                    self.drop(graceful=False)
                    raise CallCancelledError
                break
        try:
            return ray.get(reference)
        except (
            ray.exceptions.RayActorError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.ObjectLostError,
        ) as exc:
            self.drop(graceful=False)
            raise ActorLostError(f"{type(exc).__name__}: {_first_line(exc)}") from None

    def _ensure(self) -> Any:
        if self._actor is None:
            self._started += 1
            self._actor = self._start(self._started)
        return self._actor

    def drop(self, *, graceful: bool) -> None:
        """Let the actor stop its work (when ``graceful`` and it still answers), then kill it."""
        actor, self._actor = self._actor, None
        if actor is None:
            return
        ray = import_ray()
        if graceful:
            try:
                ray.wait([actor.stop.remote()], timeout=_STOP_GRACE_S)
            except ray.exceptions.RayError as exc:
                log.debug(f"{self._what} did not stop cleanly", worker=self._owner, error=str(exc))
        try:
            ray.kill(actor, no_restart=True)
        except ray.exceptions.RayError as exc:
            log.debug(f"{self._what} could not be killed (gone already)", worker=self._owner, error=str(exc))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no detail"
