"""The domain runner: asks a domain scenario of an assistant HTTP API, step by step, in one session.

For each step it fills the question's placeholders from earlier answers and the session read
back, sends it (``[assistant] message_path``), reads the answer through the field mapping,
reads the session back (``session_path``), checks every expectation and gives the step its
status (``accepted``, ``partial``, ``needs_exact_capability`` or ``blocked``). It writes the
scenario's artifacts (:class:`ScenarioFiles`: exactly the file names of the improvement loop)
and tells each step to the event bus as ``trajectory.*`` events::

    from orchestrator.agents.domain_runner import AskSettings, run_domain_scenario

    with httpx.Client() as client:
        run = run_domain_scenario(scenario, client=client, settings=AskSettings(url, section),
                                  directory=out, evidence_root=out)
    run.status, run.outcomes       # the scenario's worst step status, and each step for the analyst

:class:`DomainRunner` is the same as a worker actor (capability :data:`RUN_DOMAIN_SCENARIO`).
"""

from __future__ import annotations

from orchestrator.agents.domain_runner._checks import capability_signalled, check_expectations, step_status
from orchestrator.agents.domain_runner._contracts import (
    RUN_DOMAIN_SCENARIO,
    DomainScenarioDone,
    DomainScenarioRequest,
)
from orchestrator.agents.domain_runner._files import (
    MAX_KEPT_BYTES,
    MAX_KEPT_TEXT,
    SCHEMA_VERSION,
    STEP_FILES,
    ScenarioFiles,
    kept,
    markdown_cell,
)
from orchestrator.agents.domain_runner._scenario import ScenarioRun, answer_request, run_domain_scenario
from orchestrator.agents.domain_runner._step import AskSettings, StepRun, ask_step
from orchestrator.agents.domain_runner._worker import DomainRunner

__all__ = [
    "MAX_KEPT_BYTES",
    "MAX_KEPT_TEXT",
    "RUN_DOMAIN_SCENARIO",
    "SCHEMA_VERSION",
    "STEP_FILES",
    "AskSettings",
    "DomainRunner",
    "DomainScenarioDone",
    "DomainScenarioRequest",
    "ScenarioFiles",
    "ScenarioRun",
    "StepRun",
    "answer_request",
    "ask_step",
    "capability_signalled",
    "check_expectations",
    "kept",
    "markdown_cell",
    "run_domain_scenario",
    "step_status",
]
