"""An inventory assistant whose abilities are switched by a file, for running an improvement loop on.

``POST /api/assistant/message`` with ``{"session_id"?: str, "message": str}`` answers
``{session_id, answer, data, route, sources, capability_missing}``; ``GET
/api/assistant/session/{session_id}`` returns what the session remembers (its turns and its
``semantic_memory``); ``GET /health`` answers ``ok``.

Routes, each a capability named in ``capabilities.json``:

=================  ==========================================  =====================================
route              asked as                                    data
=================  ==========================================  =====================================
``inventory_list``  "what's in stock"                          ``entries[]`` (item, sku, quantity,
                                                               location, reorder_level),
                                                               ``result_set_id``
``item_detail``     "tell me about hex nuts",                  the item, ``below_reorder_level``
                    "tell me about the first item of that list"
``low_stock``       "which items are below reorder level"      ``entries[]``, ``result_set_id``
``reorder``         "reorder hex nuts x 100"                   ``order_id``, sku, quantity, status
``order_status``    "status of order PO-1001"                  the order
=================  ==========================================  =====================================

``capabilities.json`` in the app's folder is read on every request, so a change takes effect on
the next question. A route that is off answers ``capability_missing: true``, ``route: null`` and a
polite refusal. Two more switches set the quality of the answers rather than what can be asked:
``cite_sources`` (off: ``sources`` is empty, the answer cites nothing) and ``tidy_lists`` (off: a
list is told as one run-on sentence of raw records; ``data`` is the same either way).

Answers are deterministic: the same questions to a fresh app give the same answers. A new
session's id comes from the ``X-Orchestrate-Trajectory`` or ``X-Request-Id`` header when present,
else from a counter. Run it with ``python app.py --port 8000`` (``--port 0``, the default, lets the
OS pick; the URL is printed); ``create_app(root)`` returns the ASGI app for running it in process.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["CAPABILITIES_FILE", "QUALITY_SWITCHES", "ROUTES", "create_app", "main"]

HERE = Path(__file__).resolve().parent
CAPABILITIES_FILE = "capabilities.json"
INVENTORY_FILE = Path("data") / "inventory.json"
ROUTES = ("inventory_list", "item_detail", "low_stock", "reorder", "order_status")
QUALITY_SWITCHES = ("cite_sources", "tidy_lists")
SESSION_HEADERS = ("X-Orchestrate-Trajectory", "X-Request-Id")
WHAT_ROUTES_DO = {
    "inventory_list": "listing what's in stock",
    "item_detail": "describing a single item",
    "low_stock": "finding items below their reorder level",
    "reorder": "placing purchase orders",
    "order_status": "looking up purchase orders",
}
ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3}


class CapabilitiesError(ValueError):
    """``capabilities.json`` cannot be read; the message names the file, the field and the fix."""


def read_capabilities(root: Path) -> dict[str, bool]:
    """Every switch from ``root/capabilities.json``: a missing file or key means off."""
    path = root / CAPABILITIES_FILE
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raw = {}
    except (OSError, ValueError) as exc:
        raise CapabilitiesError(f"{path}: not readable JSON ({exc}); write an object of true/false") from exc
    if not isinstance(raw, dict):
        raise CapabilitiesError(f'{path}: expected an object such as {{"low_stock": true}}')
    switches: dict[str, bool] = {}
    for name in (*ROUTES, *QUALITY_SWITCHES):
        value = raw.get(name, False)
        if not isinstance(value, bool):
            raise CapabilitiesError(f"{path}: field {name!r} is {value!r}; set it to true or false")
        switches[name] = value
    return switches


@dataclass
class Reply:
    """One answer before the switches for evidence and presentation are applied."""

    route: str | None
    answer: str
    data: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    listing: list[dict[str, Any]] | None = None  # the entries a list answer presents
    capability_missing: bool = False


@dataclass
class Session:
    """What one conversation remembers: its turns and the things a later question may refer to."""

    session_id: str
    turns: list[dict[str, Any]] = field(default_factory=list)
    result_sets: dict[str, list[str]] = field(default_factory=dict)  # result set id -> skus, in order
    active_result_set_id: str | None = None
    last_item: str | None = None  # a sku
    last_order_id: str | None = None

    def remember_list(self, skus: list[str]) -> str:
        result_set_id = f"rs-{len(self.result_sets) + 1}"
        self.result_sets[result_set_id] = skus
        self.active_result_set_id = result_set_id
        return result_set_id

    def as_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "turns": self.turns,
            "semantic_memory": {
                "active_result_set_id": self.active_result_set_id,
                "active_result_set": self.result_sets.get(self.active_result_set_id or "", []),
                "last_item": self.last_item,
                "last_order_id": self.last_order_id,
                "result_sets": self.result_sets,
            },
        }


class Inventory:
    """The stock (seeded from ``data/inventory.json``) and the purchase orders placed in this process."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.by_sku = {item["sku"]: item for item in items}
        self.orders: dict[str, dict[str, Any]] = {}

    @classmethod
    def load(cls, path: Path) -> Inventory:
        items = json.loads(path.read_text(encoding="utf-8"))["items"]
        return cls([dict(item) for item in items])

    def find(self, text: str) -> dict[str, Any] | None:
        """The item ``text`` names by sku, full name or head noun (singular or plural); the earliest wins."""
        found: list[tuple[int, int, dict[str, Any]]] = []
        for rank, item in enumerate(self.items):
            head = item["name"].lower().split()[1 if len(item["name"].split()) > 1 else 0].rstrip("s")
            patterns = (re.escape(item["sku"]), re.escape(item["name"].lower()), rf"\b{re.escape(head)}s?\b")
            for pattern in patterns:
                match = re.search(pattern, text)
                if match:
                    found.append((match.start(), rank, item))
                    break
        return min(found, key=lambda hit: hit[:2])[2] if found else None

    def place_order(self, sku: str, quantity: int) -> dict[str, Any]:
        order = {
            "order_id": f"PO-{1001 + len(self.orders)}",
            "sku": sku,
            "item": self.by_sku[sku]["name"],
            "quantity": quantity,
            "status": "placed",
        }
        self.orders[order["order_id"]] = order
        return order


