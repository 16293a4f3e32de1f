"""Running a tracker CLI (``gh``, ``glab``) safely, and the base of the two CLI backends.

Every command goes through :func:`run_command`, which runs it with
:func:`orchestrator.subprocess_tools.run_tool` and turns every failure into a :class:`TrackerError`:

- only the bare names in :data:`ALLOWED_BINARIES`, resolved on ``PATH`` (never a path we were
  handed, never a shell);
- every argument is a string without newline, carriage return or NUL (bodies, which have
  newlines, go through standard input instead); values are bound to their flags as
  ``--flag=value`` so a value starting with ``-`` can never be read as another flag;
- standard output and error are capped at :data:`MAX_OUTPUT_BYTES` each (the process is killed
  past it) and the whole command at a timeout;
- the token, when one is configured, travels in the child's environment only and is scrubbed
  from any output quoted in an error.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import JsonValue

from orchestrator.agents.issue_reconciler import UnsafeCommandError, check_body_size
from orchestrator.errors import UsageError
from orchestrator.subprocess_tools import DEFAULT_OUTPUT_CAP, forbidden_character, run_tool
from orchestrator.trackers import IssueDraft, SettingsTracker, TrackerError, TrackerSettings

__all__ = [
    "ALLOWED_BINARIES",
    "MAX_OUTPUT_BYTES",
    "CliResult",
    "CliTracker",
    "check_arguments",
    "resolve_binary",
    "run_command",
]

ALLOWED_BINARIES = frozenset({"gh", "glab"})
MAX_OUTPUT_BYTES = DEFAULT_OUTPUT_CAP
DEFAULT_COMMAND_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class CliResult:
    """What a finished command printed."""

    stdout: str
    stderr: str


def check_arguments(args: Sequence[str]) -> None:
    """Refuse any argument that is not a string or holds a newline, carriage return or NUL."""
    for index, arg in enumerate(args):
        if not isinstance(arg, str):
            raise UnsafeCommandError(f"argument {index} is a {type(arg).__name__}, not a string")
        bad = forbidden_character(arg)
        if bad is not None:
            raise UnsafeCommandError(
                f"argument {index} holds {bad!r}; tracker commands take single-line arguments only"
            )


def resolve_binary(name: str, env: Mapping[str, str]) -> str:
    """The absolute path of the allowlisted ``name`` found on ``env``'s ``PATH``."""
    if name not in ALLOWED_BINARIES:
        allowed = ", ".join(sorted(ALLOWED_BINARIES))
        raise UnsafeCommandError(f"{name!r} is not an allowed tracker command (allowed: {allowed})")
    found = shutil.which(name, path=env.get("PATH", os.defpath))
    if found is None:
        raise TrackerError(
            f"{name}: the {name} command is not installed or not on PATH",
            tracker=name,
            fix=f"install {name} and log in with `{name} auth login`, or choose another [issues] backend",
        )
    return found


def run_command(
    name: str,
    args: Sequence[str],
    *,
    stdin: str | None = None,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout_s: float = DEFAULT_COMMAND_TIMEOUT_S,
    max_output: int = MAX_OUTPUT_BYTES,
    secret: str | None = None,
) -> CliResult:
    """Run the allowlisted ``name`` with ``args``; a failure of any kind is a :class:`TrackerError`."""
    check_arguments(args)
    binary = resolve_binary(name, env)
    what = " ".join([name, *[a for a in args[:2] if not a.startswith("-")]])
    try:
        # The resolved path runs, so the program is exactly the allowlisted one just found.
        result = run_tool(
            [binary, *args],
            cwd=Path.cwd() if cwd is None else cwd,
            timeout_s=timeout_s,
            env=env,
            output_cap=max_output,
            kill_on_overflow=True,
            stdin=None if stdin is None else stdin.encode("utf-8"),
        )
    except UsageError as exc:
        raise TrackerError(f"{what}: {exc}", tracker=name) from None
    if result.outcome == "overflowed":
        raise TrackerError(
            f"{what}: printed more than {max_output // (1024 * 1024)} MiB; stopped", tracker=name
        )
    if result.outcome == "timed_out":
        raise TrackerError(f"{what}: did not finish within {timeout_s:g} s; stopped", tracker=name)
    if result.outcome != "exited":
        raise TrackerError(f"{what}: {result.error}", tracker=name)
    stdout, stderr = result.stdout_text(), result.stderr_text()
    if result.returncode != 0:
        detail = stderr.strip() or stdout.strip()
        detail = (detail.replace(secret, "***") if secret else detail)[-500:]
        raise TrackerError(
            f"{what}: exited with status {result.returncode}" + (f": {detail}" if detail else ""),
            tracker=name,
            status=result.returncode,
            fix=f"check the login with `{name} auth status`, or name a token variable in [issues] token_env",
        )
    return CliResult(stdout=stdout, stderr=stderr)


