"""The model client: one call is one bracketed, retried HTTP exchange with the configured provider.

:meth:`LlmClient.complete` sends the conversation and returns the text; :meth:`LlmClient.complete_json`
asks for a JSON answer matching a pydantic model and returns it validated, asking once more,
with the reason, when the first answer is not right. Every ``complete`` is bracketed once by
:func:`~orchestrator.actors.model_call` (``llm.call.started``, then ``completed`` with the usage
or ``failed`` with the error), whatever number of HTTP attempts it took; each retry is a
structlog warning with the attempt, the status and the wait, never a message's content.

The API key is read from the environment once, kept as a :class:`~pydantic.SecretStr`, put on
each request's headers only, and replaced by ``[redacted]`` in every provider message the client
repeats; no error it raises chains an HTTP exception (which holds the request and its headers).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self, TypeVar

import httpx
import structlog
from pydantic import BaseModel, SecretStr

from orchestrator.actors import ModelCallRecord, model_call
from orchestrator.llm._anthropic import AnthropicMessages
from orchestrator.llm._json_answer import feedback, parse_json_answer, schema_name_of
from orchestrator.llm._models import (
    ChatMessage,
    LlmAnswer,
    LlmAnswerError,
    LlmError,
    LlmNotConfiguredError,
    WireFormat,
)
from orchestrator.llm._openai import OpenAIChat
from orchestrator.llm._retry import (
    RETRYABLE_TRANSPORT_ERRORS,
    Backoff,
    is_retryable_status,
    provider_message,
)
from orchestrator.llm._settings import LlmSection

__all__ = ["Emit", "LlmClient"]

M = TypeVar("M", bound=BaseModel)

Emit = Callable[..., None]
"""``emit(event_type, **payload)``: where the call's ``llm.call.*`` events go (a worker's ``emit``)."""

_log = structlog.get_logger(__name__)
_REDACTED = "[redacted]"
_NOT_CONFIGURED = (
    "no language model is configured. Fix: add it to orchestrate.toml as `[llm]` with "
    '`model = "gpt-4o-mini"` (and `provider = "anthropic"` for Anthropic, `base_url = '
    '"http://127.0.0.1:8000/v1"` for another OpenAI-compatible server, `api_key_env = "MY_KEY_VAR"` '
    "to read the key from another environment variable)"
)


class LlmClient:
    """Asks the model of an ``[llm]`` section; a context manager (or call :meth:`close`).

    ``env`` is where the key variable is read (default: the process environment); ``transport``
    replaces httpx's (a test's); ``sleep`` waits before retries and ``rng`` draws their jitter,
    so a test records the waits instead of sleeping them.
    """

    def __init__(
        self,
        settings: LlmSection,
        *,
        env: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._wire: WireFormat = AnthropicMessages() if settings.provider == "anthropic" else OpenAIChat()
        self.key_env = settings.api_key_env or self._wire.default_key_env
        key = (os.environ if env is None else env).get(self.key_env) or None
        self._key = SecretStr(key) if key else None
        self.base_url = settings.base_url or self._wire.default_base_url
        # Jitter only spreads retries out; it guards nothing, so a plain PRNG is right.
        jitter = rng if rng is not None else random.Random()  # noqa: S311
        self._backoff = Backoff(settings.max_backoff_s, jitter)
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.base_url, timeout=settings.timeout_s, transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (idempotent)."""
        self._http.close()

    def __repr__(self) -> str:
        return f"LlmClient(provider={self.provider!r}, model={self.model!r}, base_url={self.base_url!r})"

    @property
    def configured(self) -> bool:
        """Whether a model is set, so calls can be made."""
        return self.settings.model is not None

    @property
    def model(self) -> str | None:
        return self.settings.model

    @property
    def provider(self) -> str:
        return self.settings.provider

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        system: str | None = None,
        json_schema: Mapping[str, Any] | None = None,
        schema_name: str = "answer",
        emit: Emit | None = None,
    ) -> LlmAnswer:
        """The model's answer to ``messages`` (temperature 0), retried on 429, 5xx and lost connections.

        ``json_schema`` asks for a JSON answer matching it (OpenAI's strict structured output; for
        Anthropic an instruction in the system prompt); the text is returned unvalidated.
        Raises :class:`LlmNotConfiguredError` without a model, :class:`LlmError` when the provider
        refuses the request or the retries run out.
        """
        model = self.settings.model
        if model is None:
            raise LlmNotConfiguredError(_NOT_CONFIGURED)
        body = self._wire.body(
            model,
            list(messages),
            system=system,
            json_schema=dict(json_schema) if json_schema is not None else None,
            schema_name=schema_name,
            max_tokens=self.settings.max_tokens,
        )
        with model_call(emit, model=model, provider=self.provider) as call:
            data, attempts = self._post(body, call)
            answer = self._wire.parse(data, attempts=attempts)
            call.usage = answer.usage.model_dump()
            call.details.update(served_model=answer.model, finish_reason=answer.finish_reason)
        return answer

    def complete_json(
        self,
        messages: Sequence[ChatMessage],
        *,
        result_model: type[M],
        system: str | None = None,
        emit: Emit | None = None,
    ) -> tuple[M, LlmAnswer]:
        """The model's answer as a valid ``result_model``, and the answer it came in.

        A malformed or invalid answer is shown to the model with what was wrong, once; a second
        one raises :class:`LlmAnswerError`. The returned answer's ``usage`` and ``attempts``
        cover both calls when it took two.
        """
        schema = result_model.model_json_schema()
        name = schema_name_of(result_model)
        conversation = list(messages)
        spent: LlmAnswer | None = None
        while True:
            answer = self.complete(
                conversation, system=system, json_schema=schema, schema_name=name, emit=emit
            )
            if spent is not None:
                answer = answer.model_copy(
                    update={"usage": spent.usage + answer.usage, "attempts": spent.attempts + answer.attempts}
                )
            try:
                return parse_json_answer(answer.text, result_model), answer
            except LlmAnswerError as rejected:
                _log.warning(
                    "llm.answer.rejected",
                    provider=self.provider,
                    model=self.model,
                    asked_again=spent is None,
                    schema=name,
                )
                if spent is not None:
                    raise LlmAnswerError(rejected.reason, rejected.text, attempts=answer.attempts) from None
                conversation += feedback(answer.text, rejected.reason)
                spent = answer

    def _post(self, body: dict[str, Any], call: ModelCallRecord) -> tuple[Any, int]:
        """Send ``body`` until an answer comes or the retries run out: its JSON and the attempts."""
        allowed = self.settings.max_retries + 1
        cause, status = "", None
        for attempt in range(1, allowed + 1):
            call.details["attempts"] = attempt
            response: httpx.Response | None = None
            unsendable: str | None = None
            try:
                response = self._http.post(self._wire.path, json=body, headers=self._headers())
            except RETRYABLE_TRANSPORT_ERRORS as exc:
                cause, status = self._redact(f"{type(exc).__name__}: {exc}".rstrip(": ")), None
            except httpx.HTTPError as exc:  # a bad URL or protocol: no retry can help
                unsendable = self._redact(f"{type(exc).__name__}: {exc}")
            if unsendable is not None:  # raised outside the except block: the request stays unchained
                raise LlmError(
                    f"{self._where()}: the request could not be sent ({unsendable})", attempts=attempt
                )
            if response is not None:
                status = response.status_code
                if response.is_success:
                    try:
                        return response.json(), attempt
                    except ValueError:
                        cause = f"HTTP {status}, but the answer is not JSON (cut off?)"
                else:
                    cause = f"HTTP {status}: {self._redact(provider_message(response))}"
                    if not is_retryable_status(status):
                        raise LlmError(
                            f"{self._where()} answered {cause}{self._auth_hint(status)}", status=status
                        )
            if attempt == allowed:
                break
            wait = self._backoff.wait_before_retry(attempt, response)
            _log.warning(
                "llm.call.retry",
                provider=self.provider,
                model=self.model,
                attempt=attempt,
                attempts_allowed=allowed,
                status=status,
                error=None if response is not None else cause.partition(":")[0],
                wait_s=round(wait, 3),
            )
            self._sleep(wait)
        raise LlmError(
            f"{self._where()} failed after {allowed} attempt{'s' if allowed != 1 else ''}; the last: {cause}",
            status=status,
            attempts=allowed,
        )

    def _headers(self) -> dict[str, str]:
        return self._wire.auth_headers(self._key.get_secret_value() if self._key is not None else None)

    def _redact(self, text: str) -> str:
        key = self._key.get_secret_value() if self._key is not None else ""
        return text.replace(key, _REDACTED) if key else text

    def _where(self) -> str:
        return f"{self.provider} model {self.model} at {self.base_url}"

    def _auth_hint(self, status: int) -> str:
        if status not in (401, 403):
            return ""
        if self._key is None:
            return (
                f" (no key was sent: set the environment variable {self.key_env}, or name the "
                "variable holding the key in orchestrate.toml's [llm] api_key_env)"
            )
        return f" (the key came from the environment variable {self.key_env})"
