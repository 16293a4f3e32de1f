"""The ``openai`` twin's behaviour: OpenAI-compatible chat completions with scripted answers.

``POST /v1/chat/completions`` answers by the first rule (the ``rules`` entity, in order) whose
``match`` regex is found in the last user message (and whose optional ``model`` regex matches
the requested model). A rule answers with ``reply`` text (``\\1``-style groups of the match may be
used), or with ``tool_calls`` (``[{name, arguments}]``); once the conversation holds tool results
after that user message, the rule answers ``reply_after_tool`` (default: ``reply``, else the last
tool result) so an agent's tool loop ends. A rule may instead script an API ``error``
(``{status, message, type, code}``). With no rule matching, the answer echoes the last user
message. ``stream: true`` answers as server-sent events, chunk by chunk.

Usage counts are deterministic estimates (about four characters a token), not a tokenizer's.
Every completion is recorded in the ``completions`` entity, so a test can see what was asked.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from orchestrator.twins import SeedDataError, TwinCall, TwinReply, TwinRoutes

routes = TwinRoutes()


def _error(
    status: int,
    message: str,
    *,
    kind: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> TwinReply:
    return TwinReply(
        status=status, body={"error": {"message": message, "type": kind, "param": param, "code": code}}
    )


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _text_of(content: Any) -> str:
    """A message's text: a plain string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    return ""


@routes.seed_check
def _rules_are_valid(data: Mapping[str, list[dict[str, Any]]]) -> None:
    for index, rule in enumerate(data.get("rules", [])):
        for field in ("match", "model"):
            pattern = rule.get(field)
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                raise SeedDataError(
                    f"rules[{index}].{field}",
                    f"is not a valid regular expression ({exc})",
                    'use a Python regular expression, for example "match": "(?i)weather in (\\\\w+)"',
                ) from None
        _check_reply(rule, index)
        _check_error(rule.get("error"), index)
        calls = rule.get("tool_calls")
        if calls is not None and (
            not isinstance(calls, list) or not all(isinstance(c, Mapping) and "name" in c for c in calls)
        ):
            raise SeedDataError(
                f"rules[{index}].tool_calls",
                "must be a list of objects with a name and arguments",
                'write it like "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]',
            )


def _check_reply(rule: Mapping[str, Any], index: int) -> None:
    """A ``reply`` may refer only to groups its ``match`` has (it is expanded with the match)."""
    reply = rule.get("reply")
    if not isinstance(reply, str):
        return
    pattern = re.compile(rule.get("match") or "")
    # An empty match with the same groups, numbered and named alike, to expand the reply against.
    names = {number: name for name, number in pattern.groupindex.items()}
    groups = "".join(
        f"(?P<{names[number]}>)" if number in names else "()" for number in range(1, pattern.groups + 1)
    )
    sample = re.fullmatch(groups, "")
    assert sample is not None  # empty groups always match the empty string
    try:
        sample.expand(reply)
    except (re.error, IndexError) as exc:
        raise SeedDataError(
            f"rules[{index}].reply",
            f"cannot be filled in from the match pattern ({exc}; the pattern has {pattern.groups} group(s))",
            'refer only to groups of "match", for example "match": "weather in (\\w+)", '
            '"reply": "Sunny in \\1"; write a literal backslash as \\\\',
        ) from None


def _check_error(error: Any, index: int) -> None:
    """A scripted ``error`` must answer with an HTTP error status (400..599)."""
    if error is None:
        return
    if not isinstance(error, Mapping):
        raise SeedDataError(
            f"rules[{index}].error",
            "must be an object",
            'write it like "error": {"status": 429, "message": "Rate limit reached"}',
        )
    status = error.get("status", 500)
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise SeedDataError(
            f"rules[{index}].error.status",
            f"must be an HTTP error status, a whole number from 400 to 599 (got {status!r})",
            'write it like "error": {"status": 429, "message": "Rate limit reached"}',
        )


@routes.get("/models")
def list_models(call: TwinCall) -> TwinReply:
    return TwinReply(
        body={"object": "list", "data": [_model(record) for record in call.state.list("models")]}
    )


@routes.get("/models/{model:path}")
def get_model(call: TwinCall) -> TwinReply:
    record = call.state.get("models", call.path_params["model"])
    if record is None:
        return _error(
            404,
            f"The model '{call.path_params['model']}' does not exist",
            code="model_not_found",
            param="model",
        )
    return TwinReply(body=_model(record))


def _model(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "object": "model",
        "created": record.get("created", 1700000000),
        "owned_by": record.get("owned_by", "orchestrate-twin"),
    }


