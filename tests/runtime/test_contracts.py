"""Typed capability contracts: the worker base validates requests and results; conductors get models."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import Field

from orchestrator.actors import Capability, Conductor, ContractModel, Done, Worker, run_conductor
from orchestrator.errors import EscalationError
from orchestrator.messages import MESSAGE_ADAPTER, RunOutcome, StartRun, WorkRequest, WorkResult
from orchestrator.testing import CapturedEvents, capture_events


class AddRequest(ContractModel):
    numbers: list[int] = Field(min_length=1)


class AddResult(ContractModel):
    total: int


ADD = Capability("add", AddRequest, AddResult)


class Adder(Worker):
    worker_type = "adder"
    capabilities = ADD.declare()

    def handle(self, request: WorkRequest, params: AddRequest) -> Done[AddResult]:
        return Done(AddResult(total=sum(params.numbers)), summary=f"added {len(params.numbers)}")


class WrongResult(Worker):
    """Declares ``add`` but answers with the request model: an invalid result."""

    worker_type = "wrong-result"
    capabilities: ClassVar[dict[str, Any]] = {"add": (AddRequest, AddResult)}

    def handle(self, request: WorkRequest, params: AddRequest) -> Done[Any]:
        return Done(params, summary="oops")


class Untyped(Worker):
    """A worker that declares nothing keeps today's behaviour: any capability, plain params."""

    worker_type = "untyped"

    def perform(self, request: WorkRequest) -> WorkResult:
        return self.result(request, summary=f"did {request.capability}", data={"echo": request.params})


class ContractConductor(Conductor):
    """Runs one delegation from ``start.params``: worker kind, capability, params, typed or not."""

    kinds: ClassVar[dict[str, type[Worker]]] = {"adder": Adder, "wrong": WrongResult, "untyped": Untyped}
    seen: ClassVar[list[Any]] = []

    def conduct(self, start: StartRun) -> RunOutcome:
        worker = self.start_worker(self.kinds[str(start.params["kind"])], max_restarts=0)
        if start.params.get("typed"):
            done = self.delegate(worker, ADD, "add", params=AddRequest(numbers=[1, 2, 3]), timeout=10)
            ContractConductor.seen.append(done)
        else:
            params = start.params.get("params") or {}
            assert isinstance(params, dict)
            result = self.delegate(worker, str(start.params["capability"]), "go", params=params, timeout=10)
            ContractConductor.seen.append(result)
        return RunOutcome(run_id=start.run_id, status="completed", summary="done")


def conduct(tmp_path: Path, **params: Any) -> tuple[CapturedEvents, BaseException | None]:
    ContractConductor.seen.clear()
    error: BaseException | None = None
    with capture_events() as captured:
        try:
            run_conductor(
                ContractConductor,
                events=captured,
                run_id="r1",
                events_path=tmp_path / "events.jsonl",
                objective="contracts",
                params=params,
            )
        except EscalationError as exc:
            error = exc
    return captured, error


def test_a_typed_delegation_returns_the_result_model(tmp_path: Path) -> None:
    captured, error = conduct(tmp_path, kind="adder", typed=True)
    assert error is None
    (done,) = ContractConductor.seen
    assert isinstance(done, Done)
    assert done.result == AddResult(total=6)
    assert done.summary == "added 3"
    assert captured.types("conductor.capability") == ["conductor.capability.completed"]


def test_the_wire_form_stays_json(tmp_path: Path) -> None:
    request = WorkRequest(
        run_id="r", capability="add", objective="o", params=AddRequest(numbers=[1]).model_dump()
    )
    assert MESSAGE_ADAPTER.validate_json(request.model_dump_json()) == request


def test_a_misspelt_request_key_is_refused_not_dropped(tmp_path: Path) -> None:
    captured, error = conduct(tmp_path, kind="adder", capability="add", params={"numbrs": [1]})
    assert isinstance(error, EscalationError)
    failed = captured.payloads("conductor.capability.failed")
    assert [p["failure_kind"] for p in failed] == ["refused"]
    # The one explainer's shape: the field, what is wrong, and a fix.
    assert "params.numbrs" in failed[0]["error"] and "Fix:" in failed[0]["error"]
    assert captured.payloads("conductor.worker.result")[0]["success"] is False


def test_an_undeclared_capability_is_refused_by_the_base(tmp_path: Path) -> None:
    captured, error = conduct(tmp_path, kind="adder", capability="multiply", params={"numbers": [2]})
    assert isinstance(error, EscalationError)
    assert "does not offer 'multiply'; it offers: add" in str(error)
    assert captured.payloads("conductor.capability.failed")[0]["failure_kind"] == "refused"


def test_an_invalid_result_never_leaves_the_worker(tmp_path: Path) -> None:
    captured, error = conduct(tmp_path, kind="wrong", typed=True)
    assert isinstance(error, EscalationError)
    failed = captured.payloads("conductor.capability.failed")
    assert [p["failure_kind"] for p in failed] == ["invalid_result"]
    assert "not the declared AddResult" in failed[0]["error"]
    assert captured.types("worker.task") == ["worker.task.started", "worker.task.failed"]


def test_a_worker_that_declares_nothing_takes_any_capability(tmp_path: Path) -> None:
    _, error = conduct(tmp_path, kind="untyped", capability="anything", params={"a": 1})
    assert error is None
    (result,) = ContractConductor.seen
    assert isinstance(result, WorkResult)
    assert result.data == {"echo": {"a": 1}}


def test_a_typed_delegation_needs_the_declared_request_model() -> None:
    from orchestrator.actors import Delegation

    with pytest.raises(TypeError, match="add takes a AddRequest, not a AddResult"):
        Delegation(worker=None, capability=ADD, objective="o", params=AddResult(total=1)).wire_params()  # type: ignore[arg-type]


def test_capabilities_must_be_model_pairs() -> None:
    with pytest.raises(TypeError, match="must be a \\(request model, result model\\) pair"):

        class Broken(Worker):
            capabilities: ClassVar[dict[str, Any]] = {"x": (dict, AddResult)}
