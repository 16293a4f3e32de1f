"""``orchestrate twin``: list, serve and check digital twins.

``serve`` runs the same in-process server the scenario runner uses (one thread, each twin on its
own loopback port) and serves until Ctrl-C or SIGTERM. On stdout it says, per twin, the URL its
official client takes as-is (python-gitlab the host, the OpenAI SDK ``.../v1``), a valid token,
the line of Python that makes the client, and the admin URL; ``--json`` prints the same as one
JSON object per twin. Bad definitions, unknown twins or profiles and bad seed data are errors
(exit 2).
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from orchestrator.cli._context import cli_context
from orchestrator.cli._output import print_json, print_line, print_note, print_table, shorten
from orchestrator.errors import ConfigError
from orchestrator.twins import (
    DEFAULT_MAX_BODY_BYTES,
    RunningTwins,
    TwinDefinition,
    check_seed_data,
    discover_twins,
    load_twin,
    load_twin_definition,
    serve_twins,
)
from orchestrator.userfiles import load_structured_file

__all__ = ["describe_twins", "twin_app"]

twin_app = typer.Typer(
    help="Digital twins: fake, stateful third-party APIs with seeded chaos (list, serve, check).",
    no_args_is_help=True,
)


@twin_app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array of twins.")] = False,
) -> None:
    """List the twins that can be served: shipped, installed by plugins, and the project's own.

    A project twin lives in `.scenarios/twins/<service>/` and replaces a shipped twin of the same
    name. A definition that does not load is listed with its problem.

    Example: orchestrate twin list --json
    """
    config = cli_context(ctx).config
    records: list[dict[str, Any]] = []
    for name, source in discover_twins(config.root, twins_dir=config.scenarios_dir / "twins").items():
        record: dict[str, Any] = {"name": name, "origin": source.origin, "path": str(source.directory)}
        try:
            definition = load_twin(name, config.root, twins_dir=config.scenarios_dir / "twins")
        except ConfigError as exc:
            record.update(version=None, description=None, routes=None, problem=str(exc))
        else:
            manifest = definition.manifest
            record.update(
                version=manifest.version,
                description=manifest.description,
                routes=len(definition.routes),
                problem=None,
            )
        records.append(record)
    if as_json:
        print_json(records)
        return
    print_table(
        ["twin", "origin", "version", "routes", "description"],
        [
            [
                r["name"],
                r["origin"],
                r["version"] or "",
                "" if r["routes"] is None else str(r["routes"]),
                shorten(r["description"] or f"INVALID: {r['problem']}", 70),
            ]
            for r in records
        ],
    )


@twin_app.command("serve")
def serve_command(
    ctx: typer.Context,
    names: Annotated[
        list[str], typer.Argument(help="Twins to serve, by name (see `orchestrate twin list`).")
    ],
    port: Annotated[
        int,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="First port; the next twins get the ports after it. Default 0: the OS picks free ports.",
        ),
    ] = 0,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of every twin's chaos RNG (default: a fresh one, printed)."),
    ] = None,
    chaos_profile: Annotated[
        str | None,
        typer.Option(
            "--chaos-profile", help="Chaos profile: gentle, moderate, hostile, or the project's own."
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="JSON or YAML seed data keyed by twin name, e.g. {github: {issues: [...]}}.",
            dir_okay=False,
        ),
    ] = None,
    max_body_bytes: Annotated[
        int,
        typer.Option(
            "--max-body-bytes",
            min=1,
            help="Refuse request bodies over this many bytes with 413 (default 1 MiB).",
        ),
    ] = DEFAULT_MAX_BODY_BYTES,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per twin (name, url, token, client, admin).")
    ] = False,
) -> None:
    """Serve twins on 127.0.0.1 until Ctrl-C, printing how each twin's client connects.

    Per twin: the URL its official client takes as-is, a valid token, a line of Python that makes
    the client, and the admin API (`<origin>/__twin/`: reset, state, journal, chaos).

    Example: orchestrate twin serve github openai --seed 7 --chaos-profile gentle
    """
    config = cli_context(ctx).config
    document = load_structured_file(data) if data is not None else None
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, request_stop)
    try:
        with serve_twins(
            names,
            project_root=config.root,
            twins_dir=config.scenarios_dir / "twins",
            seed=seed,
            chaos_profile=chaos_profile,
            data=document,
            data_source=data,
            port=port,
            max_body_bytes=max_body_bytes,
        ) as twins:
            _announce(twins, chaos_profile, as_json=as_json)
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
    print_note("Twins stopped.")


def _announce(twins: RunningTwins, chaos_profile: str | None, *, as_json: bool) -> None:
    for record in describe_twins(twins):
        if as_json:
            print_line(json.dumps(record))
            continue
        print_line(f"{record['name']}  {record['url']}")
        if record["token"] is not None:
            print_line(f"  token   {record['token']}")
        package = f"  (pip install {record['package']})" if record["package"] else ""
        print_line(f"  client  {record['client']}{package}")
        print_line(f"  admin   {record['admin']}")
    seeds = sorted({runtime.chaos.seed for runtime in twins.runtimes.values()})
    chaos = f"chaos profile {chaos_profile}" if chaos_profile else "no chaos"
    print_note(
        f"Serving {len(twins)} twin(s), {chaos}, seed {', '.join(map(str, seeds))}. Press Ctrl-C to stop."
    )


def describe_twins(twins: RunningTwins) -> list[dict[str, Any]]:
    """Per running twin: name, client URL, token, client code line and package, admin URL."""
    records: list[dict[str, Any]] = []
    for name, endpoint in twins.endpoints.items():
        hint = twins.client(name)
        records.append(
            {
                "name": name,
                "url": hint.url,
                "token": hint.token,
                "client": hint.code,
                "package": hint.package,
                "admin": f"{endpoint.admin_url}/",
            }
        )
    return records


@twin_app.command("check")
def check_command(
    directory: Annotated[
        Path, typer.Argument(help="The twin's folder (holding twin.json).", file_okay=False, exists=True)
    ],
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Also check this seed data file (the twin's entities to records).", dir_okay=False
        ),
    ] = None,
) -> None:
    """Validate a twin definition: twin.json, its routes, module and seed data.

    Prints the routes it would serve; any mistake is reported with the file, the field and the
    fix, and exits 2.

    Example: orchestrate twin check .scenarios/twins/billing
    """
    definition = load_twin_definition(directory)
    if data is not None:
        check_seed_data(
            load_structured_file(data),
            definition.manifest.entities,
            twin=definition.name,
            source=data,
            checks=definition.seed_checks,
        )
    _describe(definition)


def _describe(definition: TwinDefinition) -> None:
    manifest = definition.manifest
    print_line(
        f"ok: {manifest.name} {manifest.version}: {len(definition.routes)} routes, "
        f"{len(manifest.entities)} entities, auth {manifest.auth.type}"
    )
    print_table(
        ["route", "methods", "path", "from", "auth"],
        [
            [
                route.id,
                ",".join(route.methods),
                manifest.base_path + route.path,
                route.origin,
                "public" if route.public or manifest.auth.type == "none" else manifest.auth.type,
            ]
            for route in definition.routes
        ],
    )
