"""``orchestrate events``: query the event index, show a run's timeline, rebuild the index.

The ``events.jsonl`` files in run dirs are the source of truth; the SQLite index answers the
queries. Reading commands never create the index: when it does not exist yet they say so and
name the fix (``orchestrate events reindex``), which builds it from every run dir.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from orchestrator.cli._context import cli_context
from orchestrator.cli._output import (
    as_utc,
    format_duration_ms,
    print_json,
    print_line,
    print_table,
    print_warning,
    shorten,
)
from orchestrator.config import ProjectConfig
from orchestrator.correlation import CORRELATION_KEYS
from orchestrator.errors import EventError, EventStoreError, OrchestrateError, UsageError
from orchestrator.events import CATEGORIES, Event, EventStore, RunRow, build_timeline, reindex
from orchestrator.runs import find_run, list_runs, run_not_found
from orchestrator.telemetry import ENDPOINT_VARIABLE, export_run_events, resolve_endpoint, run_trace_id

__all__ = [
    "event_time",
    "events_app",
    "indexed_runs",
    "open_index",
    "payload_summary",
    "require_index",
]

events_app = typer.Typer(
    help="Query correlated events, show a run's timeline, rebuild the event index.",
    no_args_is_help=True,
)

_REINDEX_FIX = "run `orchestrate events reindex` to build it from the run dirs"
_MAX_LIMIT = 100_000
_MAX_SEQ = 2**63 - 1  # SQLite integers are signed 64-bit


@contextmanager
def open_index(config: ProjectConfig) -> Iterator[EventStore | None]:
    """The project's event index, or ``None`` when it does not exist (it is not created)."""
    if not config.events_db.is_file():
        yield None
        return
    store = EventStore(config.events_db)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def require_index(config: ProjectConfig) -> Iterator[EventStore]:
    """The project's event index; :class:`EventStoreError` naming the fix when there is none yet."""
    with open_index(config) as store:
        if store is None:
            raise EventStoreError(f"no events indexed yet: {config.events_db} does not exist; {_REINDEX_FIX}")
        yield store


def indexed_runs(config: ProjectConfig) -> dict[str, RunRow]:
    """Every run the index knows, by id; empty when there is no index yet."""
    with open_index(config) as store:
        return {} if store is None else {row.run_id: row for row in store.runs()}


def event_time(timestamp: str) -> str:
    """An event timestamp for a table cell: UTC to the millisecond, one word (``...T23:59:59.123Z``)."""
    try:
        moment = as_utc(datetime.fromisoformat(timestamp))
    except ValueError:
        return timestamp
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def payload_summary(payload: Mapping[str, Any], width: int = 60) -> str:
    """``key=value`` pairs of a payload on one line, cut to ``width``; ids already in columns are left out."""
    parts: list[str] = []
    for key, value in payload.items():
        if key in CORRELATION_KEYS or value is None:
            continue
        text = json.dumps(value, separators=(",", ":")) if isinstance(value, dict | list) else str(value)
        parts.append(f"{key}={text}")
    return shorten(" ".join(parts), width)


def _unknown_run(store: EventStore, config: ProjectConfig, run_id: str) -> OrchestrateError:
    """The error for a run the index does not have: not indexed yet, or no such run at all."""
    on_disk = {info.run_id for info in list_runs(config.run_roots)}
    if run_id in on_disk:
        return EventStoreError(f"the events of run {run_id!r} are not indexed yet; {_REINDEX_FIX}")
    known = on_disk | {row.run_id for row in store.runs()}
    return run_not_found(run_id, known, f"the event index {config.events_db} or the run dirs")


def _event_cells(event: Event) -> list[str]:
    return [
        str(event.seq),
        event_time(event.timestamp),
        event.event_type,
        event.actor,
        event.run_id,
        payload_summary(event.payload),
    ]


