"""The schema of ``routes.yaml``: declarative routes over a twin's state entities.

::

    defaults:
      errors:
        not_found: {status: 404, body: {message: Not Found}}
    routes:
      - id: list_issues
        method: GET
        path: /repos/{owner}/{repo}/issues
        action: list                         # list | create | read | update | delete | static
        entity: issues
        where: {repository: "{owner}/{repo}"}   # scope: only these records; set on create
        filters:
          - {param: state, field: state, default: open, ignore: [all]}
          - {param: labels, field: labels.name, op: all_of}
        order: {field: number, direction: desc}
        pagination: {style: link_header, default_per_page: 30, max_per_page: 100}
        response: {status: 200, body: $items}

``read``/``update``/``delete`` find the record by ``lookup`` (a record field and the path
parameter holding its value; default: the entity's id field and the route's last parameter) within
the ``where`` scope. ``create``/``update`` take the request body's fields listed in ``input``
(type-checked, optionally split, wrapped or mapped) and then ``set`` computed fields. ``parent``
names a record that must exist first (a comment's issue); ``errors`` gives the answers for
``not_found``, ``parent_not_found`` and ``invalid`` (a bad body; ``$error.field``,
``$error.code`` and ``$error.message`` say what was wrong). An ``update``'s ``transitions`` set
more fields when a field changes to a value (``closed_at: $now`` when ``state`` becomes
``closed``). ``defaults.aliases`` let a path parameter name a record by another field (GitLab's
``/projects/{id}`` takes a numeric id or the path). Records are sent with their entity's
``computed`` fields (``twin.json``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, JsonValue, field_validator, model_validator

from orchestrator.twins._manifest import FieldType
from orchestrator.userfiles import StrictModel

__all__ = [
    "Action",
    "AliasSpec",
    "ErrorCondition",
    "FilterSpec",
    "InputField",
    "LookupSpec",
    "OrderSpec",
    "PaginationSpec",
    "ParentSpec",
    "ResponseSpec",
    "RouteDefaults",
    "RouteSpec",
    "RoutesFile",
    "TransitionSpec",
]

Action = Literal["list", "create", "read", "update", "delete", "static"]
ErrorCondition = Literal["not_found", "parent_not_found", "invalid"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

_WRITES = frozenset({"create", "update", "delete"})
_ROUTE_ID = re.compile(r"[A-Za-z0-9_.:-]+|[A-Z]+ /\S*")


class FilterSpec(StrictModel):
    """A query parameter that narrows a list.

    ``field`` is a dotted path into the record; a list met on the way matches when any of its
    items matches (``labels.name``). ``eq`` wants the value; ``all_of``/``any_of`` split the
    parameter on ``separator`` and want all/any of the parts; ``contains`` wants the text inside
    (case-insensitive). A value in ``ignore`` (``all``) means no filtering.
    """

    param: str = Field(min_length=1, examples=["state"])
    field: str = Field(min_length=1, examples=["state"])
    op: Literal["eq", "all_of", "any_of", "contains"] = "eq"
    default: str | None = None
    ignore: list[str] = Field(default_factory=list)
    separator: str = Field(default=",", min_length=1)


class PaginationSpec(StrictModel):
    """Page-number pagination.

    ``link_header`` sends an RFC 8288 ``Link`` header with ``next``/``prev``/``first``/``last``
    (GitHub's way); ``page_headers`` also sends ``X-Total``, ``X-Total-Pages``, ``X-Per-Page``,
    ``X-Page``, ``X-Next-Page`` and ``X-Prev-Page`` (GitLab's way).
    """

    style: Literal["link_header", "page_headers"] = "link_header"
    page_param: str = "page"
    per_page_param: str = "per_page"
    default_per_page: int = Field(default=30, ge=1)
    max_per_page: int = Field(default=100, ge=1)

    @model_validator(mode="after")
    def _default_within_max(self) -> PaginationSpec:
        if self.default_per_page > self.max_per_page:
            raise ValueError("default_per_page must not exceed max_per_page")
        return self


class OrderSpec(StrictModel):
    """How a list is sorted; ``direction_param`` lets the client flip it (``asc``/``desc``)."""

    field: str = Field(min_length=1, examples=["number"])
    direction: Literal["asc", "desc"] = "asc"
    direction_param: str | None = None


class LookupSpec(StrictModel):
    """Which record a ``read``/``update``/``delete`` means: ``field`` equal to path parameter ``param``."""

    field: str = Field(min_length=1)
    param: str = Field(min_length=1)


class ParentSpec(StrictModel):
    """A record that must exist for the route to apply (``match``: parent field to template).

    ``increment`` names a numeric field of the parent raised by one on every create (a
    comment count).
    """

    entity: str = Field(min_length=1)
    match: dict[str, JsonValue] = Field(min_length=1)
    increment: str | None = None


class InputField(StrictModel):
    """A request-body field a ``create``/``update`` accepts, stored under the ``input`` key's name.

    ``from`` is the body key (default: the same name). A text value is split on ``split`` into a
    list; string items of a list become ``{wrap: item}`` objects; ``map`` translates values
    (``close`` to ``closed``); ``enum`` lists the values allowed (checked before ``map``).
    ``default`` is stored by a ``create`` when the body leaves the field out.
    """

    source: str | None = Field(default=None, alias="from")
    type: FieldType = "any"
    required: bool = False
    default: JsonValue = None
    enum: list[JsonValue] | None = None
    split: str | None = None
    wrap: str | None = None
    map: dict[str, JsonValue] | None = None


class TransitionSpec(StrictModel):
    """On ``update``: when the body changes ``field`` to ``to``, also ``set`` these fields (templates)."""

    field: str = Field(min_length=1, examples=["state"])
    to: JsonValue = Field(examples=["closed"])
    set: dict[str, JsonValue] = Field(min_length=1)


class AliasSpec(StrictModel):
    """A path parameter that may name a record of ``entity`` by any of the fields in ``match``.

    When a record matches, the route sees its ``value`` field as the parameter instead, so
    ``/projects/7/issues`` and ``/projects/group%2Fproject/issues`` reach the same issues.
    """

    param: str = Field(min_length=1, examples=["id"])
    entity: str = Field(min_length=1, examples=["projects"])
    match: list[str] = Field(min_length=1, examples=[["id"]])
    value: str = Field(min_length=1, examples=["path_with_namespace"])


class ResponseSpec(StrictModel):
    status: int = Field(default=200, ge=100, le=599)
    body: JsonValue = None
    headers: dict[str, str] = Field(default_factory=dict)


class RouteSpec(StrictModel):
    """One declarative route (see the module docstring)."""

    id: str | None = Field(default=None, examples=["list_issues"])
    method: Method
    path: str = Field(examples=["/repos/{owner}/{repo}/issues"])
    action: Action
    entity: str | None = None
    public: bool = False
    read_only: bool | None = None
    """Whether the route only reads the state (``stale_data`` chaos may serve it a snapshot);
    default: true for ``list``, ``read`` and ``static``, and it cannot be true for the others."""
    where: dict[str, JsonValue] = Field(default_factory=dict)
    lookup: LookupSpec | None = None
    parent: ParentSpec | None = None
    filters: list[FilterSpec] = Field(default_factory=list)
    order: OrderSpec | None = None
    pagination: PaginationSpec | None = None
    input: dict[str, InputField] = Field(default_factory=dict)
    set: dict[str, JsonValue] = Field(default_factory=dict)
    transitions: list[TransitionSpec] = Field(default_factory=list)
    response: ResponseSpec | None = None
    errors: dict[ErrorCondition, ResponseSpec] = Field(default_factory=dict)

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _path_shape(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str | None) -> str | None:
        if value is not None and not _ROUTE_ID.fullmatch(value):
            raise ValueError("use letters, digits, '_', '-', '.' and ':' (for example list_issues)")
        return value

    @model_validator(mode="after")
    def _entity_when_needed(self) -> RouteSpec:
        if self.action != "static" and self.entity is None:
            raise ValueError(f"a {self.action} route needs `entity`, the state entity it works on")
        if self.action == "static" and self.response is None:
            raise ValueError("a static route needs `response`, the answer it always gives")
        if self.transitions and self.action != "update":
            raise ValueError("only an update route has `transitions`")
        if self.read_only and self.action in _WRITES:
            raise ValueError(f"a {self.action} route changes the state, so it cannot be read_only")
        return self

    @property
    def reads_only(self) -> bool:
        """Whether the route only reads the state (see ``read_only``)."""
        return self.read_only if self.read_only is not None else self.action not in _WRITES

    @property
    def route_id(self) -> str:
        return self.id if self.id is not None else f"{self.method} {self.path}"


class RouteDefaults(StrictModel):
    """Settings every route of the file gets unless it sets its own."""

    errors: dict[ErrorCondition, ResponseSpec] = Field(default_factory=dict)
    pagination: PaginationSpec | None = None
    aliases: list[AliasSpec] = Field(default_factory=list)


class RoutesFile(StrictModel):
    defaults: RouteDefaults = RouteDefaults()
    routes: list[RouteSpec] = Field(min_length=1)
