"""``orchestrate runs``: list, show and prune the run dirs of both jobs.

Runs are read from the two run roots of the project (UI-gate runs and scenario runs). The event
index adds what only the events know (how many there are, whether the run reached its terminal
event); it is optional here: before anything was indexed the counts are simply blank, and a read
command never creates the database.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.cli._context import cli_context
from orchestrator.cli._events import indexed_runs, open_index
from orchestrator.cli._output import (
    format_duration_ms,
    format_time,
    print_json,
    print_line,
    print_note,
    print_table,
    shorten,
)
from orchestrator.config import ProjectConfig
from orchestrator.errors import UsageError
from orchestrator.events import CATEGORIES, RunRow, TimelineSummary, build_timeline
from orchestrator.policyfiles import load_retention
from orchestrator.runs import RunInfo, find_run, list_runs, parse_age, prune_runs

__all__ = ["run_record", "runs_app"]

runs_app = typer.Typer(
    help="List, inspect and prune run dirs (UI-gate runs and scenario runs).",
    no_args_is_help=True,
)


class KindChoice(StrEnum):
    """The ``--kind`` filter: which job's runs to show."""

    ui = "ui"
    scenario = "scenario"
    pack = "pack"


def _roots(config: ProjectConfig) -> list[Path]:
    return config.run_roots


def _kind_of(info: RunInfo, config: ProjectConfig) -> str:
    """The manifest's kind; for a dir without a readable manifest, the root it sits in."""
    if info.kind != "unknown":
        return info.kind
    if info.path.parent == config.pack_runs_dir:
        return "pack"
    return "ui" if info.path.parent == config.ui_runs_dir else "scenario"


def _duration_ms(info: RunInfo) -> int | None:
    if info.finished_at is None:
        return None
    return round((info.finished_at - info.created_at).total_seconds() * 1000)


def run_record(info: RunInfo, kind: str, row: RunRow | None) -> dict[str, Any]:
    """A run as a JSON-ready mapping: what `runs list --json` prints for each run."""
    return {
        "run_id": info.run_id,
        "kind": kind,
        "status": info.status,
        "target": info.target,
        "created_at": info.created_at.isoformat(),
        "finished_at": info.finished_at.isoformat() if info.finished_at else None,
        "duration_ms": _duration_ms(info),
        "path": str(info.path),
        "event_count": row.event_count if row is not None else None,
        "indexed_status": row.status if row is not None else None,
        "interrupted_reason": info.interrupted_reason,
    }


@runs_app.command("list")
def list_command(
    ctx: typer.Context,
    kind: Annotated[
        KindChoice | None, typer.Option("--kind", help="Only runs of this kind.", case_sensitive=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array of runs.")] = False,
) -> None:
    """List runs, newest first: id, kind, status, created, duration and event count.

    Status is running, completed, failed, or interrupted: stopped by a signal, or its process
    died (killed, out of memory, power loss) before it could finish the run. The event count
    comes from the event index and is blank for a run not indexed yet (`orchestrate events
    reindex` indexes every run).

    Example: orchestrate runs list --kind scenario --json
    """
    config = cli_context(ctx).config
    rows = indexed_runs(config)
    records: list[dict[str, Any]] = []
    for info in list_runs(_roots(config)):
        run_kind = _kind_of(info, config)
        if kind is None or run_kind == kind.value:
            records.append(run_record(info, run_kind, rows.get(info.run_id)))
    if as_json:
        print_json(records)
        return
    if not records:
        print_line("No runs yet." if kind is None else f"No {kind.value} runs yet.")
        return
    print_table(
        ["run", "kind", "status", "created", "duration", "events"],
        [
            [
                r["run_id"],
                r["kind"],
                r["status"],
                format_time(r["created_at"]),
                format_duration_ms(r["duration_ms"]),
                "" if r["event_count"] is None else str(r["event_count"]),
            ]
            for r in records
        ],
    )


@runs_app.command("show")
def show_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run id, as `runs list` shows it.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document: manifest, index row, timeline summary.")
    ] = False,
) -> None:
    """Show one run: its manifest (run.json), its dir, what the event index knows, and a timeline summary.

    Example: orchestrate runs show web-1710028799999
    """
    config = cli_context(ctx).config
    info = find_run(_roots(config), run_id)
    row: RunRow | None = None
    summary: TimelineSummary | None = None
    with open_index(config) as store:
        if store is not None:
            row = store.run(info.run_id)
            if row is not None:
                summary = build_timeline(info.run_id, store.query(run_id=info.run_id, limit=None)).summary
    record = run_record(info, _kind_of(info, config), row)
    if as_json:
        print_json(
            {
                **record,
                "manifest": dict(info.manifest),
                "index": None if row is None else dataclasses.asdict(row),
                "timeline": None if summary is None else summary.model_dump(mode="json"),
            }
        )
        return
    print_line(f"Run {info.run_id}")
    for label, value in (
        ("kind", record["kind"]),
        ("status", record["status"]),
        ("why", record["interrupted_reason"] or ""),
        ("target", record["target"] or ""),
        ("dir", record["path"]),
        ("created", format_time(info.created_at)),
        ("finished", format_time(info.finished_at)),
        ("duration", format_duration_ms(record["duration_ms"])),
    ):
        if value:
            print_line(f"  {label + ':':<10}{value}")
    if row is None or summary is None:
        print_line("  events:   not indexed (run `orchestrate events reindex` to index every run)")
    else:
        print_line(f"  events:   {row.event_count} indexed, status {row.status}")
        counts = ", ".join(f"{category} {summary.counts.get(category, 0)}" for category in CATEGORIES)
        print_line(f"  timeline: {counts}")
        failed = f" ({summary.worker_failures} failed)" if summary.worker_failures else ""
        print_line(f"  workers:  {summary.worker_count}{failed}")
        if summary.error_code or summary.error_message:
            print_line(f"  error:    {summary.error_code or ''} {summary.error_message or ''}".rstrip())
    print_line("Manifest (run.json):")
    if not info.manifest:
        print_line("  (missing or unreadable)")
    for key, value in info.manifest.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        print_line(f"  {key}: {shorten(text, 200)}")


