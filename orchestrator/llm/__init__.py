"""Ask a language model for an answer, or for a JSON verdict validated as a pydantic model.

The scenario judge (and any actor that needs a model) asks through :class:`LlmClient`, configured
by the ``[llm]`` section (:class:`LlmSection`): OpenAI-compatible chat completions or Anthropic's
messages API, spoken over httpx. Calls are at temperature 0, retried on 429, 5xx and lost
connections (``Retry-After`` honoured), bracketed by ``llm.call.*`` events with their token usage,
and never show the API key in a log, an event, an error or a repr::

    from orchestrator.llm import ChatMessage, LlmClient, LlmSection

    with LlmClient(LlmSection(model="gpt-4o-mini")) as llm:
        verdict, answer = llm.complete_json(
            [ChatMessage(role="user", content="Did the assistant book the flight? ...")],
            result_model=Verdict,
            emit=worker.emit,
        )
"""

from __future__ import annotations

from orchestrator.llm._client import Emit, LlmClient
from orchestrator.llm._models import (
    ChatMessage,
    LlmAnswer,
    LlmAnswerError,
    LlmError,
    LlmNotConfiguredError,
    LlmUsage,
)
from orchestrator.llm._openai import strict_schema
from orchestrator.llm._settings import LlmSection

__all__ = [
    "ChatMessage",
    "Emit",
    "LlmAnswer",
    "LlmAnswerError",
    "LlmClient",
    "LlmError",
    "LlmNotConfiguredError",
    "LlmSection",
    "LlmUsage",
    "strict_schema",
]