def entry(item: dict[str, Any]) -> dict[str, Any]:
    """An item as a list answer's ``data.entries[]`` holds it."""
    return {
        "item": item["name"],
        "sku": item["sku"],
        "quantity": item["quantity"],
        "location": item["location"],
        "reorder_level": item["reorder_level"],
    }


# ------------------------------------------------------------------------------------------- routing

LOW_STOCK = re.compile(
    r"below (?:the |their |its )?reorder|low[ -]stock|low on stock|running low|need reorder"
)
REORDER = re.compile(r"\b(?:reorder|restock)\b(?![ _-]level)")
ORDER_ID = re.compile(r"\bpo-?\s*(\d+)\b")
DETAIL = re.compile(
    r"tell me (?:more )?about|details?\b|how many (?!items)|where (?:is|are)|what about|describe"
)
LISTING = re.compile(r"in stock|inventory|what do we have|list (?:all )?(?:the )?items|stock list")


def classify(text: str) -> str | None:
    """The route a question asks for, or None when it asks for nothing this assistant knows."""
    if re.search(r"\bstatus\b", text) and (ORDER_ID.search(text) or "order" in text):
        return "order_status"
    if LOW_STOCK.search(text):
        return "low_stock"
    if REORDER.search(text):
        return "reorder"
    if DETAIL.search(text):
        return "item_detail"
    if LISTING.search(text):
        return "inventory_list"
    return None


