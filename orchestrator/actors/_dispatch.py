"""The dispatch loop behind ``Conductor.delegate_all``: many requests in flight, one thread.

The conductor's own thread sends each request to a free worker (the first free one of a pool, or
its named worker once that worker is idle), keeps at most ``slots`` requests in flight, and waits
on one queue that every reply notifies as it lands, so no thread is spent per request or per
worker. Each call's deadline is tracked here: a reply that does not come in time is a
``timeout`` failure, and a reply that comes after that is ignored. A failed attempt is retried
on a restarted worker while the worker's budget lasts (see :mod:`orchestrator.actors._delegation`
for the failure kinds); every call ends as one :class:`Outcome`, handed to ``deliver`` as it ends.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.actors._base import Reply
from orchestrator.actors._delegation import (
    Delegation,
    SupervisedWorker,
    WorkerPool,
    check_result,
    is_attempt_failure,
    new_id,
)
from orchestrator.correlation import correlation_scope
from orchestrator.errors import AskTimeoutError, EscalationError, RunInterruptedError

if TYPE_CHECKING:
    from orchestrator.actors._conductor import Conductor
    from orchestrator.actors._delegation import Outcome

__all__ = ["Call", "dispatch"]

_SLICE_S = 0.1
"""How often a wait looks at the run's cancel event and the calls' deadlines."""


@dataclass
class Call:
    """One delegation in flight: its worker, its current attempt and when that attempt expires."""

    index: int
    item: Delegation
    call_id: str
    worker: SupervisedWorker
    attempts: int = 0
    task_id: str = ""
    deadline: float = 0.0
    reply: Reply[Any] | None = None
    sent_error: BaseException | None = None


def dispatch(
    conductor: Conductor,
    items: Iterator[tuple[int, Delegation]],
    *,
    slots: int,
    wait: float,
    deliver: Callable[[Outcome], None],
) -> None:
    """Run every item to its outcome with at most ``slots`` in flight (see the module docstring)."""
    done: queue.SimpleQueue[tuple[str, Call]] = queue.SimpleQueue()  # (the attempt's task id, its call)
    in_flight: dict[str, Call] = {}  # by task id: a late reply to an abandoned attempt is ignored
    busy: set[int] = set()  # named workers with a call in flight (by id)
    held: deque[tuple[int, Delegation]] = deque()  # taken, waiting for their worker to be free
    exhausted = False
    cancelled = conductor.cancelled

    def free_worker(item: Delegation) -> SupervisedWorker | None:
        if isinstance(item.worker, WorkerPool):
            return item.worker.try_acquire()
        return None if id(item.worker) in busy else item.worker

    def send(call: Call) -> None:
        task_id = call.task_id = new_id()
        call.deadline = time.monotonic() + wait
        call.reply, call.sent_error = None, None
        in_flight[task_id] = call
        request = conductor._request(call.item, call.call_id, task_id)
        try:
            if call.worker.broken:
                # Given up on after an earlier request: a fresh actor takes this one.
                call.worker.revive()
        except Exception as exc:
            call.sent_error = EscalationError(
                f"no replacement for {call.worker.worker_type} could start: {exc}"
            )
            done.put((task_id, call))
            return
        reply = call.reply = call.worker.handle.ask_later(request)
        # The attempt's own task id travels with the notice: a late answer to an earlier attempt of
        # the same call is recognised and ignored, never read as the retry's answer.
        reply.on_done(lambda: done.put((task_id, call)))

    def start(index: int, item: Delegation, worker: SupervisedWorker) -> None:
        if not isinstance(item.worker, WorkerPool):
            busy.add(id(worker))
        call = Call(index, item, new_id(), worker)
        with correlation_scope(call_id=call.call_id):
            conductor.emit(
                "conductor.worker.call",
                worker_type=item.worker.worker_type,
                worker_objective=item.objective,
                call_id=call.call_id,
                capability=item.capability_name,
            )
            send(call)

    def release(call: Call) -> None:
        if isinstance(call.item.worker, WorkerPool):
            call.item.worker.release(call.worker)
        else:
            busy.discard(id(call.worker))

    def fill() -> None:
        nonlocal exhausted
        for _ in range(len(held)):
            index, item = held.popleft()
            worker = free_worker(item)
            if worker is None:
                held.append((index, item))
            else:
                start(index, item, worker)
        while not exhausted and len(in_flight) + len(held) < slots:
            taken = next(items, None)
            if taken is None:
                exhausted = True
                break
            worker = free_worker(taken[1])
            if worker is None:
                held.append(taken)
            else:
                start(*taken, worker)

    def settle(call: Call, error: BaseException | None, result: Any) -> None:
        """An attempt ended: deliver the outcome, or send the request again on a fresh worker."""
        try:
            with correlation_scope(call_id=call.call_id):
                if error is None:
                    try:
                        check_result(call.item, call.worker.worker_type, result)
                    except Exception as exc:
                        error = exc
                if error is None:
                    outcome: Outcome | None = conductor._succeeded(
                        call.index, call.item, call.worker, call.call_id, result
                    )
                else:
                    outcome = conductor._attempt_failed(call, error)
        except BaseException:
            release(call)  # out of flight already: its slot must not be lost with the error
            raise
        if outcome is None:
            send(call)  # retried on a restarted worker
            return
        release(call)
        deliver(outcome)

    def abandon_in_flight() -> None:
        """Leaving early (the run stopped, the work or a callback raised): free every slot held."""
        for call in list(in_flight.values()):
            del in_flight[call.task_id]
            call.worker.give_up()  # still busy with an answer nobody will read
            release(call)

    try:
        fill()
        while in_flight or held:
            if cancelled.is_set():
                raise RunInterruptedError("the run was stopped during a delegation")
            now = time.monotonic()
            nearest = min((c.deadline for c in in_flight.values()), default=now + _SLICE_S)
            try:
                task_id, call = done.get(timeout=max(0.0, min(nearest - now, _SLICE_S)))
            except queue.Empty:
                for late in [c for c in in_flight.values() if c.deadline <= time.monotonic()]:
                    del in_flight[late.task_id]
                    name = late.worker.name
                    settle(
                        late, AskTimeoutError(f"{name} did not answer WorkRequest within {wait:g} s"), None
                    )
                fill()
                continue
            if in_flight.get(task_id) is not call:
                continue  # the answer to an attempt already given up on (it timed out)
            del in_flight[task_id]
            error: BaseException | None = call.sent_error
            result: Any = None
            if error is None and call.reply is not None:
                try:
                    result = call.reply.get(0.0)
                except Exception as exc:
                    error = exc
            if error is not None and not is_attempt_failure(error, cancelled):
                release(call)
                raise error
            settle(call, error, result)
            fill()
    finally:
        abandon_in_flight()
