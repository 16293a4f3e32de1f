"""The schema of ``twin.json``: who the twin is, how it authenticates, what state it keeps.

::

    {
      "name": "github", "version": "1.0.0", "description": "GitHub issues REST API",
      "base_path": "",
      "auth": {"type": "bearer", "schemes": ["Bearer", "token"],
               "valid_tokens": {"ghp_valid": "octocat"}, "expired_tokens": ["ghp_expired"]},
      "entities": {"issues": {"id_field": "id", "fields": {"title": "string"}, "required": ["title"]}},
      "chaos": {"modes": ["latency", "error_500"],
                "responses": {"error_500": {"body": {"message": "Server Error"}}}},
      "routes": "routes.yaml", "module": null, "seed": "seed.yaml"
    }
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, JsonValue, field_validator, model_validator

from orchestrator.policy.chaos import MODE_NAMES, FaultName, ModeName
from orchestrator.userfiles import StrictModel

__all__ = [
    "AuthSpec",
    "CannedResponse",
    "ChaosSupport",
    "ClientSpec",
    "EntitySpec",
    "FieldType",
    "TwinManifest",
]

FieldType = Literal["string", "integer", "number", "boolean", "array", "object", "any"]

_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


class CannedResponse(StrictModel):
    """A fixed answer: status (default: the one of the situation), JSON body and extra headers."""

    status: int | None = Field(default=None, ge=100, le=599)
    body: JsonValue = None
    headers: dict[str, str] = Field(default_factory=dict)


class AuthSpec(StrictModel):
    """How the twin checks credentials.

    ``bearer`` reads ``<scheme> <token>`` from ``header`` (default ``Authorization``; schemes are
    matched case-insensitively); ``api_key`` reads the token as the whole value of ``header``.
    ``valid_tokens`` is a list of tokens or a mapping of token to the principal (user name) it
    authenticates. ``accept_any_token`` lets any other non-empty token in as principal ``twin-user``
    (handy for an LLM twin that users point their own agent at). Expired tokens are refused with
    ``expired``; missing and unknown tokens with ``missing`` and ``invalid``.
    """

    type: Literal["none", "bearer", "api_key"] = "none"
    header: str | None = Field(default=None, examples=["PRIVATE-TOKEN"])
    schemes: list[str] = Field(default_factory=lambda: ["Bearer"])
    valid_tokens: dict[str, str] | list[str] = Field(default_factory=list)
    expired_tokens: list[str] = Field(default_factory=list)
    accept_any_token: bool = False
    missing: CannedResponse = CannedResponse(body={"message": "Requires authentication"})
    invalid: CannedResponse = CannedResponse(body={"message": "Bad credentials"})
    expired: CannedResponse = CannedResponse(
        body={"message": "The access token has expired", "error": "token_expired"}
    )

    @field_validator("header")
    @classmethod
    def _header_is_a_token(cls, value: str | None) -> str | None:
        if value is not None and not _HEADER.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid HTTP header name")
        return value

    @model_validator(mode="after")
    def _usable(self) -> AuthSpec:
        if self.type == "api_key" and self.header is None:
            raise ValueError("an api_key auth needs `header`, the header that carries the key")
        if self.type != "none" and not self.valid_tokens and not self.accept_any_token:
            raise ValueError(f"a {self.type} auth needs at least one token in `valid_tokens`")
        if self.type == "bearer" and not self.schemes:
            raise ValueError('a bearer auth needs at least one scheme, for example ["Bearer"]')
        overlap = set(self.principals()) & set(self.expired_tokens)
        if overlap:
            raise ValueError("a token cannot be both valid and expired")
        return self

    @property
    def header_name(self) -> str:
        return self.header or "Authorization"

    def principals(self) -> dict[str, str]:
        """Valid token to the principal it authenticates."""
        if isinstance(self.valid_tokens, dict):
            return dict(self.valid_tokens)
        return dict.fromkeys(self.valid_tokens, "twin-user")


class EntitySpec(StrictModel):
    """One kind of record the twin keeps: its id field, the types of fields seed data must have,
    and ``defaults`` filled into seeded records that leave those fields out.

    ``computed`` fields are added to a record whenever the twin sends it (not stored): templates
    over ``$record`` and ``$base_url`` such as ``"url": "{base_url}/items/{record.id}"``, so
    links always carry the address the twin is served on, for seeded records too.
    """

    id_field: str = Field(default="id", min_length=1)
    fields: dict[str, FieldType] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)
    defaults: dict[str, JsonValue] = Field(default_factory=dict)
    computed: dict[str, JsonValue] = Field(default_factory=dict)


class ChaosSupport(StrictModel):
    """Which chaos modes the twin supports, and its own answers for the fault modes.

    A mode the twin does not support never fires on it, whatever the profile says.
    ``responses`` replaces the generic body (and status) of ``error_429``, ``error_500``,
    ``error_503``, ``timeout`` and ``auth_expired`` with what the real service sends.
    """

    modes: list[ModeName] = Field(default_factory=lambda: list(MODE_NAMES))
    responses: dict[FaultName, CannedResponse] = Field(default_factory=dict)


_CLIENT_FIELDS = {"origin": "http://127.0.0.1:1", "url": "http://127.0.0.1:1/api", "token": "t"}


class ClientSpec(StrictModel):
    """How a service's official client reaches the twin, as ``orchestrate twin serve`` prints it.

    ``url`` is what the client takes as its address, from ``{origin}`` (scheme, host and port)
    and ``{url}`` (the origin plus the base path): python-gitlab wants the origin, the OpenAI SDK
    the base URL, slack_sdk the base URL with a trailing slash. ``code`` is one line of Python
    that makes a client, with ``{url}`` (the client URL) and ``{token}`` (a valid token; default
    the first of ``auth.valid_tokens``) filled in; write a literal brace twice.
    """

    package: str | None = Field(default=None, examples=["PyGithub"])
    url: str = Field(default="{url}", examples=["{origin}"])
    token: str | None = None
    code: str | None = Field(default=None, examples=['Github(base_url="{url}", auth=Auth.Token("{token}"))'])

    @field_validator("url", "code")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                value.format(**_CLIENT_FIELDS)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"has a placeholder other than {{origin}}, {{url}} and {{token}} ({exc}); "
                    "write a literal brace twice"
                ) from None
        return value


class TwinManifest(StrictModel):
    """``twin.json``. ``routes`` and ``module`` are paths relative to the twin's folder (``module``
    may also be a dotted import path); ``seed`` is the data loaded on every reset unless the reset
    brings its own for an entity."""

    name: str = Field(examples=["github"])
    version: str = "1.0.0"
    description: str = ""
    base_path: str = Field(default="", examples=["/api/v4"])
    auth: AuthSpec = AuthSpec()
    client: ClientSpec = ClientSpec()
    entities: dict[str, EntitySpec] = Field(default_factory=dict)
    chaos: ChaosSupport = ChaosSupport()
    routes: str | None = Field(default=None, examples=["routes.yaml"])
    module: str | None = Field(default=None, examples=["handlers.py"])
    seed: str | None = Field(default=None, examples=["seed.yaml"])

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("use lowercase letters, digits, '-' and '_', starting with a letter")
        return value

    @field_validator("base_path")
    @classmethod
    def _base_path_shape(cls, value: str) -> str:
        if value in ("", "/"):
            return ""
        if not value.startswith("/") or value.endswith("/") or "{" in value:
            raise ValueError("must be empty or start with '/', have no trailing '/' and no parameters")
        if value.startswith("/__twin"):
            raise ValueError("/__twin is reserved for the admin API")
        return value

    @field_validator("entities")
    @classmethod
    def _entity_names(cls, value: dict[str, EntitySpec]) -> dict[str, EntitySpec]:
        for name in value:
            if not _NAME.fullmatch(name):
                raise ValueError(f"entity name {name!r}: use lowercase letters, digits, '-' and '_'")
        return value
