"""Packs of domain scenarios, asked of an assistant HTTP API: the files users write, and reading them.

A **domain scenario** (a ``*.scenario.yaml`` file with ``kind: domain``, or written inline in a
pack) is a brief and steps asked in order in one session of the assistant::

    kind: domain
    id: stock-check                  # kebab-case, 3-50 characters
    brief: A store manager checks stock before ordering.
    persona: {role: store manager, expertise: novice, goals: [order in time]}   # optional
    steps:                           # at least one
      - id: step_01_inventory        # letters, digits, _ and -
        question: What is low on stock?
        expect:
          - {route: inventory_lookup}
          - {path: "$.entries[*]", count: {min: 1}}
      - id: step_02_order
        question: Order more {{step_01_inventory.entries[0].item}} for {{semantic_memory.store}}.
        decision: true               # optional: the answer is a decision for the user
        expect:
          - {contains: ordered}
          - {evidence: 1, category: presentation}

Each **expect** item is exactly one of ``{contains: TEXT}``, ``{not_contains: TEXT}`` (the
answer's text), ``{path: JSONPATH, equals: V}``, ``{path: JSONPATH, exists: BOOL}``,
``{path: JSONPATH, count: N | {min, max}}`` (JSONPath into the answer's ``data``),
``{route: NAME}``, ``{evidence: N}`` (at least N sources) and ``{max_ms: N}``, each with an
optional ``category`` (``route``, ``evidence`` or ``presentation``) a failure counts against;
by default ``route`` for route items, ``evidence`` for evidence items and ``presentation`` for
the rest (:attr:`effective_category`).

**Placeholders** in a question are filled before it is asked: ``{{STEP.PATH}}`` is a JSONPath
into an earlier step's answer data (``{{step_01_inventory.entries[0].item}}``),
``{{STEP.text}}`` its text, and a root that names no step is a field of the session read back
(``{{semantic_memory.active_result_set_id}}``). When the file is read, a placeholder naming a
step must name an earlier one, its path must compile, and no ``{{`` may be left unclosed; when
a step runs, one that finds nothing raises :class:`UnresolvedPlaceholderError` and the step is
``blocked``.

A **pack** (``*.pack.yaml``) groups scenarios of one domain for the improvement loop::

    id: retail-basics
    domain: retail
    gate: 80                         # optional, 0-100: the score that ends the loop
    max_iterations: 5                # optional, at least 1
    scenarios:
      - stock-check.scenario.yaml    # a path relative to the pack file
      - id: returns                  # or a scenario inline (kind: domain may be left out)
        brief: A customer returns an item.
        steps:
          - {id: step_01, question: "How do I return this?", expect: [{contains: receipt}]}

Scenario ids are unique across a pack. :func:`load_pack` reads a pack and the files it
references and raises :class:`PackError` listing every problem with its file, line, field and
fix. A **case** (``orchestrate case "question" --expect contains:TEXT``) is one question as a
one-step scenario (:func:`case_scenario`, the ``--expect`` syntax in :func:`parse_expect`).

A step or scenario ends ``accepted``, ``partial``, ``needs_exact_capability`` or ``blocked``
(:data:`StepStatus`; :func:`worst` and :func:`exit_code`).
"""

from __future__ import annotations

from orchestrator.packs._case import CASE_STEP_ID, EXPECT_SYNTAX, case_scenario, parse_expect
from orchestrator.packs._expect import (
    EXPECT_KINDS,
    ContainsExpect,
    EvidenceExpect,
    ExpectCategory,
    ExpectItem,
    MaxMsExpect,
    NotContainsExpect,
    PathExpect,
    RouteExpect,
    expect_kind,
)
from orchestrator.packs._load import (
    PACK_SUFFIX,
    SCENARIO_SUFFIX,
    Pack,
    PackError,
    load_domain_scenario,
    load_pack,
)
from orchestrator.packs._model import (
    DEFAULT_GATE,
    DEFAULT_MAX_ITERATIONS,
    DomainScenario,
    DomainStep,
    PackFile,
    ScenarioIssue,
    scenario_problems,
)
from orchestrator.packs._placeholders import (
    Placeholder,
    StepAnswer,
    UnresolvedPlaceholderError,
    placeholder_problems,
    placeholders,
    resolve,
)
from orchestrator.packs._status import STATUS_ORDER, StepStatus, exit_code, worst

__all__ = [
    "CASE_STEP_ID",
    "DEFAULT_GATE",
    "DEFAULT_MAX_ITERATIONS",
    "EXPECT_KINDS",
    "EXPECT_SYNTAX",
    "PACK_SUFFIX",
    "SCENARIO_SUFFIX",
    "STATUS_ORDER",
    "ContainsExpect",
    "DomainScenario",
    "DomainStep",
    "EvidenceExpect",
    "ExpectCategory",
    "ExpectItem",
    "MaxMsExpect",
    "NotContainsExpect",
    "Pack",
    "PackError",
    "PackFile",
    "PathExpect",
    "Placeholder",
    "RouteExpect",
    "ScenarioIssue",
    "StepAnswer",
    "StepStatus",
    "UnresolvedPlaceholderError",
    "case_scenario",
    "exit_code",
    "expect_kind",
    "load_domain_scenario",
    "load_pack",
    "parse_expect",
    "placeholder_problems",
    "placeholders",
    "resolve",
    "scenario_problems",
    "worst",
]
