"""Event bus and typed ask throughput, each against its plain baseline, measured in one run.

1. ``bus_events_per_s``: events emitted from 4 threads through the event bus into a run's JSONL
   and the SQLite index (real schema and indexes), from the first emit until the flush returns.
   Baseline ``raw_sqlite_rows_per_s``: a plain loop inserting the same rows (taken from the
   index the bus just wrote) in batches of 500 into a fresh database with the same schema.
2. ``typed_ask_per_s``: round trips of a typed capability call: a frozen request model sent as a
   ``WorkRequest`` (dispatch by type, correlation bound while handling), validated against the
   worker's declared request model, answered with its declared result model (checked before it
   leaves the worker) and parsed back into that model by the caller; no events. Baseline
   ``raw_ask_per_s``: pykka's own ask with a dict message to an actor that returns at once.
3. ``pool_per_s``: ``--pool-requests`` trivial requests through ``Conductor.delegate_all`` over a
   pool of 4 workers (typed messages, supervision, one outcome per request, the delegation events
   sent to a sink that drops them, so the bus is not measured twice). Baseline
   ``bare_pool_per_s``: a bare ``concurrent.futures.ThreadPoolExecutor(4)`` making the same calls.
   ``pool_overhead`` is bare / ours. For scale, ``actor_pool_per_s``: 4 plain pykka actors
   answering dict messages with 4 asks in flight, the cost of the actor model before any of ours
   (``pool_vs_actors`` is that / ours).

Each figure is the median of ``--rounds`` rounds. The last line is one JSON object.

    python benchmarks/events_bus.py [--events 100000] [--asks 20000] [--pool-requests 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pykka

from orchestrator.actors import (
    Capability,
    Conductor,
    ContractModel,
    Delegation,
    Done,
    Outcome,
    Worker,
    run_conductor,
    spawn,
)
from orchestrator.correlation import correlation_scope
from orchestrator.events import EventBus
from orchestrator.events._store import INSERT_ROW_SQL, apply_schema
from orchestrator.messages import RunOutcome, StartRun, WorkRequest, WorkResult

PRODUCERS = 4


def bus_round(root: Path, events: int) -> tuple[float, list[tuple[Any, ...]]]:
    """Events/s through the bus; also returns the rows it indexed (the baseline's input)."""
    db = root / "events.db"
    bus = EventBus(db)
    bus.open_run("bench", root / "bench" / "events.jsonl")
    per_thread = events // PRODUCERS
    ready = threading.Barrier(PRODUCERS + 1)

    def produce(worker: int) -> None:
        payload = {"task_id": f"t{worker}", "worker_id": f"w{worker}", "phase": "bench"}
        ready.wait()
        with correlation_scope(run_id="bench", task_id=f"t{worker}"):
            for n in range(per_thread):
                bus.emit("worker.task.progress", {**payload, "message": f"step {n}"}, actor=f"w{worker}")

    threads = [threading.Thread(target=produce, args=(i,)) for i in range(PRODUCERS)]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    bus.flush()
    elapsed = time.perf_counter() - start
    bus.close_run("bench")
    bus.stop()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT * FROM events ORDER BY seq").fetchall()
    assert len(rows) == per_thread * PRODUCERS, "the bus lost events"
    return len(rows) / elapsed, rows


def raw_round(root: Path, rows: list[tuple[Any, ...]]) -> float:
    """Rows/s of a plain batched insert of the same rows into the same schema."""
    conn = sqlite3.connect(root / "raw.db", isolation_level=None)
    apply_schema(conn)
    start = time.perf_counter()
    for i in range(0, len(rows), 500):
        conn.execute("BEGIN")
        conn.executemany(INSERT_ROW_SQL, rows[i : i + 500])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(rows) / elapsed


class EchoRequest(ContractModel):
    n: int


class EchoResult(ContractModel):
    n: int


ECHO = Capability("echo", EchoRequest, EchoResult)


class Answering(Worker):
    """A typed worker that answers at once."""

    worker_type = "answering"
    capabilities = ECHO.declare()

    def handle(self, request: WorkRequest, params: EchoRequest) -> Done[EchoResult]:
        return Done(EchoResult(n=params.n), summary="ok")


class RawAnswering(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        return {"kind": "pong", "run_id": message["run_id"]}


def typed_ask_round(asks: int) -> float:
    actor = spawn(Answering)
    params = EchoRequest(n=1)
    start = time.perf_counter()
    for n in range(asks):
        message = WorkRequest(
            run_id="bench",
            task_id="t",
            call_id=f"c{n}",
            capability="echo",
            objective="echo",
            params=params.model_dump(mode="json"),
        )
        result: WorkResult = actor.ask(message, timeout=10)
        ECHO.parse_result(result.data)
    elapsed = time.perf_counter() - start
    actor.stop()
    return asks / elapsed


class _DroppedEvents:
    """An event sink that takes a run's events and keeps none."""

    def emit(self, event_type: Any, payload: Mapping[str, Any] | None = None, *, actor: str) -> None:
        return None

    def open_run(self, run_id: str, events_path: Path) -> None:
        return None

    def close_run(self, run_id: str) -> None:
        return None


class Trivial(Worker):
    worker_type = "trivial"

    def perform(self, request: WorkRequest) -> WorkResult:
        return self.result(request, summary="ok", data={"n": request.params["n"]})


class PoolBench(Conductor):
    """Puts ``count`` trivial requests through a pool of 4 and times only the delegations."""

    elapsed: float = 0.0

    def conduct(self, start: StartRun) -> RunOutcome:
        count = int(start.params["count"])  # type: ignore[arg-type]
        pool = self.start_pool(Trivial, size=PRODUCERS)
        done = 0

        def tally(outcome: Outcome) -> None:
            nonlocal done
            done += outcome.ok

        began = time.perf_counter()
        self.delegate_all(
            (Delegation(pool, "step", "trivial", {"n": n}) for n in range(count)),
            on_outcome=tally,
            collect=False,
        )
        PoolBench.elapsed = time.perf_counter() - began
        assert done == count, f"{done} of {count} requests succeeded"
        return RunOutcome(run_id=start.run_id, status="completed", summary=f"{done} requests")


def pool_round(requests: int) -> float:
    with tempfile.TemporaryDirectory(prefix="orchestrate-bench-") as tmp:
        run_conductor(
            PoolBench,
            events=_DroppedEvents(),
            run_id="bench",
            events_path=Path(tmp) / "events.jsonl",
            objective="pool",
            params={"count": requests},
        )
    return requests / PoolBench.elapsed


def actor_pool_round(requests: int) -> float:
    """The actor model's own floor: 4 plain pykka actors, dict messages, 4 asks in flight."""
    refs = [RawAnswering.start() for _ in range(PRODUCERS)]
    in_flight: list[Any] = []
    start = time.perf_counter()
    for n in range(requests):
        if len(in_flight) == PRODUCERS:
            in_flight.pop(0).get(timeout=10)
        message = {"kind": "ping", "run_id": "bench", "n": n}
        in_flight.append(refs[n % PRODUCERS].ask(message, block=False))
    for future in in_flight:
        future.get(timeout=10)
    elapsed = time.perf_counter() - start
    for ref in refs:
        ref.stop()
    return requests / elapsed


def bare_pool_round(requests: int) -> float:
    def call(n: int) -> dict[str, int]:
        return {"n": n}

    with ThreadPoolExecutor(PRODUCERS) as executor:
        start = time.perf_counter()
        results = list(executor.map(call, range(requests)))
        elapsed = time.perf_counter() - start
    assert len(results) == requests
    return requests / elapsed


def raw_ask_round(asks: int) -> float:
    ref = RawAnswering.start()
    start = time.perf_counter()
    for _ in range(asks):
        ref.ask({"kind": "ping", "run_id": "bench", "task_id": "t", "call_id": "c"}, timeout=10)
    elapsed = time.perf_counter() - start
    ref.stop()
    return asks / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000, help="events per bus round")
    parser.add_argument("--asks", type=int, default=20_000, help="round trips per ask round")
    parser.add_argument("--pool-requests", type=int, default=10_000, help="requests per pool round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    bus_rates, raw_rates, typed_rates, raw_ask_rates, pool_rates, bare_rates = [], [], [], [], [], []
    actor_rates: list[float] = []
    for round_no in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="orchestrate-bench-") as tmp:
            bus_rate, rows = bus_round(Path(tmp), args.events)
            raw_rate = raw_round(Path(tmp), rows)
        typed_rate = typed_ask_round(args.asks)
        raw_ask_rate = raw_ask_round(args.asks)
        pool_rate = pool_round(args.pool_requests)
        bare_rate = bare_pool_round(args.pool_requests)
        actor_rates.append(actor_pool_round(args.pool_requests))
        pool_rates.append(pool_rate)
        bare_rates.append(bare_rate)
        bus_rates.append(bus_rate)
        raw_rates.append(raw_rate)
        typed_rates.append(typed_rate)
        raw_ask_rates.append(raw_ask_rate)
        print(
            f"round {round_no}: bus {bus_rate:,.0f} ev/s, raw sqlite {raw_rate:,.0f} rows/s, "
            f"typed ask {typed_rate:,.0f}/s, raw ask {raw_ask_rate:,.0f}/s, "
            f"pool {pool_rate:,.0f}/s, bare pool {bare_rate:,.0f}/s",
            flush=True,
        )

    bus = statistics.median(bus_rates)
    raw = statistics.median(raw_rates)
    typed = statistics.median(typed_rates)
    raw_ask = statistics.median(raw_ask_rates)
    result = {
        "bus_events_per_s": round(bus),
        "raw_sqlite_rows_per_s": round(raw),
        "bus_vs_raw": round(bus / raw, 3),
        "typed_ask_per_s": round(typed),
        "raw_ask_per_s": round(raw_ask),
        "ask_overhead": round(raw_ask / typed, 3),
        "pool_per_s": round(statistics.median(pool_rates)),
        "bare_pool_per_s": round(statistics.median(bare_rates)),
        "pool_overhead": round(statistics.median(bare_rates) / statistics.median(pool_rates), 3),
        "actor_pool_per_s": round(statistics.median(actor_rates)),
        "pool_vs_actors": round(statistics.median(actor_rates) / statistics.median(pool_rates), 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
