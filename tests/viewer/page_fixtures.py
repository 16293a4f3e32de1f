"""Documents in the viewer API's JSON shapes, for testing the page against a fake API.

Each document is built from one list of steps (a delegation, a worker task, an LLM call, a tool
call), so the run summary, the delegation bands, the lifecycles, the call cards, the grid cells
and the events agree on every ``seq`` the way the real API's documents do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HOSTILE_TEXT",
    "Step",
    "detail_document",
    "long_detail",
    "pack_loop_detail",
    "run_summary",
    "scenario_detail",
    "seeded_detail",
    "seeded_runs",
]

HOSTILE_TEXT = "<script>window.__viewerInjected = true</script><b>not bold</b>"
"""User text that must show literally (a worker's objective, a finding, an event payload)."""

_STARTED = "2026-02-03T10:00:00.000000+00:00"
_WORST = {"failed": 3, "blocked": 2, "inflight": 1, "completed": 0}
_ROW_ORDER = ("llm:", "conductor-tool:", "tool:", "worker:", "delegation:")


def run_summary(run_id: str, **fields: Any) -> dict[str, Any]:
    """A RunSummary with plausible values; ``fields`` override any of them."""
    summary: dict[str, Any] = {
        "run_id": run_id,
        "kind": "ui",
        "target": "http://127.0.0.1:8000",
        "status": "completed",
        "started_at": _STARTED,
        "duration_ms": 42_300,
        "event_count": 120,
        "worker_calls": 3,
        "capability_failures": 0,
        "worker_count": 2,
        "total_tokens": 12_800,
        "sparkline": [((i * 7) % 11) + 1 for i in range(20)],
    }
    summary.update(fields)
    return summary


def seeded_runs() -> list[dict[str, Any]]:
    """The run list: every status and several kinds, newest first."""
    return [
        run_summary("run-0004-live", kind="scenario", status="in_progress", duration_ms=None),
        run_summary("run-0003-seeded", status="failed", capability_failures=1, worker_calls=4),
        run_summary("run-0002-pack", kind="pack_loop", target=None, worker_calls=0, worker_count=0),
        run_summary("run-0001-old", kind="custom", status="interrupted", total_tokens=0, target=None),
    ]


@dataclass(frozen=True)
class Step:
    """One grid-worthy event group: its row key, outcome and measures."""

    row: str
    status: str
    duration_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    call_id: str | None = None
    task_id: str | None = None
    worker_id: str | None = None
    text: str = ""
    loop_boundary: bool = False
    chips: tuple[tuple[str, str], ...] = ()
    """A worker task's lifecycle: (kind, text) per ``worker.task.*`` event, one seq each."""

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def _row_rank(key: str) -> tuple[int, str]:
    return next(i for i, prefix in enumerate(_ROW_ORDER) if key.startswith(prefix)), key


def _event(seq: int, event_type: str, actor: str, run_id: str, **payload: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "event_id": f"ev-{seq:06d}",
        "timestamp": f"2026-02-03T10:00:{seq % 60:02d}.000000+00:00",
        "event_type": event_type,
        "actor": actor,
        "run_id": run_id,
        "task_id": payload.get("task_id"),
        "call_id": payload.get("call_id"),
        "trace_id": None,
        "tool_trace_id": None,
        "payload": payload,
    }


def _grid(steps: list[Step], seqs: list[int], bucket: int) -> dict[str, Any]:
    """The Grid: one column per step, or per ``ceil(steps / bucket)`` steps past ``bucket``."""
    size = max(1, math.ceil(len(steps) / bucket))
    rows = sorted({step.row for step in steps}, key=_row_rank)
    columns = []
    cells: dict[tuple[str, int], dict[str, Any]] = {}
    for index in range(math.ceil(len(steps) / size)):
        span = range(index * size, min(len(steps), (index + 1) * size))
        columns.append(
            {
                "index": index,
                "step_from": span[0],
                "step_to": span[-1],
                "loop_boundary": any(steps[i].loop_boundary for i in span),
            }
        )
        for i in span:
            step = steps[i]
            cell = cells.get((step.row, index))
            if cell is not None and _WORST[cell["status"]] >= _WORST[step.status]:
                continue
            cells[(step.row, index)] = {
                "row": step.row,
                "column": index,
                "status": step.status,
                "duration_ms": step.duration_ms,
                "tokens": step.tokens if step.row.startswith("llm:") else None,
                "seq": seqs[i],
                "step_from": span[0],
                "step_to": span[-1],
            }
    return {
        "rows": [{"key": key} for key in rows],
        "columns": columns,
        "bucket_size": size,
        "steps": len(steps),
        "cells": list(cells.values()),
    }


def detail_document(
    summary: dict[str, Any], steps: list[Step], *, job: dict[str, Any] | None = None, bucket: int = 80
) -> dict[str, Any]:
    """The ``GET /runs/{run_id}`` document for ``steps`` (seq 1 is ``conductor.task.started``)."""
    run_id = summary["run_id"]
    events = [_event(1, "conductor.task.started", "conductor", run_id, objective="check the app")]
    delegations: list[dict[str, Any]] = []
    lifecycles: dict[str, dict[str, Any]] = {}
    llm_calls: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    seqs: list[int] = []
    seq = 1
    for step in steps:
        seq += 1
        seqs.append(seq)
        kind, _, name = step.row.partition(":")
        if kind == "delegation":
            events.append(
                _event(
                    seq, "conductor.worker.call", "conductor", run_id, worker_type=name, call_id=step.call_id
                )
            )
            delegations.append(
                {
                    "call_id": step.call_id,
                    "worker_type": name,
                    "objective": step.text,
                    "objective_short": step.text[:200],
                    "seq": seq,
                    "end_seq": None if step.status == "inflight" else seq + 1,
                    "outcome": step.status,
                    "duration_ms": step.duration_ms,
                    "task_id": step.task_id,
                    "worker_id": step.worker_id,
                }
            )
        elif kind == "worker":
            worker_type = next((d["worker_type"] for d in delegations if d["call_id"] == step.call_id), None)
            life = {
                "task_id": step.task_id,
                "worker_id": name,
                "worker_type": worker_type,
                "call_id": step.call_id,
            }
            chips = []
            for index, (chip_kind, text) in enumerate(step.chips):
                seq += index > 0
                events.append(
                    _event(seq, f"worker.task.{chip_kind}", name, run_id, task_id=step.task_id, text=text)
                )
                chips.append({"kind": chip_kind, "seq": seq, "text": text, "detail": {"text": text}})
            lifecycles[step.task_id or name] = {**life, "chips": chips}
        elif kind == "llm":
            events.append(
                _event(seq, f"llm.call.{step.status}", name, run_id, input_tokens=step.input_tokens)
            )
            llm_calls.append(
                {
                    "seq": seq,
                    "actor": name,
                    "model": "gpt-4o-mini",
                    "provider": "openai",
                    "status": step.status,
                    "duration_ms": step.duration_ms,
                    "input_tokens": step.input_tokens,
                    "output_tokens": step.output_tokens,
                    "cached_tokens": step.cached_tokens,
                    "slow": (step.duration_ms or 0) > 5000,
                }
            )
        else:
            events.append(
                _event(seq, "worker.tool.result", "worker", run_id, tool=name, ok=step.status != "failed")
            )
            tool_calls.append(
                {
                    "seq": seq,
                    "actor": "conductor" if kind == "conductor-tool" else "worker",
                    "tool": name,
                    "row": step.row,
                    "status": step.status,
                    "duration_ms": step.duration_ms,
                    "slow": (step.duration_ms or 0) > 5000,
                }
            )
    return {
        "run": summary,
        "pills": {
            "calls": summary["worker_calls"],
            "failures": summary["capability_failures"],
            "tokens": summary["total_tokens"],
            "duration_ms": summary["duration_ms"],
        },
        "delegations": delegations,
        "lifecycles": list(lifecycles.values()),
        "llm_calls": llm_calls,
        "tool_calls": tool_calls,
        "events": events,
        "events_truncated": False,
        "graph": _graph(delegations, list(lifecycles.values())),
        "grid": _grid(steps, seqs, bucket),
        "job": job,
    }


def _graph(delegations: list[dict[str, Any]], lifecycles: list[dict[str, Any]]) -> dict[str, Any]:
    nodes = [{"id": "conductor", "kind": "conductor", "label": "conductor", "status": "inflight"}]
    edges = []
    for band in delegations:
        node_id = f"type:{band['worker_type']}"
        if all(node["id"] != node_id for node in nodes):
            nodes.append(
                {
                    "id": node_id,
                    "kind": "worker_type",
                    "label": band["worker_type"],
                    "status": band["outcome"],
                }
            )
            edges.append({"source": "conductor", "target": node_id, "status": band["outcome"]})
        if band["worker_id"]:
            worker = f"worker:{band['worker_id']}"
            nodes.append(
                {"id": worker, "kind": "worker", "label": band["worker_id"], "status": band["outcome"]}
            )
            edges.append({"source": node_id, "target": worker, "status": band["outcome"]})
    assert {life["worker_id"] for life in lifecycles} <= {n["label"] for n in nodes}
    return {"nodes": nodes, "edges": edges}


def seeded_detail(run_id: str = "run-0003-seeded") -> dict[str, Any]:
    """A run with every element the page draws: each band outcome, chip kind, cell status, slow calls."""
    steps = [
        Step(
            "delegation:ui_evaluator",
            "completed",
            9_000,
            call_id="c1",
            task_id="t1",
            worker_id="w1",
            text=HOSTILE_TEXT + " " + "x" * 300,
        ),
        Step(
            "worker:w1",
            "completed",
            8_200,
            task_id="t1",
            call_id="c1",
            chips=(
                ("started", "check the home page"),
                ("progress", "reading the page"),
                ("finding", "the button has no label"),
                ("learning", HOSTILE_TEXT),
                ("completed", "3 findings"),
            ),
        ),
        Step("llm:ui_evaluator", "completed", 1_200, 1_000, 300, 200),
        Step("tool:browser.click", "completed", 300),
        Step("tool:browser.goto", "failed", 7_000),
        Step("llm:ui_evaluator", "completed", 6_400, 3_400, 800, 1_200),
        Step(
            "delegation:analyst",
            "failed",
            2_100,
            call_id="c2",
            task_id="t2",
            worker_id="w2",
            text="analyse the findings",
            loop_boundary=True,
        ),
        Step(
            "worker:w2",
            "failed",
            1_900,
            task_id="t2",
            call_id="c2",
            chips=(
                ("started", "analyse"),
                ("progress", "asking the model"),
                ("failed", "the model refused"),
            ),
        ),
        Step("conductor-tool:report.write", "completed", 50),
        Step("llm:conductor", "inflight", None, 0, 0, 0),
        Step("delegation:fixer", "blocked", 10, call_id="c3", text="fix the button", loop_boundary=True),
        Step("tool:browser.click", "completed", 2_600),
        Step("delegation:planner", "inflight", None, call_id="c4", text="plan the next pass"),
    ]
    summary = run_summary(run_id, status="failed", capability_failures=1, worker_calls=4, total_tokens=6_500)
    job = {
        "kind": "ui",
        "findings": [
            {
                "title": HOSTILE_TEXT,
                "severity": "high",
                "description": "The submit button has no accessible name.",
                "recommendation": "Add an aria-label.",
                "locator": "button#submit",
                "evidence_path": "artifacts/ui/home.png",
            }
        ],
        "report": "artifacts/ui/report.md",
        "traces": ["artifacts/ui/trace-home.zip", " java\tscript:document.title='PWNED'"],
        "screenshots": [{"name": "home", "path": "captures/home.png", "ok": True}],
        "problems": ["captures/about.json could not be read: not JSON"],
    }
    return detail_document(summary, steps, job=job)


def long_detail(run_id: str = "run-0005-long", steps: int = 120) -> dict[str, Any]:
    """A run of ``steps`` tool and LLM steps: past 80 the grid buckets its columns."""
    statuses = ["completed"] * steps
    statuses[7] = "failed"
    statuses[40] = "blocked"
    statuses[97] = "inflight"
    plan = [
        Step("tool:read" if i % 2 else "llm:worker", status, 100.0 + 50 * i, 10 * i, 5 * i)
        for i, status in enumerate(statuses)
    ]
    return detail_document(run_summary(run_id, status="completed"), plan)


def _few_steps() -> list[Step]:
    return [Step("llm:judge", "completed", 800, 400, 60), Step("tool:http.get", "completed", 120)]


def scenario_detail(run_id: str = "run-0006-scenario") -> dict[str, Any]:
    """A scenario run: trajectories per scenario with verdicts, one under chaos."""
    job = {
        "kind": "scenario",
        "scenarios": [
            {
                "id": "refund-request",
                "trajectories": [
                    {
                        "id": "refund-request-0",
                        "verdict": "satisfactory",
                        "chaos": False,
                        "status": "completed",
                        "duration_ms": 1_400,
                    },
                    {
                        "id": "refund-request-1",
                        "verdict": "unsatisfactory",
                        "chaos": True,
                        "status": "completed",
                        "duration_ms": 2_100,
                    },
                ],
            },
            {
                "id": "order-status",
                "trajectories": [
                    {
                        "id": "order-status-0",
                        "verdict": None,
                        "chaos": False,
                        "status": "failed",
                        "duration_ms": None,
                    }
                ],
            },
        ],
        "problems": [],
    }
    return detail_document(run_summary(run_id, kind="scenario"), _few_steps(), job=job)


def pack_loop_detail(run_id: str = "run-0002-pack") -> dict[str, Any]:
    """A pack loop: a score per iteration and why it stopped."""
    job = {
        "kind": "pack_loop",
        "directory": "runs/run-0002-pack",
        "iterations": [
            {"n": 1, "score": 0.42, "status": "completed"},
            {"n": 2, "score": 0.61, "status": "completed"},
            {"n": 3, "score": 0.6, "status": "completed"},
        ],
        "stop_reason": "plateau",
        "stop_detail": "no gain over 0.02 in 2 iterations",
        "problems": [],
    }
    return detail_document(run_summary(run_id, kind="pack_loop", target=None), _few_steps(), job=job)
