"""The coder of the improvement loop: runs the configured coding-agent command on the backlog.

After the analyst has written an iteration's ``analysis.json`` and ``backlog.md``, the coder runs
the project's coding-agent command in the assistant's repository and records what it did: how
the command ended, its output (secrets redacted) and which files it added, removed or modified.
Changes are found by comparing snapshots of the repository taken before and after, so any folder
works; a git work tree also gets ``git diff --stat``. A failing, hanging or missing command is a
result (``ok`` false, with an ``error``), never an exception, so the loop can decide what next.

:func:`run_coder` does the work without actors; the :class:`Coder` worker offers it as the
``code_backlog`` capability (:data:`CODE_BACKLOG`)::

    from orchestrator.agents.coder import CoderRequest, run_coder

    done = run_coder(
        CoderRequest(
            command=["python", "coder.py", "--backlog", "{backlog}", "--repo", "{repo}"],
            repo="/srv/assistant",
            backlog="/runs/it-1/backlog.md",
            analysis="/runs/it-1/analysis.json",
            iteration=1,
            output_dir="/runs/it-1/coder",
            timeout_s=600,
        )
    )
    done.changed_paths  # ["capabilities.json"]; the record is /runs/it-1/coder/coder.json
"""

from __future__ import annotations

from orchestrator.agents.coder._changes import (
    GIT_TIMEOUT_S,
    SKIPPED_DIRS,
    FileState,
    Snapshot,
    changed_paths,
    git_diff_stat,
    take_snapshot,
)
from orchestrator.agents.coder._contracts import CODE_BACKLOG, CoderDone, CoderRequest
from orchestrator.agents.coder._run import (
    PLACEHOLDERS,
    RECORD_FILE,
    REDACTED,
    SCHEMA_VERSION,
    STDERR_FILE,
    STDOUT_FILE,
    coder_environment,
    fill_placeholders,
    redact,
    run_coder,
)
from orchestrator.agents.coder._worker import Coder, summarise

__all__ = [
    "CODE_BACKLOG",
    "GIT_TIMEOUT_S",
    "PLACEHOLDERS",
    "RECORD_FILE",
    "REDACTED",
    "SCHEMA_VERSION",
    "SKIPPED_DIRS",
    "STDERR_FILE",
    "STDOUT_FILE",
    "Coder",
    "CoderDone",
    "CoderRequest",
    "FileState",
    "Snapshot",
    "changed_paths",
    "coder_environment",
    "fill_placeholders",
    "git_diff_stat",
    "redact",
    "run_coder",
    "summarise",
    "take_snapshot",
]
