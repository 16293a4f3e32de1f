"""What a model call takes and gives: messages, token usage, the answer, and how a call fails.

:class:`LlmUsage` means the same for every provider: ``input_tokens`` counts every token of the
prompt, cached ones included, and ``cached_input_tokens`` is the part read from the provider's
cache, so usage from OpenAI and Anthropic can be summed into one figure per run (``a + b``).

The errors derive from :class:`~orchestrator.errors.OrchestrateError` and never carry the API
key: the client removes it from every provider message before one reaches an error.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.errors import OrchestrateError

__all__ = [
    "ChatMessage",
    "LlmAnswer",
    "LlmAnswerError",
    "LlmError",
    "LlmNotConfiguredError",
    "LlmUsage",
    "WireFormat",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChatMessage(_Frozen):
    """One turn of the conversation sent to the model (the system prompt is passed on its own)."""

    role: Literal["user", "assistant"]
    content: str


class LlmUsage(_Frozen):
    """Token counts of one or more model calls; ``a + b`` sums them (``sum(usages, LlmUsage())``)."""

    input_tokens: int = Field(default=0, ge=0, description="Every prompt token, cached ones included.")
    output_tokens: int = Field(default=0, ge=0, description="Tokens the model generated.")
    cached_input_tokens: int = Field(default=0, ge=0, description="Prompt tokens read from the cache.")
    total_tokens: int = Field(default=0, ge=0, description="Input plus output tokens.")

    def __add__(self, other: LlmUsage) -> LlmUsage:
        if not isinstance(other, LlmUsage):
            return NotImplemented
        return LlmUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class LlmAnswer(_Frozen):
    """The model's answer to one call (or, from ``complete_json``, to all the calls it took).

    ``model`` is the model the provider says it served; ``attempts`` counts HTTP requests sent,
    retries included; ``usage`` covers every answered request.
    """

    text: str
    model: str
    provider: str
    usage: LlmUsage
    finish_reason: str | None
    attempts: int = Field(ge=1)


class LlmError(OrchestrateError):
    """A model call failed: refused by the provider, or failing past the retry budget.

    ``status`` is the last HTTP status (``None`` when no answer came), ``attempts`` the requests
    sent. The message holds the provider's own error message, never the API key.
    """

    error_code = "llm_error"

    def __init__(self, message: str, *, status: int | None = None, attempts: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class LlmAnswerError(LlmError):
    """The model answered, but not with what was asked (no valid JSON), also when asked again.

    ``reason`` says what was wrong with the last answer; ``text`` is that answer.
    """

    error_code = "llm_answer_invalid"

    def __init__(self, reason: str, text: str, *, attempts: int | None = None) -> None:
        excerpt = text if len(text) <= 120 else text[:117] + "..."
        super().__init__(
            f"the model's answer was not accepted: {reason} (the answer began {excerpt!r})", attempts=attempts
        )
        self.reason = reason
        self.text = text


class LlmNotConfiguredError(LlmError):
    """No model is configured, so no call can be made; the message says how to configure one."""

    error_code = "llm_not_configured"


class WireFormat(Protocol):
    """How one provider's API is spoken: where to post, which headers, the body, the answer."""

    name: str
    path: str
    default_base_url: str
    default_key_env: str

    def auth_headers(self, key: str | None) -> dict[str, str]:
        """The headers of every request; the key's header only when there is a key."""
        ...

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
        """The JSON body of a request (temperature 0)."""
        ...

    def parse(self, data: Any, *, attempts: int) -> LlmAnswer:
        """The answer in a successful response's JSON; :class:`LlmError` when it is not one."""
        ...
