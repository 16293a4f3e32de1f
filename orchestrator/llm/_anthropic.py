"""Anthropic's messages API: ``POST {base_url}/v1/messages`` with ``x-api-key`` and a fixed version.

The system prompt is the ``system`` field, temperature is 0 and ``max_tokens`` is required. The
API has no JSON Schema mode of its own, so a schema is given as an instruction at the end of the
system prompt; the caller validates the answer. Anthropic counts cached prompt tokens apart from
``input_tokens`` (read from the cache, or written to it), so they are added back: our
``input_tokens`` is every prompt token, as OpenAI counts it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from orchestrator.llm._models import ChatMessage, LlmAnswer, LlmAnswerError, LlmError, LlmUsage
from orchestrator.validation import explain_validation_error

__all__ = ["ANTHROPIC_VERSION", "AnthropicMessages", "schema_instruction"]

ANTHROPIC_VERSION = "2023-06-01"


def schema_instruction(schema: Mapping[str, Any]) -> str:
    """The instruction that asks for a JSON answer matching ``schema``."""
    return "Answer with one JSON object only, matching this JSON Schema, and nothing else:\n" + json.dumps(
        schema, separators=(",", ":"), sort_keys=True
    )


class _Block(BaseModel):
    type: str
    text: str | None = None


class _Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None


class _Message(BaseModel):
    model: str | None = None
    content: list[_Block]
    stop_reason: str | None = None
    usage: _Usage | None = None


class AnthropicMessages:
    """The Anthropic messages wire format (a :class:`~orchestrator.llm._models.WireFormat`)."""

    name = "anthropic"
    path = "/v1/messages"
    default_base_url = "https://api.anthropic.com"
    default_key_env = "ANTHROPIC_API_KEY"

    def auth_headers(self, key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if key:
            headers["x-api-key"] = key
        return headers

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
        parts = [system] if system else []
        if json_schema is not None:
            parts.append(schema_instruction(json_schema))
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": max_tokens,
            "temperature": 0,
            "messages": [{"role": message.role, "content": message.content} for message in messages],
        }
        if parts:
            body["system"] = "\n\n".join(parts)
        return body

    def parse(self, data: Any, *, attempts: int) -> LlmAnswer:
        try:
            message = _Message.model_validate(data)
        except ValidationError as exc:
            problem = explain_validation_error(exc, model=_Message, syntax="json")
            raise LlmError(f"anthropic answered in a shape that is not a message: {problem}") from None
        texts = [block.text for block in message.content if block.type == "text" and block.text is not None]
        if not texts:
            raise LlmAnswerError(
                f"the answer holds no text (stop reason {message.stop_reason})", "", attempts=attempts
            )
        usage = message.usage or _Usage()
        cached = usage.cache_read_input_tokens or 0
        prompt = usage.input_tokens + cached + (usage.cache_creation_input_tokens or 0)
        return LlmAnswer(
            text="".join(texts),
            model=message.model or "",
            provider=self.name,
            usage=LlmUsage(
                input_tokens=prompt,
                output_tokens=usage.output_tokens,
                cached_input_tokens=cached,
                total_tokens=prompt + usage.output_tokens,
            ),
            finish_reason=message.stop_reason,
            attempts=attempts,
        )
