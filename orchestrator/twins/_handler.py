"""What a twin's route handler receives and returns: :class:`TwinCall` in, :class:`TwinReply` out.

Declarative routes (``routes.yaml``) and Python routes (a twin's module) are both compiled to a
handler of this shape, so the server treats them alike: it checks auth, rolls chaos, parses the
body, calls the handler and journals the exchange.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers, QueryParams

if TYPE_CHECKING:
    from orchestrator.twins._state import StateView
    from orchestrator.twins._template import Presenter

__all__ = ["Handler", "TwinCall", "TwinReply"]


@dataclass(slots=True)
class TwinCall:
    """One request to a twin route, parsed.

    ``body`` is the parsed JSON document, or a dict of the fields of a form-encoded body, or
    ``None`` when there is no body. ``state`` reads from a stale snapshot when the ``stale_data``
    chaos mode fired for this request (``GET`` and ``HEAD`` only; other methods get the live
    state); writes through it always reach the live state. Records read
    from it are shared with the store: change them only through ``state.update``/``insert``.
    """

    twin: str
    route_id: str
    method: str
    path: str
    path_params: dict[str, Any]
    query: QueryParams
    headers: Headers
    body: Any
    raw_body: bytes
    state: StateView
    principal: str | None
    base_url: str
    """The twin's URL as the client reached it: scheme, host, port and the twin's base path."""
    url: str
    """The full request URL, path still percent-encoded as the client sent it."""
    presenters: Mapping[str, Presenter] = field(default_factory=dict)
    """Per entity, what :meth:`present` adds: the ``computed`` fields of ``twin.json``."""

    def present(self, entity: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """``record`` as the twin sends it: a copy with the entity's ``computed`` fields filled in."""
        presenter = self.presenters.get(entity)
        return presenter(record, self.base_url) if presenter is not None else dict(record)


@dataclass(slots=True)
class TwinReply:
    """A handler's answer: a JSON-able ``body`` (sent as JSON), or ``bytes``/``str`` sent as-is."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str | None = None
    """Content type for a ``bytes``/``str`` body (default ``text/plain; charset=utf-8``)."""


Handler = Callable[[TwinCall], "TwinReply | Awaitable[TwinReply]"]
"""A route handler: plain or async. It runs on the server's event loop, so it must not block."""