@routes.post("/chat/completions")
def chat_completions(call: TwinCall) -> TwinReply:
    request = call.body
    if not isinstance(request, Mapping):
        return _error(400, "We could not parse the JSON body of your request.")
    model = request.get("model")
    messages = request.get("messages")
    if not isinstance(model, str) or not model:
        return _error(400, "you must provide a model parameter", param="model")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, Mapping) for m in messages):
        return _error(400, "'messages' must be a non-empty array of message objects", param="messages")
    last_user_index = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    last_user = _text_of(messages[last_user_index].get("content")) if last_user_index >= 0 else ""
    tool_results = [m for m in messages[last_user_index + 1 :] if m.get("role") == "tool"]
    rule = _first_matching_rule(call, model, last_user)
    if rule is not None and isinstance(rule.get("error"), Mapping):
        error = rule["error"]
        return _error(
            int(error.get("status", 500)),
            str(error.get("message", "scripted error")),
            kind=str(error.get("type", "api_error")),
            code=error.get("code"),
        )
    content, tool_calls = _answer(call, rule, last_user, tool_results)
    prompt_tokens = sum(_tokens(_text_of(m.get("content"))) + 3 for m in messages)
    completion_text = (content or "") + "".join(c["function"]["arguments"] for c in tool_calls)
    completion_tokens = _tokens(completion_text)
    number = call.state.next_id("completions")
    completion_id = f"chatcmpl-twin-{number}"
    finish = "tool_calls" if tool_calls else "stop"
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    call.state.insert(
        "completions",
        {
            "id": number,
            "completion_id": completion_id,
            "model": model,
            "last_user_message": last_user,
            "rule": rule.get("id") if rule is not None else None,
            "content": content,
            "tool_calls": [c["function"]["name"] for c in tool_calls],
            "usage": usage,
        },
    )
    created = int(time.time())
    if request.get("stream"):
        include_usage = isinstance(request.get("stream_options"), Mapping) and bool(
            request["stream_options"].get("include_usage")
        )
        return _stream(
            completion_id, created, model, content, tool_calls, finish, usage if include_usage else None
        )
    return TwinReply(
        body={
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_orchestrate_twin",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": usage,
        }
    )


def _first_matching_rule(call: TwinCall, model: str, last_user: str) -> dict[str, Any] | None:
    for rule in call.state.list("rules"):
        model_pattern = rule.get("model")
        if model_pattern and not re.search(model_pattern, model):
            continue
        if re.search(rule.get("match") or "", last_user):
            return rule
    return None


def _answer(
    call: TwinCall, rule: dict[str, Any] | None, last_user: str, tool_results: list[Mapping[str, Any]]
) -> tuple[str | None, list[dict[str, Any]]]:
    if rule is None:
        return last_user, []
    found = re.search(rule.get("match") or "", last_user)
    reply = rule.get("reply")
    if found is not None and isinstance(reply, str):
        reply = found.expand(reply)
    calls = rule.get("tool_calls") or []
    if calls and not tool_results:
        made = []
        for spec in calls:
            arguments = spec.get("arguments", {})
            text = arguments if isinstance(arguments, str) else json.dumps(arguments)
            made.append(
                {
                    "id": f"call_twin_{call.state.next_id('completions')}",
                    "type": "function",
                    "function": {"name": spec["name"], "arguments": text},
                }
            )
        return None, made
    if calls:
        after = rule.get("reply_after_tool")
        if isinstance(after, str):
            return after, []
        if isinstance(reply, str):
            return reply, []
        return _text_of(tool_results[-1].get("content")), []
    return reply if isinstance(reply, str) else last_user, []


def _stream(
    completion_id: str,
    created: int,
    model: str,
    content: str | None,
    tool_calls: list[dict[str, Any]],
    finish: str,
    usage: dict[str, int] | None,
) -> TwinReply:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_orchestrate_twin",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }

    events = [chunk({"role": "assistant", "content": "" if content is not None else None})]
    if content:
        words = re.findall(r"\S+\s*|\s+", content)
        events.extend(chunk({"content": word}) for word in words)
    for index, tool_call in enumerate(tool_calls):
        events.append(chunk({"tool_calls": [{"index": index, **tool_call}]}))
    events.append(chunk({}, finish))
    if usage is not None:
        final = chunk({})
        final["choices"] = []
        final["usage"] = usage
        events.append(final)
    text = (
        "".join(f"data: {json.dumps(event, separators=(',', ':'))}\n\n" for event in events)
        + "data: [DONE]\n\n"
    )
    return TwinReply(body=text.encode(), media_type="text/event-stream; charset=utf-8")
