"""The ``openai`` twin's behaviour: the OpenAI API as its SDK calls it, with scripted answers.

- ``POST /v1/chat/completions`` answers by the first matching rule (see
  :mod:`._openai_rules`), else echoes the last user message. ``tools`` with a ``tool_choice``
  that forces a call (``"required"`` or one named function) always get a tool call, its
  arguments from the rule or else built from the function's parameter schema; ``"none"`` never
  gets one. ``response_format`` ``json_schema`` gets, when no rule answers, a document that
  validates against the schema (``json_object``: ``{"reply": ...}``). ``stream: true`` answers
  as server-sent events, chunk by chunk.
- ``POST /v1/responses``: the Responses API's basic create (``input`` text or messages,
  ``instructions``), answered by the same rules, as one ``output_text`` message.
- ``POST /v1/embeddings``: deterministic vectors derived from the text (see :mod:`._embedding`),
  as floats or base64 (what the SDK asks for), ``dimensions`` honoured.
- ``GET /v1/models`` and ``GET /v1/models/{model}``.

Usage counts are deterministic estimates (about four characters a token), not a tokenizer's.
Every completion and response is recorded in the ``completions`` entity, so a test can see what
was asked.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

from orchestrator.twins import TwinCall, TwinReply, TwinRoutes
from orchestrator.twins.shipped._embedding import DEFAULT_DIMENSIONS, embed, encode_base64
from orchestrator.twins.shipped._openai_rules import (
    answer,
    error,
    first_matching_rule,
    rules_are_valid,
    text_of,
    tokens,
)
from orchestrator.twins.shipped._schema_example import example_of

routes = TwinRoutes()
routes.seed_check(rules_are_valid)

_MAX_EMBEDDING_DIMENSIONS = 8192


@routes.get("/models")
def list_models(call: TwinCall) -> TwinReply:
    return TwinReply(
        body={"object": "list", "data": [_model(record) for record in call.state.list("models")]}
    )


@routes.get("/models/{model:path}")
def get_model(call: TwinCall) -> TwinReply:
    record = call.state.get("models", call.path_params["model"])
    if record is None:
        return error(
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


def _forced_tool(request: Mapping[str, Any]) -> tuple[str | None, TwinReply | None]:
    """The tool a ``tool_choice`` forces: a name, ``"*"`` (any: ``required``), or ``None``; or an error."""
    choice = request.get("tool_choice")
    tools = _tools(request)
    if choice == "required":
        return ("*" if tools else None), None
    if isinstance(choice, Mapping):
        name = (
            (choice.get("function") or {}).get("name")
            if isinstance(choice.get("function"), Mapping)
            else None
        )
        name = name or choice.get("name")
        if not isinstance(name, str) or name not in tools:
            known = ", ".join(tools) or "none"
            return None, error(
                400,
                f"Invalid value for 'tool_choice': no function named {name!r} in 'tools' (tools: {known}).",
                param="tool_choice",
            )
        return name, None
    return None, None


def _tools(request: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The request's function tools by name: their parameter schemas (chat and Responses shapes)."""
    found: dict[str, Mapping[str, Any]] = {}
    for tool in request.get("tools") or []:
        if not isinstance(tool, Mapping) or tool.get("type", "function") != "function":
            continue
        function = tool.get("function")
        spec: Mapping[str, Any] = function if isinstance(function, Mapping) else tool
        if isinstance(spec.get("name"), str):
            parameters = spec.get("parameters")
            found[spec["name"]] = parameters if isinstance(parameters, Mapping) else {}
    return found


def _tool_call(call: TwinCall, name: str, arguments: Any) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "id": f"call_twin_{call.state.next_id('completions')}",
        "type": "function",
        "function": {"name": name, "arguments": text},
    }


def _honour_tool_choice(
    call: TwinCall, request: Mapping[str, Any], tool_calls: list[dict[str, Any]], forced: str | None
) -> list[dict[str, Any]]:
    if request.get("tool_choice") == "none":
        return []
    if forced is None:
        return tool_calls
    if forced == "*":
        if tool_calls:
            return tool_calls
        forced = next(iter(_tools(request)))
    chosen = [made for made in tool_calls if made["function"]["name"] == forced]
    if chosen:
        return chosen
    return [_tool_call(call, forced, example_of(_tools(request)[forced]))]


def _structured(request: Mapping[str, Any], content: str) -> str:
    """An answer that fits the request's ``response_format`` (the text itself when there is none)."""
    response_format = request.get("response_format")
    if not isinstance(response_format, Mapping):
        return content
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        return json.dumps(example_of(schema or {}, name=str((spec or {}).get("name", "value"))))
    if kind == "json_object":
        return json.dumps({"reply": content})
    return content


