"""The domain runner as a worker actor: capability ``run_domain_scenario``.

One runner asks one scenario at a time in a session of its own; a pack run at ``--parallel N``
has N of them, sharing one assistant. Each keeps one HTTP client (a connection pool) for its
life and closes it when it stops.
"""

from __future__ import annotations

from typing import Any

import httpx

from orchestrator.actors import Done, Worker
from orchestrator.agents.domain_runner._contracts import (
    RUN_DOMAIN_SCENARIO,
    DomainScenarioDone,
    DomainScenarioRequest,
)
from orchestrator.agents.domain_runner._scenario import answer_request
from orchestrator.agents.domain_runner._step import AskSettings
from orchestrator.messages import WorkRequest

__all__ = ["DomainRunner"]


class DomainRunner(Worker):
    """Asks domain scenarios of the assistant ``settings`` describe (at the request's ``base_url``)."""

    worker_type = "domain-runner"
    capabilities = RUN_DOMAIN_SCENARIO.declare()

    def __init__(self, *, settings: AskSettings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = settings
        self._client = httpx.Client(follow_redirects=False)

    def handle(self, request: WorkRequest, params: DomainScenarioRequest) -> Done[DomainScenarioDone]:
        done = answer_request(
            params,
            client=self._client,
            settings=self._settings,
            emit=self.emit,
            cancelled=self.cancelled.is_set,
        )
        return Done(done, summary=f"{done.scenario_id}: {done.status} ({len(done.outcomes)} steps)")

    def on_stop(self) -> None:
        self._client.close()

    def on_failure(self, *exc_info: Any) -> None:
        self._client.close()
