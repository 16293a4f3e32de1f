"""The contract between the pack conductor and its domain runners: one scenario in, its outcome out."""

from __future__ import annotations

from pydantic import Field

from orchestrator.actors import Capability, ContractModel
from orchestrator.agents.analyst import StepOutcome
from orchestrator.packs import DomainScenario, StepStatus

__all__ = ["RUN_DOMAIN_SCENARIO", "DomainScenarioDone", "DomainScenarioRequest"]


class DomainScenarioRequest(ContractModel):
    """One scenario to ask in a session of its own, and where its files go."""

    run_id: str
    scenario: DomainScenario
    base_url: str = Field(description="Where the assistant answers now (it may move when restarted).")
    directory: str = Field(description="The scenario's artifacts folder (absolute).")
    evidence_root: str = Field(description="Evidence paths are relative to this folder (absolute).")


class DomainScenarioDone(ContractModel):
    """The scenario as it ran: its status, its session and every step's outcome."""

    scenario_id: str
    status: StepStatus
    session_id: str | None
    outcomes: list[StepOutcome]
    duration_ms: float


RUN_DOMAIN_SCENARIO = Capability("run_domain_scenario", DomainScenarioRequest, DomainScenarioDone)