@events_app.command("query")
def query_command(
    ctx: typer.Context,
    run_id: Annotated[
        str | None, typer.Option("--run", metavar="RUN", help="Only this run's events.")
    ] = None,
    type_prefix: Annotated[
        str | None,
        typer.Option("--type-prefix", metavar="PREFIX", help="Only event types starting with this."),
    ] = None,
    since_seq: Annotated[
        int | None,
        typer.Option(
            "--since-seq", metavar="N", min=0, max=_MAX_SEQ, help="Only events with seq greater than N."
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option("--limit", metavar="N", min=1, max=_MAX_LIMIT, help="At most N events (up to 100000)."),
    ] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array of events.")] = False,
) -> None:
    """Query indexed events, oldest first: seq, time, type, actor, run and a payload summary.

    Within one run events come in seq order; across runs in time order.

    Example: orchestrate events query --run 2024-03-09-001 --type-prefix worker.tool. --limit 20
    """
    config = cli_context(ctx).config
    with require_index(config) as store:
        if run_id is not None and store.run(run_id) is None:
            raise _unknown_run(store, config, run_id)
        events = store.query(run_id=run_id, type_prefix=type_prefix, since_seq=since_seq, limit=limit)
    if as_json:
        print_json([event.model_dump(mode="json") for event in events])
        return
    if not events:
        print_line("No events match.")
        return
    print_table(["seq", "time", "type", "actor", "run", "payload"], [_event_cells(e) for e in events])


@events_app.command("timeline")
def timeline_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run id, as `runs list` shows it.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole timeline as one JSON document.")
    ] = False,
) -> None:
    """Show a run's timeline: status, counts per category, workers, failures, duration, then its events.

    Categories: conductor_decisions (what the conductor decided), agent_objectives (what each
    worker set out to do), agent_conduct (progress, tool and model calls, trajectory steps) and
    agent_results (what workers produced).

    Example: orchestrate events timeline web-1710028799999 --json
    """
    config = cli_context(ctx).config
    with require_index(config) as store:
        if store.run(run_id) is None:
            raise _unknown_run(store, config, run_id)
        timeline = build_timeline(run_id, store.query(run_id=run_id, limit=None))
    if as_json:
        print_json(timeline.model_dump(mode="json"))
        return
    summary = timeline.summary
    print_line(f"Run {timeline.run_id}: {summary.status}")
    failed = f" ({summary.worker_failures} failed)" if summary.worker_failures else ""
    for label, value in (
        ("events", str(summary.event_count)),
        ("started", event_time(summary.started_at) if summary.started_at else ""),
        ("ended", event_time(summary.ended_at) if summary.ended_at else ""),
        ("duration", format_duration_ms(summary.duration_ms)),
        ("workers", f"{summary.worker_count}{failed}"),
        ("error", f"{summary.error_code or ''} {summary.error_message or ''}".strip()),
    ):
        if value:
            print_line(f"  {label + ':':<10}{value}")
    counts = ", ".join(f"{category} {summary.counts.get(category, 0)}" for category in CATEGORIES)
    print_line(f"  counts:   {counts}")
    if timeline.events:
        print_table(
            ["seq", "time", "category", "type", "actor", "payload"],
            [
                [
                    str(entry.event.seq),
                    event_time(entry.event.timestamp),
                    entry.category,
                    entry.event.event_type,
                    entry.event.actor,
                    payload_summary(entry.event.payload),
                ]
                for entry in timeline.events
            ],
        )


def _events_files(config: ProjectConfig) -> list[Path]:
    """Every run's ``events.jsonl`` under both run roots (the same run dirs `runs list` shows)."""
    roots = config.run_roots
    return sorted({info.events_path for info in list_runs(roots) if info.events_path.is_file()})


