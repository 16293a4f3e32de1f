"""What the model client's tests share: the verdict they ask for, and small scripted servers.

:func:`scripted` builds a Starlette app that records every request and answers with the next
scripted reply, for what the openai twin cannot do: alternate failures and answers, speak
Anthropic's API, or echo the key back as some providers do.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orchestrator.llm import ChatMessage, LlmClient, LlmSection
from orchestrator.testing import CapturedEvents

CANARY_KEY = "sk-canary-5f1e9c0d7b3a2e4f9a8b"


class Verdict(BaseModel):
    """What the judge asks the model for."""

    verdict: Literal["pass", "fail"]
    reasons: list[str] = Field(min_length=1)
    confidence: float = Field(ge=0, le=1)


class Finding(BaseModel):
    where: str = Field(description="The step it happened at.")
    severity: Literal["low", "high"] = "low"


class DetailedVerdict(BaseModel):
    verdict: Literal["pass", "fail"]
    main: Finding = Field(description="The finding that decided it.")
    others: list[Finding] = []
    note: str | None = None


PASSING = {"verdict": "pass", "reasons": ["the flight was booked"], "confidence": 0.9}


def emitter(captured: CapturedEvents) -> Callable[..., None]:
    def emit(event_type: str, **payload: Any) -> None:
        captured.emit(event_type, payload, actor="judge")

    return emit


def ask(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


Reply = Callable[[dict[str, str]], Response]


def reply(status: int, body: Any, **headers: str) -> Reply:
    return lambda _: JSONResponse(
        body, status_code=status, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )


def scripted(replies: list[Reply]) -> tuple[Starlette, list[Seen]]:
    """An app that answers every POST with the next reply (the last one again once they run out)."""
    seen: list[Seen] = []

    async def endpoint(request: Request) -> Response:
        seen.append(Seen(request.url.path, dict(request.headers), await request.json()))
        return replies[min(len(seen), len(replies)) - 1](dict(request.headers))

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=["POST"])]), seen


def completion(text: str | None, **extra: Any) -> dict[str, Any]:
    message = {"role": "assistant", "content": text, "refusal": extra.pop("refusal", None)}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": extra.pop("model", "served-model"),
        "choices": [{"index": 0, "message": message, "finish_reason": extra.pop("finish_reason", "stop")}],
        "usage": extra.pop(
            "usage",
            {
                "prompt_tokens": 50,
                "completion_tokens": 10,
                "total_tokens": 60,
                "prompt_tokens_details": {"cached_tokens": 32},
            },
        ),
    }


def anthropic_message(text: str) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-served",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 20,
            "output_tokens": 9,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 5,
        },
    }


def local_client(base_url: str, sleeps: list[float], **settings: Any) -> LlmClient:
    section = LlmSection(model="local-model", base_url=base_url, **settings)
    return LlmClient(section, env={}, sleep=sleeps.append, rng=random.Random(3))
