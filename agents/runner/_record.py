"""Recording a trajectory: journal entries as events, chaos records, state transitions, the final document.

Everything here is a pure function of what the trajectory saw, so the same trajectory gives the
same record:

- each request a twin served becomes an ``api_call`` event (service, method, path, route, request
  and response summaries, status, duration, the chaos injected or null) and, when chaos was
  injected, a :class:`~orchestrator.scenarios.ChaosRecord`; neither carries the journal's
  sequence numbers, which go on rising across trajectories of a slot;
- state transitions are the difference between a twin's state right after the trajectory's reset
  and at its end: records created, changed or removed, sorted by twin, entity and id (numbers in
  ids sort as numbers, so ``OPS-2`` comes before ``OPS-10``);
- the finished document has the slot's own addresses replaced by names (``<twin:jira>``,
  ``<sut>``), since ports differ from slot to slot and run to run, and is redacted: every twin
  token, every secret-looking value given to the system under test, and anything under a
  secret-looking key becomes ``[redacted]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.scenarios import ChaosRecord, TrajectoryEvent
from orchestrator.twins import redact_data

__all__ = [
    "JSON_CAP_BYTES",
    "TEXT_CAP",
    "api_call_event",
    "cap_json",
    "cap_text",
    "chaos_record",
    "entry_at_ms",
    "finish_document",
    "state_transitions",
]

TEXT_CAP = 4_000
"""Characters of an answer's text kept in the record."""
JSON_CAP_BYTES = 64 * 1024
"""An answer whose JSON is longer than this is left out of the record (with a note)."""
_NUMBER = re.compile(r"(\d+)")


def cap_text(text: str | None) -> str | None:
    if text is None or len(text) <= TEXT_CAP:
        return text
    return text[: TEXT_CAP - 1] + "…"


def cap_json(value: Any, has_json: bool) -> tuple[Any, str | None]:
    """The JSON to record, and a note when it was too long to keep."""
    if not has_json:
        return None, None
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > JSON_CAP_BYTES:
        return (
            None,
            f"the JSON answer ({size:,} bytes) is over the {JSON_CAP_BYTES:,}-byte cap and is not kept",
        )
    return value, None


def entry_at_ms(entry: Mapping[str, Any], started_wall: float, fallback: float) -> float:
    """When the twin received the request, in ms since the trajectory began."""
    received = entry.get("received_at")
    if not isinstance(received, int | float):
        return fallback
    return round(max(0.0, (received - started_wall) * 1000), 3)


def api_call_event(entry: Mapping[str, Any], *, step_id: str | None, at_ms: float) -> TrajectoryEvent:
    """A journal entry as an ``api_call`` event."""
    chaos = entry.get("chaos")
    status = entry.get("status")
    service = str(entry.get("twin") or "")
    method = str(entry.get("method") or "")
    path = str(entry.get("path") or "")
    description = f"{service} {method} {path} -> {status if status is not None else 'no answer'}"
    if isinstance(chaos, Mapping):
        description += f" (chaos: {chaos.get('mode')})"
    return TrajectoryEvent(
        type="api_call",
        at_ms=at_ms,
        step_id=step_id,
        description=description,
        detail={
            "service": service,
            "method": method,
            "path": path,
            "query": entry.get("query") or {},
            "route": entry.get("route"),
            "request_summary": entry.get("request_summary") or "",
            "response_code": status,
            "response_summary": entry.get("response_summary") or "",
            "duration_ms": entry.get("duration_ms") or 0.0,
            "outcome": entry.get("outcome"),
            "chaos": dict(chaos) if isinstance(chaos, Mapping) else None,
        },
    )


def chaos_record(entry: Mapping[str, Any], *, at_ms: float) -> ChaosRecord | None:
    """The chaos a journal entry records, or ``None`` when none was injected."""
    chaos = entry.get("chaos")
    if not isinstance(chaos, Mapping):
        return None
    delay = chaos.get("delay_ms")
    for injection in chaos.get("injections") or ():
        if isinstance(injection, Mapping) and injection.get("mode") == "latency":
            delay = injection.get("delay_ms", delay)
    return ChaosRecord(
        mode=str(chaos.get("mode")),
        twin=str(entry.get("twin") or ""),
        route=entry.get("route"),
        probability=float(chaos.get("probability") or 0.0),
        seed=int(chaos.get("seed") or 0),
        delay_ms=float(delay) if isinstance(delay, int | float) else None,
        at_ms=at_ms,
    )


def _id_order(key: str) -> tuple[tuple[int, int, str], ...]:
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in _NUMBER.split(key) if part
    )


def state_transitions(
    before: Mapping[str, Mapping[str, list[dict[str, Any]]]],
    after: Mapping[str, Mapping[str, list[dict[str, Any]]]],
    id_fields: Mapping[str, Mapping[str, str]],
    *,
    at_ms: float,
) -> list[TrajectoryEvent]:
    """Records created, changed or removed between two states of each twin (see the module docstring)."""
    events: list[TrajectoryEvent] = []
    for twin in sorted(set(before) | set(after)):
        old_tables, new_tables = before.get(twin, {}), after.get(twin, {})
        for entity in sorted(set(old_tables) | set(new_tables)):
            id_field = id_fields.get(twin, {}).get(entity, "id")
            old = {str(record.get(id_field)): record for record in old_tables.get(entity, [])}
            new = {str(record.get(id_field)): record for record in new_tables.get(entity, [])}
            for key in sorted(set(old) | set(new), key=_id_order):
                change, detail = _change(old.get(key), new.get(key))
                if change is None:
                    continue
                events.append(
                    TrajectoryEvent(
                        type="state_transition",
                        at_ms=at_ms,
                        description=f"{twin} {entity} {key} {change}",
                        detail={"service": twin, "entity": entity, "id": key, "change": change, **detail},
                    )
                )
    return events


def _change(old: dict[str, Any] | None, new: dict[str, Any] | None) -> tuple[str | None, dict[str, Any]]:
    if old is None and new is not None:
        return "created", {"record": new}
    if new is None and old is not None:
        return "removed", {"record": old}
    if old is None or new is None or old == new:
        return None, {}
    fields = sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))
    return "changed", {
        "record": new,
        "changed_fields": fields,
        "before": {name: old.get(name) for name in fields},
    }


def finish_document(
    document: dict[str, Any], *, secrets: Iterable[str], origins: Mapping[str, str]
) -> dict[str, Any]:
    """The trajectory document with the slot's addresses named and every secret redacted."""
    named = _name_origins(document, origins) if origins else document
    redacted: dict[str, Any] = redact_data(named, sorted(set(secrets), key=len, reverse=True))
    return redacted


def _name_origins(value: Any, origins: Mapping[str, str]) -> Any:
    # A port must not match the start of a longer one (127.0.0.1:4000 in 127.0.0.1:40001).
    pattern = re.compile(
        "|".join(re.escape(origin) + r"(?!\d)" for origin in sorted(origins, key=len, reverse=True))
    )

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return pattern.sub(lambda found: origins[found.group(0)], item)
        if isinstance(item, Mapping):
            return {key: walk(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        return item

    return walk(value)
