"""Twin server throughput against a bare Starlette handler on the same server stack, in one run.

1. ``twin_rps``: requests per second from one keep-alive httpx client to the github twin, listing
   a repository's issues (auth check, chaos roll, filters, ordering, pagination, JSON encoding and
   a journal entry per request), chaos off.
2. ``hostile_rps``: the same with the ``hostile`` chaos profile, its latency and timeout
   durations scaled to 0 (so it measures the cost of rolling and injecting, not the waiting).
3. ``bare_rps`` (the baseline): a plain Starlette route returning the same JSON document, served
   by uvicorn with exactly the twin server's configuration and socket set-up.

Within a round the three take turns in chunks of ``--chunk`` requests, so a change in machine load
hits them alike; ``twin_vs_bare`` is the median of the rounds' ratios (a line before the JSON gives
the same ratio per CPU second, which other load on the machine hardly moves), the rates are medians of
``--rounds`` rounds. The plain and the hostile twin run on servers of their own (each a thread,
as in a scenario slot) and are reset with the round's seed before each round. The last line is
one JSON object.

    python benchmarks/twins.py [--requests 2000] [--chunk 200] [--rounds 5] [--issues 10]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orchestrator.twins import TwinAdmin, serve_twins

HEADERS = {"Authorization": "Bearer ghp_twin_valid"}
PATH = "/repos/acme/app/issues"


def seed(issues: int) -> dict[str, Any]:
    return {
        "github": {
            "issues": [
                {
                    "repository": "acme/app",
                    "number": number,
                    "title": f"Issue number {number}",
                    "body": "Steps to reproduce: open the app, press the button, see nothing happen.",
                    "labels": [{"name": "bug"}],
                }
                for number in range(1, issues + 1)
            ]
        }
    }


@contextmanager
def bare_server(document: Any) -> Iterator[str]:
    """Serve ``document`` from a plain Starlette route, on the twin server's uvicorn settings."""

    async def handler(request: Request) -> Response:
        return JSONResponse(document)

    app = Starlette(routes=[Route(PATH, handler)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        http="h11",
        ws="none",
        loop="asyncio",
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    ready = threading.Event()
    original_startup = server.startup

    async def startup(sockets: list[socket.socket] | None = None) -> None:
        try:
            await original_startup(sockets=sockets)
        finally:
            ready.set()

    server.startup = startup  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    if not ready.wait(10) or not server.started:
        raise RuntimeError("the bare server did not start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


def timed(client: httpx.Client, url: str, requests: int) -> tuple[float, float]:
    """Wall and process-CPU seconds for ``requests`` keep-alive GETs (any status counts)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        client.get(url)
    return time.perf_counter() - wall, time.process_time() - cpu


def run_round(urls: dict[str, str], requests: int, chunk: int) -> tuple[dict[str, float], dict[str, float]]:
    """Requests per wall second and per CPU second of each variant, measured in interleaved chunks.

    Client and servers share this process, so CPU seconds are the work of both ends; unlike wall
    time they hardly move when other processes load the machine.
    """
    wall = dict.fromkeys(urls, 0.0)
    cpu = dict.fromkeys(urls, 0.0)
    clients = {name: httpx.Client(headers=HEADERS, timeout=10.0) for name in urls}
    try:
        for name, client in clients.items():  # warm each connection and both sides' code paths
            timed(client, urls[name], 50)
        done = 0
        while done < requests:
            size = min(chunk, requests - done)
            for name, client in clients.items():
                spent_wall, spent_cpu = timed(client, urls[name], size)
                wall[name] += spent_wall
                cpu[name] += spent_cpu
            done += size
    finally:
        for client in clients.values():
            client.close()
    return {n: requests / s for n, s in wall.items()}, {n: requests / s for n, s in cpu.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per variant and round")
    parser.add_argument("--chunk", type=int, default=50, help="requests per turn within a round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--issues", type=int, default=10, help="issues in the listed repository")
    args = parser.parse_args()

    figures: dict[str, list[float]] = {"twin": [], "hostile": [], "bare": [], "ratio": [], "cpu_ratio": []}
    data = seed(args.issues)
    with (
        serve_twins(["github"], seed=1, data=data) as plain,
        serve_twins(["github"], seed=1, data=data, chaos_profile="hostile") as chaotic,
        TwinAdmin(plain.endpoints["github"].origin) as plain_admin,
        TwinAdmin(chaotic.endpoints["github"].origin) as hostile_admin,
    ):
        document = httpx.get(f"{plain['github']}{PATH}", headers=HEADERS).json()
        assert len(document) == args.issues
        hostile_admin.set_chaos(config={**hostile_admin.chaos()["config"], "time_scale": 0})
        with bare_server(document) as bare_origin:
            assert httpx.get(f"{bare_origin}{PATH}").json() == document
            urls = {
                "twin": f"{plain['github']}{PATH}",
                "hostile": f"{chaotic['github']}{PATH}",
                "bare": f"{bare_origin}{PATH}",
            }
            for round_number in range(1, args.rounds + 1):
                plain_admin.reset(seed=round_number)
                hostile_admin.reset(seed=round_number)
                rates, per_cpu = run_round(urls, args.requests, args.chunk)
                for name, rate in rates.items():
                    figures[name].append(rate)
                figures["ratio"].append(rates["twin"] / rates["bare"])
                figures["cpu_ratio"].append(per_cpu["twin"] / per_cpu["bare"])
                print(
                    f"round {round_number}: twin={rates['twin']:.0f}/s hostile={rates['hostile']:.0f}/s "
                    f"bare={rates['bare']:.0f}/s twin/bare={figures['ratio'][-1]:.3f} "
                    f"(per CPU second: {figures['cpu_ratio'][-1]:.3f})",
                    flush=True,
                )
        entries = hostile_admin.journal()["entries"]
        injected = sum(1 for entry in entries if entry["chaos"] is not None)
        print(f"last hostile round: chaos injected into {injected} of {len(entries)} requests", flush=True)
    print(f"twin/bare per CPU second (load-independent): {statistics.median(figures['cpu_ratio']):.3f}")
    result = {
        "twin_rps": round(statistics.median(figures["twin"]), 1),
        "bare_rps": round(statistics.median(figures["bare"]), 1),
        "twin_vs_bare": round(statistics.median(figures["ratio"]), 3),
        "hostile_rps": round(statistics.median(figures["hostile"]), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
