"""The ``slack`` twin's behaviour: a small, stateful Slack Web API.

Methods (``GET`` or ``POST``, JSON or form-encoded, under ``/api``): ``auth.test``,
``chat.postMessage``, ``chat.update`` (your own messages), ``reactions.add``,
``conversations.list``, ``conversations.history`` (newest first, with ``limit`` and cursor
pagination), ``users.list`` and ``users.info``. Like Slack, failures are HTTP 200 with
``{"ok": false, "error": "channel_not_found"}``; a channel may be named by id or by ``#name``.
The reads are marked read-only, so ``stale_data`` chaos reaches them although they are ``POST``s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.twins import TwinCall, TwinReply, TwinRoutes

routes = TwinRoutes()

_BOTH = ("GET", "POST")
_BASE_TS = 1_700_000_000


def _ok(**fields: Any) -> TwinReply:
    return TwinReply(body={"ok": True, **fields})


def _fail(error: str) -> TwinReply:
    return TwinReply(body={"ok": False, "error": error})


def _args(call: TwinCall) -> dict[str, Any]:
    """Method arguments from the query string and the body (JSON or form), body winning."""
    args: dict[str, Any] = dict(call.query)
    if isinstance(call.body, Mapping):
        args.update(call.body)
    return args


def _channel(call: TwinCall, ref: Any) -> dict[str, Any] | None:
    if not isinstance(ref, str) or not ref:
        return None
    found = call.state.get("channels", ref)
    if found is not None:
        return found
    return call.state.find("channels", name=ref.lstrip("#"))


def _int_arg(args: Mapping[str, Any], name: str, default: int) -> int:
    try:
        return int(args.get(name, default))
    except (TypeError, ValueError):
        return default


@routes.route(_BOTH, "/auth.test", read_only=True)
def auth_test(call: TwinCall) -> TwinReply:
    user = call.state.get("users", call.principal) if call.principal else None
    name = user.get("name") if user else call.principal
    return _ok(
        url="https://twin.slack.com/", team="Twin Team", user=name, team_id="T0TWIN", user_id=call.principal
    )


@routes.route(_BOTH, "/chat.postMessage")
def post_message(call: TwinCall) -> TwinReply:
    args = _args(call)
    channel = _channel(call, args.get("channel"))
    if channel is None:
        return _fail("channel_not_found")
    if channel.get("is_archived"):
        return _fail("is_archived")
    text = args.get("text")
    if not isinstance(text, str) or not text.strip():
        return _fail("no_text")
    ts = ""
    while not ts or call.state.get("messages", ts) is not None:  # seeded messages may use the same ts
        number = call.state.next_id("messages")
        ts = f"{_BASE_TS + number}.{number:06d}"
    message = {
        "ts": ts,
        "type": "message",
        "channel": channel["id"],
        "user": call.principal,
        "text": text,
        "thread_ts": args.get("thread_ts"),
    }
    stored = call.state.insert("messages", message)
    return _ok(channel=channel["id"], ts=ts, message=_public(stored))


def _public(message: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key != "channel" and value is not None}


def _message(
    call: TwinCall, args: Mapping[str, Any], ts_key: str
) -> tuple[dict[str, Any] | None, str | None]:
    """The message ``args`` name (channel and timestamp), or the Slack error saying why not."""
    channel = _channel(call, args.get("channel"))
    if channel is None:
        return None, "channel_not_found"
    message = call.state.get("messages", args.get(ts_key))
    if message is None or message.get("channel") != channel["id"]:
        return None, "message_not_found"
    return message, None


@routes.route(_BOTH, "/chat.update")
def chat_update(call: TwinCall) -> TwinReply:
    args = _args(call)
    message, problem = _message(call, args, "ts")
    if message is None:
        return _fail(problem or "message_not_found")
    if message.get("user") != call.principal:
        return _fail("cant_update_message")
    text = args.get("text")
    if not isinstance(text, str) or not text.strip():
        return _fail("no_text")
    number = call.state.next_id("messages")
    edited = {"user": call.principal, "ts": f"{_BASE_TS + number}.{number:06d}"}
    updated = call.state.update("messages", message["ts"], {"text": text, "edited": edited}) or message
    return _ok(channel=message["channel"], ts=message["ts"], text=text, message=_public(updated))


@routes.route(_BOTH, "/reactions.add")
def reactions_add(call: TwinCall) -> TwinReply:
    args = _args(call)
    name = args.get("name")
    if not isinstance(name, str) or not name.strip(":").strip():
        return _fail("invalid_name")
    name = name.strip(":").strip()
    message, problem = _message(call, args, "timestamp")
    if message is None:
        return _fail(problem or "message_not_found")
    reactions = [dict(reaction) for reaction in message.get("reactions") or []]
    reaction = next((r for r in reactions if r.get("name") == name), None)
    if reaction is None:
        reaction = {"name": name, "users": [], "count": 0}
        reactions.append(reaction)
    if call.principal in reaction["users"]:
        return _fail("already_reacted")
    reaction["users"] = [*reaction["users"], call.principal]
    reaction["count"] = len(reaction["users"])
    call.state.update("messages", message["ts"], {"reactions": reactions})
    return _ok()


@routes.route(_BOTH, "/conversations.list", read_only=True)
def conversations_list(call: TwinCall) -> TwinReply:
    channels = [dict(channel) for channel in call.state.list("channels")]
    return _ok(channels=channels, response_metadata={"next_cursor": ""})


@routes.route(_BOTH, "/conversations.history", read_only=True)
def conversations_history(call: TwinCall) -> TwinReply:
    args = _args(call)
    channel = _channel(call, args.get("channel"))
    if channel is None:
        return _fail("channel_not_found")
    messages = [
        _public(message) for message in call.state.list("messages") if message.get("channel") == channel["id"]
    ]
    messages.sort(key=lambda message: message["ts"], reverse=True)
    limit = min(max(_int_arg(args, "limit", 100), 1), 1000)
    start = _int_arg(args, "cursor", 0)
    page = messages[start : start + limit]
    has_more = start + limit < len(messages)
    return _ok(
        messages=page,
        has_more=has_more,
        pin_count=0,
        response_metadata={"next_cursor": str(start + limit) if has_more else ""},
    )


@routes.route(_BOTH, "/users.list", read_only=True)
def users_list(call: TwinCall) -> TwinReply:
    return _ok(
        members=[dict(user) for user in call.state.list("users")], response_metadata={"next_cursor": ""}
    )


@routes.route(_BOTH, "/users.info", read_only=True)
def users_info(call: TwinCall) -> TwinReply:
    user = call.state.get("users", _args(call).get("user"))
    return _ok(user=dict(user)) if user is not None else _fail("user_not_found")
