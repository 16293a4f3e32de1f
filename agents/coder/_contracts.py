"""The coder's capability contract: what the improvement loop hands the coder and what it gets back.

``code_backlog`` (:data:`CODE_BACKLOG`): a :class:`CoderRequest` (the coding-agent command, the
assistant's repository, the analyst's backlog and analysis, where the record goes) in, a
:class:`CoderDone` (how the command ended and what it changed) out. A request is
self-contained, so the coder can run wherever the repository is.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from pydantic import Field, field_validator

from orchestrator.actors import Capability, ContractModel

__all__ = ["CODE_BACKLOG", "CoderDone", "CoderRequest"]


def _absolute(value: str, what: str) -> str:
    if not value or not Path(value).is_absolute():
        raise ValueError(f"must be an absolute {what} (got {value!r}); resolve it against the project first")
    return value


class CoderRequest(ContractModel):
    """One run of the coding-agent command on one iteration's backlog.

    ``command`` is an argv (never a shell line) whose items may hold the placeholders
    ``{backlog}``, ``{analysis}``, ``{repo}`` and ``{iteration}``. The command runs in ``repo``
    with this process's environment minus every secret-looking variable, except those named in
    ``env_passthrough`` (a coding agent's own API key). Paths in ``ignore`` (relative to
    ``repo``, with everything below them) are never counted as changes.
    """

    command: list[str] = Field(min_length=1, description="argv of the coding-agent command; no shell")
    repo: str = Field(description="absolute path of the repository the command changes")
    backlog: str = Field(description="absolute path of the analyst's backlog.md")
    analysis: str = Field(description="absolute path of the analyst's analysis.json")
    iteration: int = Field(ge=1)
    output_dir: str = Field(description="absolute folder for coder.json, coder_stdout.txt, coder_stderr.txt")
    timeout_s: float = Field(gt=0)
    env_passthrough: list[str] = Field(
        default=[], description="secret-looking variables the command may still see"
    )
    ignore: list[str] = Field(default=[], description="paths relative to repo never counted as changes")
    withheld_env: list[str] = Field(
        default=[],
        description="variables kept from the command and redacted from its output, whatever their names "
        "(the assistant's header tokens, the model's API key)",
    )

    @field_validator("repo", "output_dir")
    @classmethod
    def _absolute_dir(cls, value: str) -> str:
        return _absolute(value, "folder path")

    @field_validator("backlog", "analysis")
    @classmethod
    def _absolute_file(cls, value: str) -> str:
        return _absolute(value, "file path")

    @field_validator("ignore")
    @classmethod
    def _relative_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            pure = PurePosixPath(path.replace("\\", "/"))
            if not path or pure.is_absolute() or ".." in pure.parts:
                raise ValueError(
                    f"{path!r} must be a path relative to repo without '..' (such as 'artifacts')"
                )
        return value


class CoderDone(ContractModel):
    """How the coding-agent command ended and what it changed (a failed command is data too).

    ``outcome`` is the run's outcome (``exited``, ``timed_out``, ``not_found``, ``cancelled``,
    ``overflowed``); ``exit_code`` is set only when it exited; ``ok`` means it exited with 0.
    ``changed_paths`` are the files added, removed or modified, relative to the repository, in
    POSIX form, sorted; ``diff_stat`` is ``git diff --stat`` against ``HEAD`` when the repository
    is a git work tree (``None`` otherwise).
    """

    exit_code: int | None
    outcome: str
    ok: bool
    error: str | None
    changed_paths: list[str]
    diff_stat: str | None
    duration_ms: float
    argv: list[str] = Field(description="the command as run, placeholders filled")
    stdout_path: str
    stderr_path: str
    output_truncated: bool = Field(
        default=False,
        description="stdout or stderr was longer than the cap and was cut (the rest was read, not kept)",
    )


CODE_BACKLOG = Capability("code_backlog", CoderRequest, CoderDone)
