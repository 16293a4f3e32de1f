"""A small pipeline on the public API: a conductor delegates to parallel workers, every step is an event.

The conductor splits a folder's Python files between two line-counting workers, runs them at
once, and reports the total. Run it against a project made by ``orchestrate init``:

    orchestrate -C /tmp/demo init
    python examples/quickstart.py /tmp/demo [FOLDER_TO_COUNT]
    orchestrate -C /tmp/demo runs list
    orchestrate -C /tmp/demo events timeline <run id printed above>
"""

from __future__ import annotations

import sys
from pathlib import Path

from orchestrator import (
    Conductor,
    Delegation,
    RunOutcome,
    StartRun,
    Worker,
    WorkRequest,
    WorkResult,
)
from orchestrator.jobs import run_job


class LineCounter(Worker):
    """Counts the lines of the files it is given."""

    worker_type = "line-counter"

    def perform(self, request: WorkRequest) -> WorkResult:
        files = [str(f) for f in request.params.get("files", [])]  # type: ignore[union-attr]
        total = 0
        for number, name in enumerate(files, start=1):
            if self.cancelled.is_set():
                return self.result(request, success=False, summary="stopped", blocked_reason="run stopped")
            total += len(Path(name).read_text(encoding="utf-8", errors="replace").splitlines())
            if number % 10 == 0:
                self.progress(f"{number}/{len(files)} files")
        return self.result(request, summary=f"{total} lines in {len(files)} files", data={"lines": total})


class CountLines(Conductor):
    """Splits the files between two workers and sums what they report."""

    def conduct(self, start: StartRun) -> RunOutcome:
        folder = Path(str(start.params["folder"]))
        files = sorted(str(p) for p in folder.rglob("*.py") if ".venv" not in p.parts)
        self.progress("counting", files=len(files))
        workers = [self.start_worker(LineCounter) for _ in range(2)]
        halves = [files[0::2], files[1::2]]
        outcomes = self.delegate_all(
            [
                Delegation(worker, "count-lines", f"count lines in {len(part)} files", {"files": part})
                for worker, part in zip(workers, halves, strict=True)
            ]
        )
        total = 0
        for outcome in outcomes:  # one per request: a failed one is data, not an exception
            if outcome.result is None:
                raise outcome.error()
            total += int(outcome.result.data["lines"])  # type: ignore[arg-type]
        return RunOutcome(
            run_id=start.run_id, status="completed", summary=f"{total} lines in {len(files)} files"
        )


def main() -> int:
    project = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    folder = (
        Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parent.parent / "orchestrator"
    )
    # One call: the project's event bus, a run dir, the conductor, the final status in run.json.
    result = run_job(
        project,
        CountLines,
        kind="ui",
        target="quickstart",
        objective=f"count lines under {folder}",
        params={"folder": str(folder)},
    )
    print(f"run {result.run_dir.run_id}: {result.outcome.summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