@runs_app.command("prune")
def prune_command(
    ctx: typer.Context,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="AGE",
            help="Age such as 30d, 12h, 90m or 2w. Default: retention_days of the retention policy.",
            show_default=False,
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Really delete (default: a dry run).")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document of what was done.")
    ] = False,
) -> None:
    """Delete run dirs older than an age. A dry run unless --yes is given.

    Without --older-than the age is the retention policy's retention_days (shipped default 30,
    overridden in .orchestrator/policy/retention.yaml). A run still marked running is kept until
    it is also older than 24 hours. Events of deleted runs leave the index on the next
    `orchestrate events reindex`.

    Example: orchestrate runs prune --older-than 14d --yes
    """
    config = cli_context(ctx).config
    if older_than is None:
        days = load_retention(config.root).retention_days
        age_text, source = f"{days}d", "retention policy"
        age = _days(days)
    else:
        age_text, source = older_than, "--older-than"
        age = _parse_age_option(older_than)
    try:
        runs = prune_runs(_roots(config), age, delete=yes) if age is not None else []
    except OverflowError:
        runs = []  # a cutoff before year 1: nothing can be that old
    now = datetime.now(UTC)
    if as_json:
        print_json(
            {
                "dry_run": not yes,
                "older_than": age_text,
                "older_than_source": source,
                "deleted": len(runs) if yes else 0,
                "runs": [run_record(info, _kind_of(info, config), None) for info in runs],
            }
        )
        return
    if not runs:
        print_line(f"No runs older than {age_text} ({source}).")
        return
    print_table(
        ["run", "kind", "status", "created", "age"],
        [
            [
                info.run_id,
                _kind_of(info, config),
                info.status,
                format_time(info.created_at),
                format_duration_ms((now - info.created_at).total_seconds() * 1000),
            ]
            for info in runs
        ],
    )
    if yes:
        print_line(f"Deleted {len(runs)} run(s) older than {age_text} ({source}).")
        print_note("Their events stay in the event index until `orchestrate events reindex`.")
    else:
        print_line(
            f"Dry run: {len(runs)} run(s) older than {age_text} ({source}) would be deleted; "
            "nothing was deleted. Pass --yes to delete them."
        )


def _parse_age_option(text: str) -> timedelta | None:
    try:
        return parse_age(text)
    except UsageError as exc:
        raise UsageError(f"--older-than: {exc}") from None
    except OverflowError:
        return None  # longer than timedelta can hold: nothing is that old


def _days(days: int) -> timedelta | None:
    try:
        return timedelta(days=days)
    except OverflowError:
        return None
