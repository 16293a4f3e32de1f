"""Payload checks at the emitting line, cheap enough to run for every event.

Every emitted payload is checked against its type's model, so a missing or mistyped field fails
where the event was emitted rather than in the viewer. Running the pydantic validator on every
payload builds a model instance each time; instead each model is read once into a plan (the
required names, the ``isinstance`` test of each simple field, a validator for the rest), and a
payload the plan accepts is one pydantic would accept too. Anything else, and models the plan
cannot mirror (validators, aliases, strict or constrained config), goes to pydantic itself,
which gives the answer and the message.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from orchestrator.correlation import CORRELATION_KEYS
from orchestrator.errors import EventSchemaError
from orchestrator.events._vocabulary import EVENT_SCHEMAS, FROM_CORRELATION, EventPayload

__all__ = ["check_payload", "payload_of"]

_ABSENT = object()

# Config keys that do not change which values a model accepts; any other key sends the model's
# payloads to pydantic every time.
_NEUTRAL_CONFIG = frozenset(
    {
        "extra",
        "frozen",
        "title",
        "json_schema_extra",
        "populate_by_name",
        "protected_namespaces",
        "defer_build",
        "arbitrary_types_allowed",
        "use_attribute_docstrings",
    }
)


@dataclass(frozen=True)
class _Plan:
    """What one payload model requires, in a form that is quick to test."""

    # Fields named like a correlation id: filled from the bound ids; True if required then.
    correlated: tuple[tuple[str, bool], ...]
    # None when the model cannot be mirrored: pydantic checks each payload.
    required: frozenset[str] | None
    # isinstance tests of the required fields (present once ``required`` is), then of the others.
    required_kinds: tuple[tuple[str, tuple[type, ...]], ...] = ()
    optional_kinds: tuple[tuple[str, tuple[type, ...]], ...] = ()
    # Fields an isinstance test cannot decide (literals, nested models, lists, constraints).
    others: tuple[tuple[str, Callable[[Any], bool]], ...] = ()

    def accepts(self, payload: Mapping[str, Any]) -> bool:
        if self.required is None or not self.required <= payload.keys():
            return False
        for name, kinds in self.required_kinds:
            if not isinstance(payload[name], kinds):
                return False
        for name, kinds in self.optional_kinds:
            value = payload.get(name, _ABSENT)
            if value is not _ABSENT and not isinstance(value, kinds):
                return False
        for name, test in self.others:
            value = payload.get(name, _ABSENT)
            if value is not _ABSENT and not test(value):
                return False
        return True


_PLANS: dict[type[BaseModel], _Plan] = {}


def _plan(schema: type[BaseModel]) -> _Plan:
    plan = _PLANS.get(schema)
    if plan is None:
        plan = _PLANS[schema] = _build_plan(schema)
    return plan


def _build_plan(schema: type[BaseModel]) -> _Plan:
    fields = schema.model_fields
    correlated = tuple(
        (name, info.is_required() or FROM_CORRELATION in info.metadata)
        for name, info in fields.items()
        if name in CORRELATION_KEYS
    )
    config = schema.model_config
    decorators = schema.__pydantic_decorators__
    if (
        not config.keys() <= _NEUTRAL_CONFIG
        or (config.get("extra") == "forbid" and not issubclass(schema, EventPayload))
        or decorators.validators
        or decorators.field_validators
        or decorators.root_validators
        or decorators.model_validators
        or any(info.alias or info.validation_alias for info in fields.values())
    ):
        return _Plan(correlated=correlated, required=None)
    required = frozenset(name for name, info in fields.items() if info.is_required())
    required_kinds: list[tuple[str, tuple[type, ...]]] = []
    optional_kinds: list[tuple[str, tuple[type, ...]]] = []
    others: list[tuple[str, Callable[[Any], bool]]] = []
    for name, info in fields.items():
        metadata = [item for item in info.metadata if item is not FROM_CORRELATION]
        kinds = None if metadata else _instance_kinds(info.annotation)
        if kinds is None:
            others.append((name, _value_test(info.annotation, metadata)))
        else:
            (required_kinds if name in required else optional_kinds).append((name, kinds))
    return _Plan(
        correlated=correlated,
        required=required,
        required_kinds=tuple(required_kinds),
        optional_kinds=tuple(optional_kinds),
        others=tuple(others),
    )


def _instance_kinds(annotation: Any) -> tuple[type, ...] | None:
    """The types an ``isinstance`` test needs to accept exactly what pydantic accepts, if any."""
    if annotation is Any:
        return (object,)
    if annotation is type(None) or annotation is None:
        return (type(None),)
    if annotation in (str, bool, int):
        return (annotation,)
    if annotation is float:
        return (int, float)
    if get_origin(annotation) in (Union, types.UnionType):
        kinds: list[type] = []
        for arg in get_args(annotation):
            found = _instance_kinds(arg)
            if found is None:
                return None
            kinds.extend(found)
        return tuple(kinds)
    return None


def _value_test(annotation: Any, metadata: list[Any]) -> Callable[[Any], bool]:
    """A test for one field's value: a set lookup for string literals, else pydantic for the field."""
    if not metadata and get_origin(annotation) is Literal:
        choices = get_args(annotation)
        if all(isinstance(choice, str) for choice in choices):
            allowed = frozenset(choices)
            return lambda value: isinstance(value, str) and value in allowed
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[(annotation, *metadata)] if metadata else annotation)

    def test(value: Any) -> bool:
        try:
            adapter.validate_python(value)
        except ValidationError:
            return False
        return True

    return test