class Assistant:
    """Answers one question in a session from the inventory; one method per route."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.handlers: dict[str, Callable[[Session, str], Reply]] = {
            "inventory_list": self.inventory_list,
            "item_detail": self.item_detail,
            "low_stock": self.low_stock,
            "reorder": self.reorder,
            "order_status": self.order_status,
        }

    def answer(self, session: Session, message: str, switches: dict[str, bool]) -> Reply:
        text = " ".join(message.lower().split())
        route = classify(text)
        if route is None:
            return Reply(
                None,
                "I'm not sure what you need. I can help with stock levels, single items, low stock, "
                "reorders and order status.",
            )
        if not switches[route]:
            return Reply(
                None,
                f"I'm sorry, I can't do that yet: {WHAT_ROUTES_DO[route]} is not something I can help "
                "with at the moment.",
                data={"missing_capability": route},
                capability_missing=True,
            )
        return self.handlers[route](session, text)

    def referenced_item(self, session: Session, text: str) -> dict[str, Any] | None:
        """The item a question names, or points at in the session's active list or last answer."""
        named = self.inventory.find(text)
        if named is not None:
            return named
        skus = session.result_sets.get(session.active_result_set_id or "", [])
        ordinal = re.search(r"\b(first|1st|second|2nd|third|3rd|fourth|4th|last)\b", text)
        if ordinal and skus:
            index = -1 if ordinal.group(1) == "last" else ORDINALS[ordinal.group(1)]
            return self.inventory.by_sku[skus[index]] if index < len(skus) else None
        if session.last_item and re.search(r"\b(it|that|this|them)\b", text):
            return self.inventory.by_sku[session.last_item]
        return None

    def inventory_list(self, session: Session, text: str) -> Reply:
        entries = [entry(item) for item in self.inventory.items if item["quantity"] > 0]
        result_set_id = session.remember_list([e["sku"] for e in entries])
        return Reply(
            "inventory_list",
            f"We have {len(entries)} items in stock:",
            data={"entries": entries, "result_set_id": result_set_id},
            sources=[f"inventory:{e['sku']}" for e in entries],
            listing=entries,
        )

    def low_stock(self, session: Session, text: str) -> Reply:
        low = [entry(item) for item in self.inventory.items if item["quantity"] < item["reorder_level"]]
        result_set_id = session.remember_list([e["sku"] for e in low])
        heading = (
            f"{len(low)} items are below their reorder level:"
            if low
            else "No item is below its reorder level."
        )
        return Reply(
            "low_stock",
            heading,
            data={"entries": low, "result_set_id": result_set_id},
            sources=[f"inventory:{e['sku']}" for e in low],
            listing=low,
        )

    def item_detail(self, session: Session, text: str) -> Reply:
        item = self.referenced_item(session, text)
        if item is None:
            return Reply("item_detail", "I couldn't tell which item you mean.", data={"found": False})
        session.last_item = item["sku"]
        below = item["quantity"] < item["reorder_level"]
        return Reply(
            "item_detail",
            f"{item['name']} ({item['sku']}): {item['quantity']} in stock at {item['location']}; "
            f"reorder level {item['reorder_level']}"
            + (", so it is below its reorder level." if below else "."),
            data={"found": True, **entry(item), "below_reorder_level": below},
            sources=[f"inventory:{item['sku']}"],
        )

    def reorder(self, session: Session, text: str) -> Reply:
        item = self.referenced_item(session, text)
        if item is None:
            return Reply("reorder", "Which item should I reorder?", data={"order_id": None})
        amount = re.search(r"(?:\bx|\u00d7|\*)\s*(\d+)\b|\b(\d+)\s+(?:units?|more|of)\b", text)
        # Without a quantity, order enough to reach twice the reorder level (at least one).
        quantity = (
            int(amount.group(1) or amount.group(2))
            if amount
            else max(2 * item["reorder_level"] - item["quantity"], 1)
        )
        if quantity <= 0:
            return Reply("reorder", "The quantity to reorder must be at least 1.", data={"order_id": None})
        order = self.inventory.place_order(item["sku"], quantity)
        session.last_item, session.last_order_id = item["sku"], order["order_id"]
        return Reply(
            "reorder",
            f"I placed purchase order {order['order_id']} for {quantity} x {item['name']} ({item['sku']}).",
            data=dict(order),
            sources=[f"inventory:{item['sku']}", f"order:{order['order_id']}"],
        )

    def order_status(self, session: Session, text: str) -> Reply:
        number = ORDER_ID.search(text)
        order_id = f"PO-{number.group(1)}" if number else session.last_order_id
        order = self.inventory.orders.get(order_id or "")
        if order is None:
            asked = order_id or "that order"
            return Reply(
                "order_status", f"I can't find order {asked}.", data={"order_id": order_id, "found": False}
            )
        session.last_order_id = order["order_id"]
        return Reply(
            "order_status",
            f"Order {order['order_id']} ({order['quantity']} x {order['item']}) is {order['status']}.",
            data={"found": True, **order},
            sources=[f"order:{order['order_id']}"],
        )


