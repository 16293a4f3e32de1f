"""Capability contracts: the typed join between a conductor and its workers.

A capability is a name with a request model and a result model (:class:`Capability`). A worker
declares the capabilities it offers (``Worker.capabilities``); the worker base validates every
request against the declared request model once, refuses a capability the worker does not declare,
and checks the result against the declared result model before it leaves the worker. The conductor
hands over a request model and gets the result model back (:class:`Done`), never an untyped dict.

On the wire (a :class:`~orchestrator.messages.WorkRequest` and its
:class:`~orchestrator.messages.WorkResult`) both stay JSON, so a remote backend can carry them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Capability", "ContractModel", "Declared", "Done", "normalise_capabilities"]

Req = TypeVar("Req", bound=BaseModel)
Res = TypeVar("Res", bound=BaseModel)

Declared = tuple[type[BaseModel], type[BaseModel]]
"""A declared capability's (request model, result model)."""


class ContractModel(BaseModel):
    """A convenient base for request and result models: frozen, and unknown fields are refused.

    ``extra="forbid"`` is the point: a misspelt key is an error, never silently dropped.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class Capability(Generic[Req, Res]):
    """A capability's name with its request and result models, shared by conductor and worker.

    ``CAPTURE = Capability("capture", CaptureRequest, CaptureResult)``; a worker declares it with
    ``capabilities = CAPTURE.declare()`` (or ``{"capture": (CaptureRequest, CaptureResult)}``) and a
    conductor calls ``self.delegate(worker, CAPTURE, objective, params=CaptureRequest(...))``.
    """

    name: str
    request: type[Req]
    result: type[Res]

    def declare(self) -> dict[str, Declared]:
        """This capability as an entry of ``Worker.capabilities``."""
        return {self.name: (self.request, self.result)}

    def parse_result(self, data: Mapping[str, Any]) -> Res:
        """The result model from a result's JSON ``data`` (the wire form)."""
        return self.result.model_validate(data)


@dataclass(frozen=True)
class Done(Generic[Res]):
    """A typed worker's answer: the result model, a one-line summary, and how it went.

    ``success=False`` with ``blocked_reason`` means the worker could not proceed for a reason
    outside itself (reported as ``conductor.capability.blocked``); ``success=False`` without one is
    an unsuccessful result (``conductor.capability.failed`` with ``failure_kind`` ``unsuccessful``).
    """

    result: Res
    summary: str
    success: bool = True
    blocked_reason: str | None = None


def normalise_capabilities(declared: Mapping[str, Any]) -> dict[str, Declared]:
    """Check a worker's ``capabilities`` class variable: name to (request model, result model)."""
    checked: dict[str, Declared] = {}
    for name, entry in declared.items():
        pair = (entry.request, entry.result) if isinstance(entry, Capability) else entry
        if not (
            isinstance(name, str)
            and isinstance(pair, tuple)
            and len(pair) == 2
            and all(isinstance(model, type) and issubclass(model, BaseModel) for model in pair)
        ):
            raise TypeError(
                f"capabilities[{name!r}] must be a (request model, result model) pair of pydantic "
                f"models or a Capability; got {entry!r}"
            )
        checked[name] = pair
    return checked