class CliTracker(SettingsTracker, ABC):
    """Base of the CLI backends: settings, the child environment, running and describing commands.

    A subclass says which arguments create an issue (:meth:`_create_args`) and comment on one
    (:meth:`_comment_args`); the body always goes to standard input.
    """

    name: ClassVar[str]
    binary: ClassVar[str]
    token_variable: ClassVar[str]
    """The variable the CLI reads its token from (``GH_TOKEN``, ``GITLAB_TOKEN``)."""
    host_variable: ClassVar[str | None] = None
    quiet_env: ClassVar[dict[str, str]] = {}

    def __init__(self, settings: TrackerSettings) -> None:
        super().__init__(settings)
        self.repository = settings.repository.strip().strip("/") if settings.repository else None
        self.cwd = settings.project_root
        self.timeout_s = max(settings.timeout_s, DEFAULT_COMMAND_TIMEOUT_S)
        # The CLI has its own login; a token is passed only when [issues] token_env names one.
        token, _ = settings.token(None)
        self._secret = token
        env = {**settings.env, "NO_COLOR": "1", **self.quiet_env}
        if token is not None:
            env[self.token_variable] = token
        self.host = urlsplit(settings.api_url).hostname if settings.api_url else None
        if self.host and self.host_variable:
            env[self.host_variable] = self.host
        self._env = env
        resolve_binary(self.binary, env)  # fail early, with the fix, when the CLI is missing

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.repository!r})"

    def close(self) -> None:
        """Nothing to release: every command is its own process."""

    def run(self, args: Sequence[str], *, stdin: str | None = None) -> str:
        result = run_command(
            self.binary,
            args,
            stdin=stdin,
            env=self._env,
            cwd=self.cwd,
            timeout_s=self.timeout_s,
            secret=self._secret,
        )
        return result.stdout

    def describe(self, action: str, args: Sequence[str], stdin: str | None) -> dict[str, JsonValue]:
        """A command as dry-run output shows it: the argv and what goes to standard input."""
        check_arguments(args)
        argv: list[JsonValue] = [self.binary, *args]
        return {
            "backend": self.name,
            "action": action,
            "argv": argv,
            "command": shlex.join([self.binary, *args]) + (" < body" if stdin is not None else ""),
            "stdin": stdin,
        }

    def parse_json(self, printed: str, what: str) -> Any:
        """The JSON document a command printed; ``what`` names the command in the error."""
        try:
            return json.loads(printed)
        except ValueError:
            raise TrackerError(f"{self.name}: {what} did not print JSON") from None

    @abstractmethod
    def _create_args(self, draft: IssueDraft) -> list[str]:
        """Provided by each backend."""

    @abstractmethod
    def _comment_args(self, number: int) -> list[str]:
        """Provided by each backend."""

    def _run_create(self, draft: IssueDraft) -> str:
        """Create the issue; what the CLI printed, which holds its number."""
        check_body_size(draft.body, fingerprint=draft.fingerprint)
        return self.run(self._create_args(draft), stdin=draft.body)

    def add_comment(self, number: int, body: str) -> None:
        check_body_size(body)
        self.run(self._comment_args(number), stdin=body)

    def describe_create(self, draft: IssueDraft) -> dict[str, JsonValue]:
        check_body_size(draft.body, fingerprint=draft.fingerprint)
        return self.describe("create", self._create_args(draft), draft.body)

    def describe_comment(self, number: int, body: str) -> dict[str, JsonValue]:
        check_body_size(body)
        return self.describe("comment", self._comment_args(number), body)
