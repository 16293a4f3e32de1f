"""Helpers shared by the twin tests: a sample project twin and the binomial interval."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.twins import RunningTwins

ServeFn = Callable[..., RunningTwins]
"""The type of the ``serve`` fixture: start twins, stopped when the test ends."""


def binomial_interval(n: int, p: float, level: float = 0.99) -> tuple[int, int]:
    """The central ``level`` interval of Binomial(n, p): counts outside it happen < 1 - level of the time."""
    if p <= 0:
        return 0, 0
    if p >= 1:
        return n, n
    tail = (1 - level) / 2
    log_p, log_q = math.log(p), math.log1p(-p)
    cumulative, low, high = 0.0, None, n
    for k in range(n + 1):
        log_pmf = (
            math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q
        )
        cumulative += math.exp(log_pmf)
        if low is None and cumulative >= tail:
            low = k
        if cumulative >= 1 - tail:
            high = k
            break
    return (low or 0), high


MANIFEST: dict[str, Any] = {
    "name": "billing",
    "description": "A made-up billing API",
    "base_path": "/v2",
    "auth": {
        "type": "api_key",
        "header": "X-Api-Key",
        "valid_tokens": ["key-1"],
        "expired_tokens": ["key-0"],
    },
    "entities": {"invoices": {"id_field": "id", "fields": {"amount": "integer"}, "required": ["amount"]}},
}
ROUTES = """
routes:
  - id: list_invoices
    method: GET
    path: /invoices
    action: list
    entity: invoices
    filters:
      - {param: status, field: status}
  - id: create_invoice
    method: POST
    path: /invoices
    action: create
    entity: invoices
    input:
      amount: {type: integer, required: true}
      status: {type: string, enum: [draft, sent], default: draft}
    set: {id: $seq, created_by: $principal}
  - id: get_invoice
    method: GET
    path: /invoices/{invoice_id:int}
    action: read
    entity: invoices
  - id: delete_invoice
    method: DELETE
    path: /invoices/{invoice_id:int}
    action: delete
    entity: invoices
"""


def write_twin(
    folder: Path, manifest: dict[str, Any] | None = None, routes: str | None = ROUTES, **files: str
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "twin.json").write_text(
        json.dumps(manifest if manifest is not None else MANIFEST), encoding="utf-8"
    )
    if routes is not None:
        (folder / "routes.yaml").write_text(textwrap.dedent(routes), encoding="utf-8")
    for name, text in files.items():
        (folder / name.replace("__", ".")).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder
