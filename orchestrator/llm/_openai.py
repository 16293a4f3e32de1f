"""OpenAI chat completions, as OpenAI and every OpenAI-compatible server (vLLM, Ollama, ...) speak it.

``POST {base_url}/chat/completions`` with ``Authorization: Bearer <key>`` (no header without a
key, for a local server), the system prompt as the first message, temperature 0 and
``max_tokens`` (the name compatible servers know). A JSON Schema goes in ``response_format`` in
strict mode; OpenAI accepts a strict schema only when every object lists all its properties as
required and forbids others, so :func:`strict_schema` rewrites a pydantic schema that way (an
optional field stays optional through its ``null`` alternative, and validation is ours anyway).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from orchestrator.llm._models import ChatMessage, LlmAnswer, LlmAnswerError, LlmError, LlmUsage
from orchestrator.validation import explain_validation_error

__all__ = ["OpenAIChat", "strict_schema"]

_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONES = ("items", "additionalProperties", "not", "contains")


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` as OpenAI's strict mode takes it (see the module doc); the input is not changed."""
    strict: dict[str, Any] = _strict(schema)
    return strict


def _strict(node: Any) -> Any:
    if not isinstance(node, Mapping):
        return node
    if "$ref" in node:  # strict mode refuses keywords beside a reference (pydantic adds a description)
        return {"$ref": node["$ref"]}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("default", "discriminator"):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out["anyOf" if key == "oneOf" else key] = [_strict(sub) for sub in value]
        elif key in _SCHEMA_ONES:
            out[key] = _strict(value)
        else:
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        out["required"] = list(out.get("properties", {}))
        out["additionalProperties"] = False
    return out


class _PromptDetails(BaseModel):
    cached_tokens: int | None = None


class _Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int | None = None
    prompt_tokens_details: _PromptDetails | None = None


class _Message(BaseModel):
    content: str | None = None
    refusal: str | None = None


class _Choice(BaseModel):
    message: _Message
    finish_reason: str | None = None


class _Completion(BaseModel):
    model: str | None = None
    choices: list[_Choice] = Field(min_length=1)
    usage: _Usage | None = None


class OpenAIChat:
    """The OpenAI chat completions wire format (a :class:`~orchestrator.llm._models.WireFormat`)."""

    name = "openai"
    path = "/chat/completions"
    default_base_url = "https://api.openai.com/v1"
    default_key_env = "OPENAI_API_KEY"

    def auth_headers(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key else {}

    def body(
        self,
        model: str,
        messages: list[ChatMessage],
        *,
        system: str | None,
        json_schema: dict[str, Any] | None,
        schema_name: str,
        max_tokens: int,
    ) -> dict[str, Any]:
        turns = [{"role": "system", "content": system}] if system else []
        turns += [{"role": message.role, "content": message.content} for message in messages]
        body: dict[str, Any] = {"model": model, "messages": turns, "temperature": 0, "max_tokens": max_tokens}
        if json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": strict_schema(json_schema), "strict": True},
            }
        return body

    def parse(self, data: Any, *, attempts: int) -> LlmAnswer:
        try:
            completion = _Completion.model_validate(data)
        except ValidationError as exc:
            problem = explain_validation_error(exc, model=_Completion, syntax="json")
            raise LlmError(f"openai answered in a shape that is not a chat completion: {problem}") from None
        choice = completion.choices[0]
        if choice.message.content is None:
            refusal = choice.message.refusal
            reason = f"the model refused: {refusal}" if refusal else "the answer holds no text"
            raise LlmAnswerError(reason, refusal or "", attempts=attempts)
        usage = completion.usage or _Usage()
        details = usage.prompt_tokens_details
        return LlmAnswer(
            text=choice.message.content,
            model=completion.model or "",
            provider=self.name,
            usage=LlmUsage(
                input_tokens=usage.prompt_tokens,
                output_tokens=usage.completion_tokens,
                cached_input_tokens=(details.cached_tokens or 0) if details else 0,
                total_tokens=(
                    usage.total_tokens
                    if usage.total_tokens is not None
                    else usage.prompt_tokens + usage.completion_tokens
                ),
            ),
            finish_reason=choice.finish_reason,
            attempts=attempts,
        )
