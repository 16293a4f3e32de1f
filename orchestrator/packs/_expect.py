"""What a domain step's answer must show: a list of items, each one check told apart by its key.

``contains`` / ``not_contains`` look at the answer's text; ``path`` (with exactly one of
``equals``, ``exists`` or ``count``) looks into the answer's JSON ``data``; ``route`` names the
route the assistant must take; ``evidence`` is the least number of sources it must cite; and
``max_ms`` bounds the answer's time. Each item may name the ``category`` a failure counts
against (``route``, ``evidence`` or ``presentation``), defaulting by its kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    model_validator,
)

from orchestrator.scenarios import CountRange, JsonPath, closest_kind

__all__ = [
    "EXPECT_KINDS",
    "ContainsExpect",
    "Count",
    "EvidenceExpect",
    "ExpectCategory",
    "ExpectItem",
    "JsonPath",
    "MaxMsExpect",
    "NotContainsExpect",
    "PackPart",
    "PathExpect",
    "RouteExpect",
    "expect_kind",
]

ExpectCategory = Literal["route", "evidence", "presentation"]
"""What an unmet expectation counts against."""

EXPECT_KINDS = ("contains", "not_contains", "path", "route", "evidence", "max_ms")
"""The key that tells each expect item apart, in the order they are documented."""
_PATH_TESTS = ("equals", "exists", "count")


class PackPart(BaseModel):
    """Base of every part of a pack or domain scenario file: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _count_form(data: Any) -> str:
    return "range" if isinstance(data, Mapping | CountRange) else "exact"


Count = Annotated[
    Annotated[int, Field(ge=0), Tag("exact")] | Annotated[CountRange, Tag("range")],
    Discriminator(_count_form),
]
"""An exact count, or ``{min?, max?}`` (told apart by form, so an error names the one meant)."""


class _Expect(PackPart):
    category: ExpectCategory | None = Field(
        default=None, description="What a failure counts against (default by the item's kind)."
    )
    default_category: ClassVar[ExpectCategory] = "presentation"

    @property
    def effective_category(self) -> ExpectCategory:
        """The category given, or the default of this kind of item."""
        return self.category or self.default_category


class ContainsExpect(_Expect):
    """``{contains: TEXT}``: the answer's text contains TEXT."""

    contains: str = Field(min_length=1, examples=["inventory"])


class NotContainsExpect(_Expect):
    """``{not_contains: TEXT}``: the answer's text does not contain TEXT."""

    not_contains: str = Field(min_length=1, examples=["error"])


class PathExpect(_Expect):
    """``{path, equals | exists | count}``: a JSONPath into the answer's ``data`` and one test.

    ``equals``: the first match equals the value (``equals: null`` tests for null);
    ``exists``: something matches (true) or nothing does (false); ``count``: how many match.
    """

    path: JsonPath = Field(description="JSONPath into the answer's data, e.g. $.entries[0].item")
    equals: JsonValue = None
    exists: bool | None = None
    count: Count | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_test(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            tests = [key for key in _PATH_TESTS if key in data]
            if len(tests) != 1:
                raise ValueError(
                    "give exactly one of equals, exists or count beside path, "
                    f"e.g. {{path: '$.entries[*]', count: 2}} (got {', '.join(tests) or 'none'})"
                )
        return data

    @property
    def test(self) -> Literal["equals", "exists", "count"]:
        """The one test this item makes."""
        if self.exists is not None:
            return "exists"
        return "count" if self.count is not None else "equals"


class RouteExpect(_Expect):
    """``{route: NAME}``: the assistant answered by the route NAME."""

    route: str = Field(min_length=1, examples=["inventory_lookup"])
    default_category: ClassVar[ExpectCategory] = "route"


class EvidenceExpect(_Expect):
    """``{evidence: N}``: the answer cites at least N sources."""

    evidence: int = Field(ge=1, examples=[1])
    default_category: ClassVar[ExpectCategory] = "evidence"


class MaxMsExpect(_Expect):
    """``{max_ms: N}``: the answer came within N milliseconds."""

    max_ms: int = Field(gt=0, examples=[5000])


_MODELS: dict[str, type[_Expect]] = {
    "contains": ContainsExpect,
    "not_contains": NotContainsExpect,
    "path": PathExpect,
    "route": RouteExpect,
    "evidence": EvidenceExpect,
    "max_ms": MaxMsExpect,
}


def expect_kind(data: Any) -> str | None:
    """The kind of an expect item (its union tag); ``None`` when it has none or several.

    An item without a kind key is checked as the kind it most likely meant (``pth`` with
    ``equals`` is a ``path`` item), so the error names the misspelt key with the rename.
    """
    if isinstance(data, _Expect):
        return next(kind for kind, model in _MODELS.items() if isinstance(data, model))
    if not isinstance(data, Mapping):
        return None
    kinds = [kind for kind in EXPECT_KINDS if kind in data]
    if kinds:
        return kinds[0] if len(kinds) == 1 else None
    if any(key in data for key in _PATH_TESTS):
        return "path"
    return closest_kind(data, EXPECT_KINDS, frozenset({"category"}))


ExpectItem = Annotated[
    Annotated[ContainsExpect, Tag("contains")]
    | Annotated[NotContainsExpect, Tag("not_contains")]
    | Annotated[PathExpect, Tag("path")]
    | Annotated[RouteExpect, Tag("route")]
    | Annotated[EvidenceExpect, Tag("evidence")]
    | Annotated[MaxMsExpect, Tag("max_ms")],
    Discriminator(
        expect_kind,
        custom_error_type="expect_item",
        custom_error_message=(
            "an expect item is exactly one of contains, not_contains, path (with equals, exists or "
            "count), route, evidence or max_ms, e.g. {path: '$.entries[*]', count: 2}"
        ),
    ),
]
"""One expectation of a step's answer (see the module docstring)."""
