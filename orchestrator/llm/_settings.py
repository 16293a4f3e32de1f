"""``[llm]``: which model answers the judge's questions, where it is served, and how patiently.

The section holds no secret: ``api_key_env`` names the environment variable that holds the key,
which is read when a client is made and never stored in a file, a log or an event.
"""

from __future__ import annotations

import re
from typing import Literal

import httpx
from pydantic import Field, field_validator

from orchestrator.userfiles import StrictModel

__all__ = ["LlmSection"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class LlmSection(StrictModel):
    """``[llm]``: the model the judge asks, over OpenAI-compatible chat completions or Anthropic."""

    provider: Literal["openai", "anthropic"] = Field(
        default="openai",
        description="openai (any OpenAI-compatible chat completions server) or anthropic (messages API).",
    )
    model: str | None = Field(
        default=None,
        min_length=1,
        examples=["gpt-4o-mini"],
        description="The model to ask; unset means no model is configured and model calls are refused.",
    )
    base_url: str | None = Field(
        default=None,
        examples=["http://127.0.0.1:8000/v1"],
        description="API root; default https://api.openai.com/v1 (openai) or https://api.anthropic.com.",
    )
    api_key_env: str | None = Field(
        default=None,
        examples=["OPENAI_API_KEY"],
        description=(
            "Name of the environment variable holding the API key (default OPENAI_API_KEY or "
            "ANTHROPIC_API_KEY); when it is unset no key is sent, as a local server expects."
        ),
    )
    timeout_s: float = Field(
        default=60.0, gt=0, le=3600, description="Seconds one HTTP request may take before it is retried."
    )
    max_retries: int = Field(
        default=4, ge=0, le=10, description="Retries after a 429, a 5xx or a failed connection (0..10)."
    )
    max_backoff_s: float = Field(
        default=30.0, ge=0, le=3600, description="Longest wait before a retry, Retry-After included."
    )
    max_tokens: int = Field(default=1024, ge=1, le=1_000_000, description="Most tokens one answer may have.")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an absolute http:// or https:// URL")
        if url.userinfo:
            raise ValueError("must not carry credentials (user:password@): put the key in api_key_env")
        return value.rstrip("/")

    @field_validator("api_key_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            # Never echo the value: a key pasted here by mistake must not end up in a message.
            raise ValueError("must be the name of an environment variable (letters, digits, _), not a key")
        return value
