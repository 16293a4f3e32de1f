"""The typed actor base and the handle callers use to reach an actor.

Actors are pykka ``ThreadingActor``s. A :class:`TypedActor` dispatches each message by its type
to the method marked ``@handles(ThatType)``; anything else (an unknown message type, a dict, a
string) is answered with :class:`UnknownMessageError`, never dropped. While a message is handled,
its correlation ids are bound (see :mod:`orchestrator.correlation`), so the handler's log lines
and events carry them.

Callers hold an :class:`ActorHandle`. Its ``ask`` always has a timeout and turns every way a
reply can fail into a typed :class:`~orchestrator.errors.ActorError`: no reply in time, the
handler raised, the actor was dead.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import pykka

from orchestrator.correlation import bind_correlation, unbind_correlation
from orchestrator.errors import (
    AskTimeoutError,
    OrchestrateError,
    RunInterruptedError,
    UnknownMessageError,
    WorkerDiedError,
    WorkerFailedError,
)
from orchestrator.messages import Message, Ping, Pong

__all__ = ["ActorHandle", "EventEmitter", "Reply", "TypedActor", "handles", "spawn"]

M = TypeVar("M", bound=Message)
R = TypeVar("R")
A = TypeVar("A", bound="TypedActor")

_HANDLES_ATTR = "__orchestrate_handles__"
_CANCEL_CHECK_S = 0.1


class EventEmitter(Protocol):
    """Where an actor sends its events (the event bus, or anything with the same method)."""

    def emit(self, event_type: str, payload: Mapping[str, Any] | None = None, *, actor: str) -> None: ...


def handles(message_type: type[M]) -> Callable[[Callable[[A, M], R]], Callable[[A, M], R]]:
    """Mark a method as the handler of ``message_type`` (exact type) on a :class:`TypedActor`."""

    def mark(method: Callable[[A, M], R]) -> Callable[[A, M], R]:
        setattr(method, _HANDLES_ATTR, message_type)
        return method

    return mark


class _NotifyingFuture(pykka.ThreadingFuture[Any]):
    """A pykka future that can call back once it is set, so one thread can wait on many replies."""

    def __init__(self) -> None:
        super().__init__()
        self._on_done: Callable[[], None] | None = None

    def set(self, value: Any | None = None) -> None:
        super().set(value)
        self._notify()

    def set_exception(self, exc_info: Any = None) -> None:
        super().set_exception(exc_info if exc_info is not None else sys.exc_info())
        self._notify()

    def _notify(self) -> None:
        with self._condition:
            callback, self._on_done = self._on_done, None
        if callback is not None:
            callback()

    def on_done(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the setting thread) once a value or error is set; now if it is."""
        with self._condition:
            if self._result is None:
                self._on_done = callback
                return
        callback()