@events_app.command("reindex")
def reindex_command(
    ctx: typer.Context,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON document: db, runs, events, torn lines, skipped files."),
    ] = False,
) -> None:
    """Rebuild the event index from every run dir's events.jsonl (the source of truth).

    Safe at any time: the rebuild is one transaction, so an error leaves the old index as it was.
    A torn last line (a write cut short by a crash) is skipped with a warning on stderr. A file
    damaged anywhere else is skipped with a warning naming the file and line (its run keeps what
    the index had for it), every other run is indexed, and the exit code is 1.

    Example: orchestrate events reindex
    """
    config = cli_context(ctx).config
    files = _events_files(config)
    with EventStore(config.events_db) as store:
        report = reindex(store, files)
    for where in report.torn_lines:
        print_warning(
            f"skipped a torn last line at {where} (a write cut short; the lines before it were indexed)"
        )
    for skipped in report.skipped:
        print_warning(f"skipped {skipped} (the run keeps what the index had for it; fix or remove the file)")
    if as_json:
        print_json(
            {
                "db": str(config.events_db),
                "runs": report.runs,
                "events": report.events,
                "torn_lines": report.torn_lines,
                "skipped": [
                    {"file": skipped.path, "line": skipped.line, "reason": skipped.reason}
                    for skipped in report.skipped
                ],
            }
        )
    else:
        print_line(f"Indexed {report.events} event(s) of {report.runs} run(s) into {config.events_db}.")
        if report.torn_lines:
            print_line(f"Skipped {len(report.torn_lines)} torn last line(s); see the warnings above.")
        if report.skipped:
            print_line(f"Skipped {len(report.skipped)} damaged events file(s); see the warnings above.")
    if report.skipped:
        raise typer.Exit(1)


def _run_events(path: Path) -> Iterator[Event]:
    """A run's events from its ``events.jsonl``; a torn last line (a crash mid-write) is left out."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise EventError(f"{path} could not be read: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield Event.model_validate_json(line)
        except ValueError as exc:
            if number == len(lines):
                return
            raise EventError(f"{path} line {number} is not an event; fix or remove the line: {exc}") from exc


@events_app.command("export")
def export_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run id, as `runs list` shows it.")],
    endpoint: Annotated[
        str | None,
        typer.Argument(
            metavar="[ENDPOINT]",
            help="OTLP/HTTP collector base URL (default: [telemetry] otlp_endpoint, "
            "else OTEL_EXPORTER_OTLP_ENDPOINT).",
        ),
    ] = None,
    otlp: Annotated[bool, typer.Option("--otlp", help="Send the run as an OTLP/HTTP trace.")] = False,
) -> None:
    """Replay a finished run's events to an OpenTelemetry collector as one trace (OTLP/HTTP).

    The spans and their ids are the ones the live export of the run gave (see [telemetry]).

    Example: orchestrate events export 2024-03-09-001 --otlp http://127.0.0.1:4318
    """
    if not otlp:
        raise UsageError("say where to export the run: `--otlp [ENDPOINT]` (an OTLP/HTTP collector)")
    config = cli_context(ctx).config
    if endpoint is not None:
        try:
            parts = urlsplit(endpoint.strip())
        except ValueError:
            parts = urlsplit("")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(
                f"ENDPOINT must be an http(s) URL such as http://127.0.0.1:4318, not {endpoint!r}"
            )
    url = resolve_endpoint(config.telemetry, os.environ, given=endpoint)
    if url is None:
        raise UsageError(
            "no OTLP collector given: pass ENDPOINT after --otlp, or set [telemetry] otlp_endpoint in "
            f"orchestrate.toml or {ENDPOINT_VARIABLE}"
        )
    info = find_run(config.run_roots, run_id)
    if not info.events_path.is_file():
        raise EventError(f"run {run_id!r} has no events file ({info.events_path}); nothing to export")
    telemetry = config.telemetry
    sent = export_run_events(
        _run_events(info.events_path),
        url,
        kind=None if info.kind == "unknown" else info.kind,
        service_name=telemetry.service_name,
        timeout_s=telemetry.export_timeout_s,
    )
    print_line(f"Sent {sent} span(s) of run {run_id} to {url} (trace id {run_trace_id(run_id):032x}).")