def _invalid(event_type: str, problems: str) -> EventSchemaError:
    return EventSchemaError(f"{event_type} payload is invalid: {problems}")


def _missing_id(event_type: str, name: str) -> EventSchemaError:
    return _invalid(event_type, f"{name}: Field required (pass it, or bind it with correlation_scope)")


def _validate(event_type: str, schema: type[BaseModel], payload: Mapping[str, Any]) -> None:
    """Full pydantic validation; an :class:`EventPayload`'s dict form may add fields it does not name."""
    try:
        schema.__pydantic_validator__.validate_python(payload)
    except ValidationError as exc:
        errors = exc.errors()
        if issubclass(schema, EventPayload):
            errors = [err for err in errors if err["type"] != "extra_forbidden"]
            if not errors:
                return
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(payload)'}: {err['msg']}" for err in errors
        )
        raise _invalid(event_type, problems) from exc


def check_payload(
    event_type: str, payload: Mapping[str, Any], correlation: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate ``payload`` for ``event_type``; return it with correlation fields filled in.

    Raises :class:`EventSchemaError` for an unknown type or a payload that misses or mistypes a
    required field. The returned dict is the caller's payload plus any filled correlation ids
    (values as the caller gave them), never the caller's own dict mutated.
    """
    schema = EVENT_SCHEMAS.get(event_type)
    if schema is None:
        raise EventSchemaError(
            f"unknown event type {event_type!r}; register it with register_event_type() "
            f"or use one of: {', '.join(sorted(EVENT_SCHEMAS))}"
        )
    plan = _PLANS.get(schema)
    if plan is None:
        plan = _plan(schema)
    filled: dict[str, Any] | None = None
    for name, required in plan.correlated:
        if payload.get(name) is None:
            bound = correlation.get(name)
            if bound is not None:
                if filled is None:
                    filled = {}
                filled[name] = bound
            elif required:
                raise _missing_id(event_type, name)
    # Encoded right away and never changed, so the caller's own dict can be used as it is.
    checked = {**payload, **(filled or {})} if filled or not isinstance(payload, dict) else payload
    if not plan.accepts(checked):
        _validate(event_type, schema, checked)
    return checked


def payload_of(event: EventPayload, correlation: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The event type and payload of a payload model instance, correlation fields filled in.

    The model was validated when it was made; what is left is that its type is the one
    registered for its event type and that every required correlation id is known.
    """
    model = type(event)
    event_type = getattr(model, "event_type", None)
    schema = EVENT_SCHEMAS.get(event_type) if isinstance(event_type, str) else None
    if not isinstance(event_type, str) or schema is None or not issubclass(model, schema):
        raise EventSchemaError(
            f"{model.__name__} is not the payload model of a registered event type "
            f"(its event_type is {event_type!r}); register it with register_event_type()"
        )
    payload = dict(event.__dict__)
    if event.__pydantic_extra__:
        payload.update(event.__pydantic_extra__)
    for name, required in _plan(model).correlated:
        if payload.get(name) is None:
            bound = correlation.get(name)
            if bound is not None:
                payload[name] = bound
            elif required:
                raise _missing_id(event_type, name)
    return event_type, payload