@routes.post("/chat/completions")
def chat_completions(call: TwinCall) -> TwinReply:
    request = call.body
    if not isinstance(request, Mapping):
        return error(400, "We could not parse the JSON body of your request.")
    model = request.get("model")
    messages = request.get("messages")
    if not isinstance(model, str) or not model:
        return error(400, "you must provide a model parameter", param="model")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, Mapping) for m in messages):
        return error(400, "'messages' must be a non-empty array of message objects", param="messages")
    forced, refused = _forced_tool(request)
    if refused is not None:
        return refused
    last_user_index = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    last_user = text_of(messages[last_user_index].get("content")) if last_user_index >= 0 else ""
    tool_results = [m for m in messages[last_user_index + 1 :] if m.get("role") == "tool"]
    rule = first_matching_rule(call, model, last_user)
    if rule is not None and isinstance(rule.get("error"), Mapping):
        return _scripted_error(rule["error"])
    content, tool_calls = answer(call, rule, last_user, tool_results)
    offered = _tools(request)  # a model calls only the tools it is offered
    tool_calls = [made for made in tool_calls if made["function"]["name"] in offered]
    tool_calls = _honour_tool_choice(call, request, tool_calls, forced)
    scripted = rule is not None and content is not None
    if tool_calls:
        content = None
    else:
        content = content if content is not None else last_user
        if not scripted:
            content = _structured(request, content)
    prompt_tokens = sum(tokens(text_of(m.get("content"))) + 3 for m in messages)
    completion_tokens = tokens((content or "") + "".join(c["function"]["arguments"] for c in tool_calls))
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
    _record(call, number, completion_id, model, last_user, rule, content, tool_calls, usage)
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


def _scripted_error(scripted: Mapping[str, Any]) -> TwinReply:
    return error(
        int(scripted.get("status", 500)),
        str(scripted.get("message", "scripted error")),
        kind=str(scripted.get("type", "api_error")),
        code=scripted.get("code"),
    )


def _record(
    call: TwinCall,
    number: int,
    completion_id: str,
    model: str,
    last_user: str,
    rule: Mapping[str, Any] | None,
    content: str | None,
    tool_calls: list[dict[str, Any]],
    usage: Mapping[str, Any],
) -> None:
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


@routes.post("/responses")
def create_response(call: TwinCall) -> TwinReply:
    request = call.body
    if not isinstance(request, Mapping):
        return error(400, "We could not parse the JSON body of your request.")
    model = request.get("model")
    if not isinstance(model, str) or not model:
        return error(400, "Missing required parameter: 'model'.", param="model")
    items = request.get("input")
    if isinstance(items, str):
        last_user, prompt = items, items
    elif isinstance(items, list) and items and all(isinstance(item, Mapping) for item in items):
        users = [text_of(item.get("content")) for item in items if item.get("role", "user") == "user"]
        last_user = users[-1] if users else ""
        prompt = "".join(text_of(item.get("content")) for item in items)
    else:
        return error(400, "Missing required parameter: 'input'.", param="input")
    rule = first_matching_rule(call, model, last_user)
    if rule is not None and isinstance(rule.get("error"), Mapping):
        return _scripted_error(rule["error"])
    content, _ = answer(call, rule, last_user, [])
    text = content if content is not None else last_user
    number = call.state.next_id("completions")
    input_tokens = tokens(str(request.get("instructions") or "") + prompt)
    output_tokens = tokens(text)
    usage = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }
    response_id = f"resp_twin_{number}"
    _record(call, number, response_id, model, last_user, rule, text, [], usage)
    return TwinReply(
        body={
            "id": response_id,
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "error": None,
            "incomplete_details": None,
            "instructions": request.get("instructions"),
            "model": model,
            "output": [
                {
                    "type": "message",
                    "id": f"msg_twin_{number}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ],
            "parallel_tool_calls": True,
            "previous_response_id": request.get("previous_response_id"),
            "temperature": request.get("temperature", 1.0),
            "tool_choice": request.get("tool_choice", "auto"),
            "tools": request.get("tools") or [],
            "top_p": request.get("top_p", 1.0),
            "metadata": request.get("metadata") or {},
            "usage": usage,
        }
    )


@routes.post("/embeddings")
def create_embeddings(call: TwinCall) -> TwinReply:
    request = call.body
    if not isinstance(request, Mapping):
        return error(400, "We could not parse the JSON body of your request.")
    model = request.get("model")
    if not isinstance(model, str) or not model:
        return error(400, "you must provide a model parameter", param="model")
    raw = request.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts:
        return error(400, "'input' must be a string or a non-empty array of strings", param="input")
    texts = [" ".join(map(str, text)) if isinstance(text, list) else text for text in texts]
    if not all(isinstance(text, str) for text in texts):
        return error(400, "'input' must be a string or a non-empty array of strings", param="input")
    dimensions = request.get("dimensions", DEFAULT_DIMENSIONS.get(model, 1536))
    if not isinstance(dimensions, int) or isinstance(dimensions, bool):
        return error(400, "'dimensions' must be a whole number", param="dimensions")
    if not 1 <= dimensions <= _MAX_EMBEDDING_DIMENSIONS:
        return error(400, f"'dimensions' must be from 1 to {_MAX_EMBEDDING_DIMENSIONS}", param="dimensions")
    encoding = request.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        return error(400, "'encoding_format' must be 'float' or 'base64'", param="encoding_format")
    data = []
    for index, text in enumerate(texts):
        vector = embed(text, dimensions)
        data.append(
            {
                "object": "embedding",
                "index": index,
                "embedding": encode_base64(vector) if encoding == "base64" else vector,
            }
        )
    used = sum(tokens(text) for text in texts)
    return TwinReply(
        body={
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": used, "total_tokens": used},
        }
    )


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
