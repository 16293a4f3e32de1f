"""The domain runner on Ray: a pack's scenarios asked from Ray actors (``pack --backend ray``).

:class:`RayDomainRunner` offers the ``run_domain_scenario`` contract like the local
:class:`~orchestrator.agents.domain_runner.DomainRunner`, so a pack run on Ray differs from a
local one only in the runner class of its pool: the run dir, the event bus, the analyst and the
coder stay in the driver process. Each runner has one :class:`DomainActor` (one HTTP client for
its life, its cookies cleared before each scenario, as a scenario is a session of its own) and
sends it each request as JSON. The actor asks the scenario with a recording ``emit`` and sends
back the outcome with the scenario's ``trajectory.*`` events in one batch; the runner re-emits
them on the bus, so a run's events are those of a local run and nothing per event crosses Ray.

The actor writes the scenario's artifacts itself, on its node, at the request's directory: on a
local Ray instance, or on a cluster whose nodes share the project's folder (the same path on
every node, e.g. a network filesystem), that is the run's artifacts folder. The assistant must be
reachable from every node at the URL the run gives (a loopback URL only works on one machine).

Faults: when the actor dies mid-scenario (killed, its process crashed, its node removed), the
runner starts a new actor and asks the scenario once more (its files are rewritten from the
start). When that actor is lost too, the scenario's steps are ``blocked`` with both causes. A
cancelled runner asks its actor to stop, so the steps not yet asked are ``blocked``; an actor
that does not answer within a grace period is killed. Stopping the runner kills its actor.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import httpx
import structlog

from orchestrator.actors import Done, Worker
from orchestrator.agents.domain_runner import (
    RUN_DOMAIN_SCENARIO,
    AskSettings,
    DomainScenarioDone,
    DomainScenarioRequest,
    answer_request,
)
from orchestrator.config import AssistantSection, RaySection
from orchestrator.messages import WorkRequest
from orchestrator.pipelines.pack import blocked_scenario
from orchestrator.ray_backend._remote import ActorLostError, CallCancelledError, RemoteActor, start_actor

__all__ = ["DomainActor", "RayDomainRunner", "start_domain_actor"]

log = structlog.get_logger(__name__)


def _settings_json(settings: AskSettings) -> dict[str, Any]:
    return {
        "base_url": settings.base_url,
        "assistant": settings.assistant.model_dump(mode="json", exclude_unset=True),
        "headers": dict(settings.headers),
        "secrets": list(settings.secrets),
    }


def _settings(document: dict[str, Any]) -> AskSettings:
    return AskSettings(
        base_url=document["base_url"],
        assistant=AssistantSection.model_validate(document["assistant"]),
        headers=document["headers"],
        secrets=tuple(document["secrets"]),
    )


def _node_label() -> str:
    """``ray-<node ip>-<node id>``: the node this process runs on, as slot names give it."""
    import ray

    ip: str = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
    return f"ray-{ip}-{ray.get_runtime_context().get_node_id()[:8]}"


class DomainActor:
    """A domain runner in a Ray worker process: asks one scenario at a time (see the module docstring).

    It runs two threads (``max_concurrency=2``): one asks scenarios, the other answers
    :meth:`cancel`, :meth:`node` and :meth:`stop` meanwhile.
    """

    def __init__(self, settings_json: dict[str, Any]) -> None:
        self.settings = _settings(settings_json)
        self.client = httpx.Client(follow_redirects=False)
        self._cancelled = threading.Event()

    def node(self) -> dict[str, Any]:
        """Where this actor runs: its node's label (``ray-<ip>-<node id>``) and its process id."""
        return {"node": _node_label(), "pid": os.getpid()}

    def run(self, request_json: dict[str, Any]) -> dict[str, Any]:
        """Ask one scenario; its outcome, its events (``[type, payload]`` pairs) and the node."""
        self._cancelled = threading.Event()
        request = DomainScenarioRequest.model_validate(request_json)
        events: list[list[Any]] = []

        def record(event_type: str, **payload: Any) -> None:
            events.append([event_type, payload])

        done = answer_request(
            request, client=self.client, settings=self.settings, emit=record, cancelled=self._cancelled.is_set
        )
        return {
            "done": done.model_dump(mode="json", exclude_unset=True),
            "events": events,
            "node": _node_label(),
        }

    def cancel(self) -> None:
        """Ask the scenario in progress to stop before its next step."""
        self._cancelled.set()

    def stop(self) -> None:
        """Close the HTTP client before the actor goes."""
        self._cancelled.set()
        self.client.close()


def start_domain_actor(settings: AskSettings, *, name: str, num_cpus: float) -> Any:
    """Start a :class:`DomainActor` on the cluster and return its handle (it starts asynchronously).

    Actors are spread over the nodes and never restarted by Ray: a lost actor is the runner's to
    replace, because only the runner knows which scenario it was asking.
    """
    return start_actor(DomainActor, _settings_json(settings), name=name, num_cpus=num_cpus)


class RayDomainRunner(Worker):
    """Asks domain scenarios on a Ray actor of its own (see the module docstring)."""

    worker_type = "domain-runner"
    capabilities = RUN_DOMAIN_SCENARIO.declare()

    def __init__(self, *, settings: AskSettings, ray: RaySection | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.ray_settings = ray or RaySection()
        self._remote = RemoteActor(
            lambda n: start_domain_actor(
                settings, name=f"{self.name}-{n}", num_cpus=self.ray_settings.num_cpus_per_slot
            ),
            what="domain actor",
            owner=self.name,
        )

    def handle(self, request: WorkRequest, params: DomainScenarioRequest) -> Done[DomainScenarioDone]:
        done = self._run(params)
        return Done(done, summary=f"{done.scenario_id}: {done.status} ({len(done.outcomes)} steps)")

    def on_stop(self) -> None:
        self._remote.drop(graceful=True)

    def on_failure(self, *exc_info: Any) -> None:
        self._remote.drop(graceful=False)

    # --- running -------------------------------------------------------------------------------

    def _run(self, params: DomainScenarioRequest) -> DomainScenarioDone:
        request_json = params.model_dump(mode="json", exclude_unset=True)
        scenario = params.scenario
        try:
            try:
                answer = self._attempt(request_json)
            except ActorLostError as first:
                log.warning("domain actor lost; asking again", scenario=scenario.id, cause=str(first))
                self.progress(
                    f"the domain actor of {self.name} was lost ({first}); asking {scenario.id} again",
                    scenario_id=scenario.id,
                    rerun=True,
                )
                try:
                    answer = self._attempt(request_json)
                except ActorLostError as second:
                    return blocked_scenario(
                        scenario,
                        f"the domain actor was lost twice: first {first}; then, on a new actor, {second}",
                    )
        except CallCancelledError:
            return blocked_scenario(scenario, "cancelled before the domain actor answered")
        for event_type, payload in answer["events"]:
            self.emit(event_type, **payload)
        done = DomainScenarioDone.model_validate(answer["done"])
        self.progress(
            f"{done.scenario_id}: {done.status} on {answer['node']}",
            scenario_id=done.scenario_id,
            status=done.status,
            node=answer["node"],
        )
        return done

    def _attempt(self, request_json: dict[str, Any]) -> dict[str, Any]:
        """Ask on the current actor (started if needed); :class:`ActorLostError` if it dies."""
        answer: dict[str, Any] = self._remote.call(request_json, self.cancelled)
        return answer