class TypedActor(pykka.ThreadingActor):
    """Base of every orchestrate actor: typed dispatch, correlation binding, event emission.

    Threads are daemons: a run whose worker is stuck in foreign code still ends (the run's
    terminal event is written before the process exits; see the conductor).
    """

    use_daemon_thread = True
    _handlers: ClassVar[dict[type[Message], Callable[..., Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[type[Message], Callable[..., Any]] = {}
        for klass in reversed(cls.__mro__):
            for attribute in vars(klass).values():
                message_type = getattr(attribute, _HANDLES_ATTR, None)
                if message_type is not None:
                    handlers[message_type] = attribute
        cls._handlers = handlers

    def __init__(self, *, events: EventEmitter | None = None, name: str | None = None) -> None:
        super().__init__()
        self.name = name or self.default_name()
        self.events = events

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        # Replies that can notify: a conductor waits on many workers at once without a thread each.
        return _NotifyingFuture()

    @classmethod
    def default_name(cls) -> str:
        """The name given to an instance started without one."""
        return cls.__name__

    def on_receive(self, message: Any) -> Any:
        if not isinstance(message, Message):
            raise UnknownMessageError(
                f"{self.name} only takes typed messages; got a {type(message).__name__}"
            )
        handler = self._handlers.get(type(message))
        if handler is None:
            known = ", ".join(sorted(t.__name__ for t in self._handlers))
            raise UnknownMessageError(
                f"{self.name} has no handler for {type(message).__name__}; it handles: {known}"
            )
        tokens = bind_correlation(message.correlation())
        try:
            return handler(self, message)
        finally:
            unbind_correlation(*tokens)

    def emit(self, event_type: str, **payload: Any) -> None:
        """Emit an event with the correlation of the message being handled."""
        if self.events is not None:
            self.events.emit(event_type, payload, actor=self.name)

    @handles(Ping)
    def _on_ping(self, message: Ping) -> Pong:
        return Pong(actor=self.name, **message.correlated())


class Reply(Generic[R]):
    """A pending answer from an actor; :meth:`get` waits with a deadline and raises typed errors."""

    def __init__(self, future: pykka.Future[Any], actor_name: str, what: str) -> None:
        self._future = future
        self._actor_name = actor_name
        self._what = what

    def on_done(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the answer (or its error) is in; :meth:`get` then returns at once."""
        if not isinstance(self._future, _NotifyingFuture):
            raise TypeError(f"{self._actor_name} is not a TypedActor; its replies cannot notify")
        self._future.on_done(callback)

    def get(self, timeout: float, *, cancelled: threading.Event | None = None) -> R:
        """Wait at most ``timeout`` seconds; with ``cancelled``, stop waiting as soon as it is set.

        Raises :class:`AskTimeoutError`, :class:`WorkerDiedError`, :class:`WorkerFailedError`
        (the handler raised something that is not ours), any :class:`OrchestrateError` the
        handler raised, and :class:`RunInterruptedError` when ``cancelled`` was set first.
        """
        try:
            if cancelled is None:
                return self._future.get(timeout=timeout)  # type: ignore[no-any-return]
            return self._get_unless_cancelled(timeout, cancelled)
        except pykka.Timeout as exc:
            raise AskTimeoutError(
                f"{self._actor_name} did not answer {self._what} within {timeout:g} s"
            ) from exc
        except pykka.ActorDeadError as exc:
            raise WorkerDiedError(f"{self._actor_name} stopped before answering {self._what}") from exc
        except OrchestrateError:
            raise
        except Exception as exc:
            raise WorkerFailedError(self._actor_name, type(exc).__name__, str(exc)) from exc

    def _get_unless_cancelled(self, timeout: float, cancelled: threading.Event) -> R:
        deadline = time.monotonic() + timeout
        while True:
            if cancelled.is_set():
                raise RunInterruptedError(f"the run was stopped while waiting for {self._actor_name}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise pykka.Timeout(f"{timeout} seconds")
            try:
                # Bounded slices so a cancellation is noticed within a fraction of a second.
                return self._future.get(timeout=min(remaining, _CANCEL_CHECK_S))  # type: ignore[no-any-return]
            except pykka.Timeout:
                continue


class ActorHandle(Generic[A]):
    """How callers talk to an actor: ``ask`` with a timeout, ``tell``, ``stop``."""

    def __init__(self, ref: pykka.ActorRef[A], name: str) -> None:
        self.ref = ref
        self.name = name

    def __repr__(self) -> str:
        return f"ActorHandle({self.name!r})"

    def ask_later(self, message: Message) -> Reply[Any]:
        """Send ``message`` and return the pending :class:`Reply` without waiting."""
        what = type(message).__name__
        try:
            future = self.ref.ask(message, block=False)
        except pykka.ActorDeadError as exc:
            raise WorkerDiedError(f"{self.name} is not running; cannot deliver {what}") from exc
        return Reply(future, self.name, what)

    def ask(self, message: Message, *, timeout: float) -> Any:
        """Send ``message`` and wait at most ``timeout`` seconds for the reply."""
        return self.ask_later(message).get(timeout)

    def tell(self, message: Message) -> None:
        """Send ``message`` without waiting for an answer."""
        try:
            self.ref.tell(message)
        except pykka.ActorDeadError as exc:
            what = type(message).__name__
            raise WorkerDiedError(f"{self.name} is not running; cannot deliver {what}") from exc

    def is_alive(self) -> bool:
        return self.ref.is_alive()

    def stop_later(self) -> pykka.Future[Any] | None:
        """Ask the actor to stop after the message it is handling, without waiting; ``None`` if dead."""
        try:
            return self.ref.stop(block=False)
        except pykka.ActorDeadError:
            return None

    def stop(self, *, timeout: float = 5.0) -> bool:
        """Stop the actor after the message it is handling; ``False`` if it did not stop in time."""
        try:
            self.ref.stop(block=True, timeout=timeout)
        except pykka.Timeout:
            return False
        except pykka.ActorDeadError:
            pass
        return True


def spawn(actor_class: type[A], /, *args: Any, **kwargs: Any) -> ActorHandle[A]:
    """Start an actor and return its handle."""
    name = kwargs.get("name") or actor_class.default_name()
    kwargs["name"] = name
    return ActorHandle(actor_class.start(*args, **kwargs), name)