def present(reply: Reply, switches: dict[str, bool]) -> tuple[str, list[str]]:
    """The answer text and sources as the quality switches make them; ``data`` is never touched."""
    answer = reply.answer
    if reply.listing:
        if switches["tidy_lists"]:
            lines = [
                f"- {e['item']} ({e['sku']}): {e['quantity']} at {e['location']}, "
                f"reorder level {e['reorder_level']}"
                for e in reply.listing
            ]
            answer = "\n".join([answer, *lines])
        else:
            records = ", ".join(repr(e) for e in reply.listing)
            answer = f"{answer.rstrip(':').lower()} here they are {records} and that is everything i found"
    return answer, (list(reply.sources) if switches["cite_sources"] else [])


# ----------------------------------------------------------------------------------------------- app


def create_app(root: Path = HERE) -> Starlette:
    """The assistant over ``root/data/inventory.json``, switched by ``root/capabilities.json`` per request."""
    inventory = Inventory.load(root / INVENTORY_FILE)
    assistant = Assistant(inventory)
    sessions: dict[str, Session] = {}

    def new_session_id(request: Request) -> str:
        for header in SESSION_HEADERS:
            value = request.headers.get(header)
            if value:
                return f"session-{value}"
        return f"session-{len(sessions) + 1:04d}"

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def message(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("message"), str)
            or not body["message"].strip()
        ):
            return JSONResponse({"error": 'send {"message": "...", "session_id": "..." (optional)}'}, 400)
        session_id = body.get("session_id")
        if session_id is not None and not (isinstance(session_id, str) and session_id):
            return JSONResponse({"error": "session_id must be a non-empty string when given"}, 400)
        try:
            switches = read_capabilities(root)
        except CapabilitiesError as exc:
            return JSONResponse({"error": str(exc)}, 500)
        session_id = session_id or new_session_id(request)
        session = sessions.setdefault(session_id, Session(session_id))
        reply = assistant.answer(session, body["message"], switches)
        answer, sources = present(reply, switches)
        result = {
            "session_id": session_id,
            "answer": answer,
            "data": reply.data,
            "route": reply.route,
            "sources": sources,
            "capability_missing": reply.capability_missing,
        }
        session.turns.append(
            {"turn": len(session.turns) + 1, "message": body["message"], **copy.deepcopy(result)}
        )
        return JSONResponse(result)

    async def session_memory(request: Request) -> Response:
        session = sessions.get(request.path_params["session_id"])
        if session is None:
            return JSONResponse({"error": f"no session {request.path_params['session_id']!r}"}, 404)
        return JSONResponse(session.as_json())

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/api/assistant/message", message, methods=["POST"]),
            Route("/api/assistant/session/{session_id}", session_memory),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the assistant on 127.0.0.1 (``--port``, default ``$PORT`` or 0: the OS picks)."""
    parser = argparse.ArgumentParser(description="Inventory assistant switched by capabilities.json.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "0")), help="0 lets the OS pick"
    )
    parser.add_argument("--root", type=Path, default=HERE, help="folder with capabilities.json and data/")
    args = parser.parse_args(argv)
    try:
        application = create_app(args.root)
    except (OSError, ValueError, KeyError) as exc:
        print(f"app.py: cannot load {args.root / INVENTORY_FILE}: {exc}", file=sys.stderr)
        return 2
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(f"app.py: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    sock.listen(128)  # connections made from now on wait in the backlog until the server accepts them
    print(f"Inventory assistant on http://{args.host}:{port}", flush=True)
    config = uvicorn.Config(application, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
