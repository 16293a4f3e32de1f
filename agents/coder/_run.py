"""Run the coding-agent command on one iteration's backlog and record what it did.

:func:`run_coder` fills the command's placeholders, snapshots the repository, runs the command
through :func:`~orchestrator.subprocess_tools.run_tool` (no shell, a timeout, its whole process
group stopped after, output capped), snapshots again, and writes three files into the request's
``output_dir``, each atomically: ``coder_stdout.txt``, ``coder_stderr.txt`` and ``coder.json``
(the :class:`CoderDone`, with ``schema_version``). A command that fails, times out or is not
found is a :class:`CoderDone` with ``ok`` false and an ``error``: data, never an exception.

The command's environment is this process's minus every variable whose name looks like a
credential (:func:`~orchestrator.services.looks_secret`), except those the request lists in
``env_passthrough``. The values of all secret-looking variables, passed or withheld, are replaced
by ``[redacted]`` wherever they appear in what is recorded, so a coding agent that echoes its key
never puts it into an artifact.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from orchestrator.agents.coder._changes import changed_paths, git_diff_stat, take_snapshot
from orchestrator.agents.coder._contracts import CoderDone, CoderRequest
from orchestrator.artifacts import atomic_write_bytes, atomic_write_json
from orchestrator.errors import UsageError
from orchestrator.services import looks_secret
from orchestrator.subprocess_tools import Emit, run_tool, with_our_python

__all__ = [
    "PLACEHOLDERS",
    "RECORD_FILE",
    "REDACTED",
    "SCHEMA_VERSION",
    "STDERR_FILE",
    "STDOUT_FILE",
    "coder_environment",
    "fill_placeholders",
    "redact",
    "run_coder",
]

PLACEHOLDERS = ("backlog", "analysis", "repo", "iteration")
"""The names a command item may hold as ``{name}``; any other ``{name}`` is an error."""
STDOUT_FILE = "coder_stdout.txt"
STDERR_FILE = "coder_stderr.txt"
RECORD_FILE = "coder.json"
SCHEMA_VERSION = 1
REDACTED = "[redacted]"

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Shorter values, and flag words, are not secrets worth blanking every occurrence of in the output
# (``SKIP_AUTH=1`` would otherwise redact every "1"); they are still withheld from the command.
_MIN_SECRET_LENGTH = 4
_NOT_SECRET_VALUES = frozenset({"true", "false", "none", "null"})
_ERROR_DETAIL_LIMIT = 200


def fill_placeholders(command: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """``command`` with each ``{name}`` of :data:`PLACEHOLDERS` replaced by ``values[name]``.

    Braces that do not enclose a name (``{"a": 1}``, ``{}``) are left as they are; an unknown
    ``{name}`` raises :class:`UsageError` naming it and the allowed placeholders.
    """
    filled: list[str] = []
    for index, item in enumerate(command):

        def value_of(match: re.Match[str], index: int = index, item: str = item) -> str:
            name = match.group(1)
            if name not in PLACEHOLDERS:
                allowed = ", ".join(f"{{{known}}}" for known in PLACEHOLDERS)
                raise UsageError(
                    f"coder command item {index} ({item!r}) has the unknown placeholder {{{name}}}; "
                    f"use one of {allowed}"
                )
            return values[name]

        filled.append(_PLACEHOLDER.sub(value_of, item))
    return filled


def coder_environment(
    passthrough: Collection[str] = (),
    *,
    base: Mapping[str, str] | None = None,
    withheld: Collection[str] = (),
) -> tuple[dict[str, str], list[str]]:
    """The command's environment and the secret values to redact from what it prints.

    The environment is ``base`` (default: this process's) without the variables whose names
    :func:`looks_secret` or that ``withheld`` names (the assistant's header tokens, the model's
    key, whatever their names), except those in ``passthrough``. The values are those of every
    secret-looking or withheld variable, passed through or not, longest first.
    """
    source = os.environ if base is None else base
    allowed = set(passthrough)
    kept_back = set(withheld)
    env: dict[str, str] = {}
    secrets: set[str] = set()
    for name, value in source.items():
        secret = looks_secret(name) or name in kept_back
        if secret and len(value) >= _MIN_SECRET_LENGTH and value.lower() not in _NOT_SECRET_VALUES:
            secrets.add(value)
        if not secret or name in allowed:
            env[name] = value
    return env, sorted(secrets, key=len, reverse=True)


def redact(text: bytes, secrets: Sequence[str]) -> bytes:
    """``text`` with every value in ``secrets`` (longest first) replaced by :data:`REDACTED`."""
    for secret in secrets:
        text = text.replace(secret.encode("utf-8", errors="surrogateescape"), REDACTED.encode())
    return text


def _redact_text(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _inside(path: Path, repo: Path) -> list[str]:
    """``path`` relative to ``repo`` when it lies inside it (the coder's own record is no change)."""
    resolved, root = path.resolve(), repo.resolve()
    if resolved != root and resolved.is_relative_to(root):
        return [resolved.relative_to(root).as_posix()]
    return []


def _error(message: str | None, stderr: bytes, exit_code: int | None) -> str | None:
    """The run's error, with the last line the command wrote to stderr when it exited non-zero."""
    if message is None or exit_code is None:
        return message
    lines = [line.strip() for line in stderr.decode("utf-8", errors="replace").splitlines() if line.strip()]
    if not lines:
        return message
    last = lines[-1]
    if len(last) > _ERROR_DETAIL_LIMIT:
        last = last[: _ERROR_DETAIL_LIMIT - 1] + "…"
    return f"{message}: {last}"


def run_coder(
    request: CoderRequest,
    *,
    emit: Emit | None = None,
    cancelled: threading.Event | None = None,
    env: Mapping[str, str] | None = None,
) -> CoderDone:
    """Run the request's command in its repository and record what happened and what changed.

    ``env`` is the environment the command's is made from (default: this process's). Raises
    :class:`UsageError` only for a request that cannot work (the repository is not a folder, an
    unknown placeholder, an argument holding a newline); everything the command does is data.
    """
    repo = Path(request.repo)
    if not repo.is_dir():
        raise UsageError(
            f"coder request: repo {request.repo!r} is not a folder; pass the assistant's repository"
        )
    output_dir = Path(request.output_dir)
    values = {
        "backlog": request.backlog,
        "analysis": request.analysis,
        "repo": request.repo,
        "iteration": str(request.iteration),
    }
    argv = with_our_python(fill_placeholders(request.command, values))
    environment, secrets = coder_environment(request.env_passthrough, base=env, withheld=request.withheld_env)
    ignore = [*request.ignore, *_inside(output_dir, repo)]

    before = take_snapshot(repo, ignore=ignore)
    result = run_tool(
        argv,
        cwd=repo,
        timeout_s=request.timeout_s,
        env=environment,
        emit=emit,
        tool_name="coder",
        cancelled=cancelled,
        guard=True,
    )
    after = take_snapshot(repo, ignore=ignore, previous=before)
    diff_stat = git_diff_stat(repo, ignore=ignore, env=environment, emit=emit)

    stdout, stderr = redact(result.stdout, secrets), redact(result.stderr, secrets)
    stdout_path, stderr_path = output_dir / STDOUT_FILE, output_dir / STDERR_FILE
    atomic_write_bytes(stdout_path, stdout)
    atomic_write_bytes(stderr_path, stderr)
    error = _error(result.error, stderr, result.returncode)
    done = CoderDone(
        exit_code=result.returncode,
        outcome=result.outcome,
        ok=result.ok,
        error=_redact_text(error, secrets) if error is not None else None,
        changed_paths=changed_paths(before, after),
        diff_stat=diff_stat,
        duration_ms=result.duration_ms,
        argv=[_redact_text(item, secrets) for item in argv],
        stdout_path=str(stdout_path),
        stderr_path=str(stderr_path),
        output_truncated=result.stdout_truncated or result.stderr_truncated,
    )
    if result.outcome != "cancelled":
        # A record means "this run finished": a cancelled one must run again when the loop resumes.
        atomic_write_json(output_dir / RECORD_FILE, {"schema_version": SCHEMA_VERSION, **done.model_dump()})
    return done
