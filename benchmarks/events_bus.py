"""Event bus and typed ask throughput, each against its plain baseline, measured in one run.

1. ``bus_events_per_s``: events emitted from 4 threads through the event bus into a run's JSONL
   and the SQLite index (real schema and indexes), from the first emit until the flush returns.
   Baseline ``raw_sqlite_rows_per_s``: a plain loop inserting the same rows (taken from the
   index the bus just wrote) in batches of 500 into a fresh database with the same schema.
2. ``typed_ask_per_s``: round trips of our typed ask (frozen pydantic message, dispatch by type,
   correlation bound while handling; no events). Baseline ``raw_ask_per_s``: pykka's own ask with
   a dict message to an actor that returns at once.

Each figure is the median of ``--rounds`` rounds. The last line is one JSON object.

    python benchmarks/events_bus.py [--events 100000] [--asks 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pykka

from orchestrator.actors import TypedActor, handles, spawn
from orchestrator.correlation import correlation_scope
from orchestrator.events import EventBus
from orchestrator.events._store import INSERT_ROW_SQL, apply_schema
from orchestrator.messages import Ping, Pong

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


class Answering(TypedActor):
    @handles(Ping)
    def answer(self, message: Ping) -> Pong:
        return Pong(actor=self.name, **message.correlated())


class RawAnswering(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        return {"kind": "pong", "run_id": message["run_id"]}


def typed_ask_round(asks: int) -> float:
    actor = spawn(Answering)
    message = Ping(run_id="bench", task_id="t", call_id="c")
    start = time.perf_counter()
    for _ in range(asks):
        actor.ask(message, timeout=10)
    elapsed = time.perf_counter() - start
    actor.stop()
    return asks / elapsed


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
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    bus_rates, raw_rates, typed_rates, raw_ask_rates = [], [], [], []
    for round_no in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="orchestrate-bench-") as tmp:
            bus_rate, rows = bus_round(Path(tmp), args.events)
            raw_rate = raw_round(Path(tmp), rows)
        typed_rate = typed_ask_round(args.asks)
        raw_ask_rate = raw_ask_round(args.asks)
        bus_rates.append(bus_rate)
        raw_rates.append(raw_rate)
        typed_rates.append(typed_rate)
        raw_ask_rates.append(raw_ask_rate)
        print(
            f"round {round_no}: bus {bus_rate:,.0f} ev/s, raw sqlite {raw_rate:,.0f} rows/s, "
            f"typed ask {typed_rate:,.0f}/s, raw ask {raw_ask_rate:,.0f}/s",
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
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
