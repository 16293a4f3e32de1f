"""A slot's system under test: its own process, its own in-process app, or a shared running one.

Three ways, from ``[sut]``:

- ``start_command``: the slot starts its own process on a free port (through
  :func:`orchestrator.services.running_target`, so it is health-checked, watched and always
  stopped), with ``[sut].env`` where ``{twins.NAME.url}`` and ``{twins.NAME.token}`` are this
  slot's twin URL and a valid token of that twin;
- ``app = "module:attr"``: the attribute is imported (the project root first on ``sys.path``) and
  served in process on a free port. An ASGI app is served as it is; a factory (a callable that is
  not an ASGI app) is called with the substituted ``[sut].env`` mapping, so each slot builds its
  own app instance talking to its own twins;
- neither: ``[sut].base_url`` is used as it is (an already-running system; the slot isolates
  only its twins).

A process or in-process server that died is noticed before the next trajectory and started
again (:meth:`SystemUnderTest.ensure_running`), and the trajectory records that it was.

A started process writes its output to ``<log_dir>/<slot>-sut.log``. A system under test may
print what it was given (a twin token, an API key from ``[sut].env``), so once its process has
stopped (the slot stops, the process is started again, or it failed to start) the log is
rewritten, atomically, with every such value replaced by ``[redacted]``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import socket
import sys
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import structlog

from orchestrator.agents.runner._settings import SUT_LOG_SUFFIX, SlotSettings
from orchestrator.artifacts import atomic_write_bytes
from orchestrator.asgi_server import AsgiServer
from orchestrator.errors import ArtifactError, ConfigError
from orchestrator.services import RunningTarget, looks_secret, running_target
from orchestrator.twins import RunningTwins

__all__ = ["SutMode", "SystemUnderTest", "scrub_file", "sut_environment"]

log = structlog.get_logger(__name__)

SutMode = Literal["command", "app", "external", "none"]

_TWIN_REFERENCE = re.compile(r"\{twins\.([A-Za-z0-9_.-]+?)\.(url|token)\}")
_PROBE_TIMEOUT_S = 1.0
_ASGI_ARITY = 3
_REDACTED = b"[redacted]"


def sut_environment(
    env: Mapping[str, str], twins: RunningTwins | None, *, config_file: Path | None = None
) -> dict[str, str]:
    """``[sut].env`` with every ``{twins.NAME.url}`` and ``{twins.NAME.token}`` filled in.

    The URL is the twin's base URL in this slot; the token is one the twin accepts (empty for a
    twin without auth). A twin the slot does not serve is a :class:`ConfigError` naming the variable.
    """
    served = twins if twins is not None else {}
    result: dict[str, str] = {}
    for name, value in env.items():

        def fill(found: re.Match[str], variable: str = name) -> str:
            twin, what = found.group(1), found.group(2)
            if twins is None or twin not in served:
                known = ", ".join(sorted(served)) or "none"
                raise ConfigError(
                    config_file,
                    f"sut.env.{variable}",
                    f"names twin {twin!r}, which this run does not serve (served: {known})",
                    "name a twin the scenarios use in context.services, e.g. {twins.jira.url}",
                )
            if what == "url":
                return twins[twin]
            return twins.client(twin).token or ""

        result[name] = _TWIN_REFERENCE.sub(fill, value)
    return result


class SystemUnderTest:
    """One slot's system under test (see the module docstring); :meth:`start` then :meth:`stop`."""

    def __init__(
        self,
        settings: SlotSettings,
        *,
        slot: str,
        twins: RunningTwins | None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.slot = slot
        self.twins = twins
        sut = settings.sut
        self.mode: SutMode = (
            "command" if sut.start_command else "app" if sut.app else "external" if sut.base_url else "none"
        )
        self.env = {**sut_environment(sut.env, twins, config_file=settings.config_file), **(extra_env or {})}
        """``[sut].env`` filled in, and ``extra_env`` over it (the slot's OTLP intake, when on)."""
        self.url: str | None = None
        self.restarts = 0
        self._stack: ExitStack | None = None
        self._server: AsgiServer | None = None
        self._target: RunningTarget | None = None
        if self.mode == "external" and "{port}" in (sut.base_url or ""):
            raise ConfigError(
                settings.config_file,
                "sut.base_url",
                "has {port}, but nothing starts the system under test on a port chosen for it",
                "add a start_command that listens on {port}, or give the URL where it already runs",
            )
        if self.mode == "command" and not sut.base_url:
            raise ConfigError(
                settings.config_file,
                "sut.base_url",
                "is missing, but start_command is set: the slot cannot tell where the started system answers",
                'add base_url = "http://127.0.0.1:{port}" and start the command on {port}',
            )

    @property
    def pid(self) -> int | None:
        """The process id of a started system under test (``None`` for an app or an external one)."""
        return self._target.pid if self._target is not None else None

    @property
    def log_path(self) -> Path:
        return self.settings.log_dir / f"{self.slot}{SUT_LOG_SUFFIX}"

    def secrets(self) -> list[str]:
        """Values of the environment given to the system under test whose names look secret."""
        return [value for name, value in self.env.items() if value and looks_secret(name)]

    def log_secrets(self) -> list[str]:
        """What its log must never show: :meth:`secrets` and every token of the slot's twins."""
        runtimes = self.twins.runtimes.values() if self.twins is not None else ()
        tokens = [token for runtime in runtimes for token in runtime.known_tokens()]
        return [*tokens, *self.secrets()]

    def start(self) -> None:
        """Start it (a process or an in-process server); an external one only has its URL set."""
        sut = self.settings.sut
        if self.mode == "external":
            self.url = (sut.base_url or "").rstrip("/")
        elif self.mode == "app":
            self._server = AsgiServer(self._load_app(), name=f"sut-{self.slot}")
            self.url = self._server.start(timeout=sut.start_timeout_s)
        elif self.mode == "command":
            stack = ExitStack()
            try:
                target = stack.enter_context(
                    running_target(
                        "sut",
                        sut.model_copy(update={"env": self.env}),
                        root=self.settings.project_root,
                        log_path=self.log_path,
                        config_file=self.settings.config_file,
                        section="sut",
                        redact=self.log_secrets(),
                    )
                )
            except BaseException:
                stack.close()
                self._scrub_log()
                raise
            self._stack = stack
            self._target = target
            self.url = (target.base_url or "").rstrip("/")

    def stop(self) -> None:
        """Stop what :meth:`start` started (idempotent)."""
        server, self._server = self._server, None
        stack, self._stack = self._stack, None
        self._target = None
        try:
            if server is not None:
                server.stop()
        finally:
            if stack is not None:
                try:
                    stack.close()
                finally:
                    self._scrub_log()
        if self.mode != "external":
            self.url = None

    def alive(self) -> bool:
        """Whether a system this slot started still serves (an external one is taken as alive)."""
        if self.mode == "app":
            return self._server is not None and self._server.alive
        if self.mode == "command":
            if self._stack is None or self.url is None or _exited(self.pid):
                return False
            return _listening(self.url)
        return True

    def ensure_running(self) -> str | None:
        """Start it again if it died; what happened, for the trajectory's record, or ``None``."""
        if self.mode not in ("app", "command") or self.alive():
            return None
        what = "its process had exited" if self.mode == "command" else "its in-process server had stopped"
        self.stop()
        self.start()
        self.restarts += 1
        return f"the system under test was started again: {what}"

    def _scrub_log(self) -> None:
        """Redact the stopped process's log (see the module docstring); a log that cannot be
        rewritten is removed, since a log with a credential in it is worse than none."""
        if self.mode != "command":
            return
        try:
            scrub_file(self.log_path, self.log_secrets())
        except ArtifactError as exc:
            log.warning("the system under test's log could not be redacted; removing it", error=str(exc))
            self.log_path.unlink(missing_ok=True)

    def _load_app(self) -> Any:
        spec = self.settings.sut.app or ""
        module_name, _, attribute = spec.partition(":")
        root = str(self.settings.project_root)
        if root not in sys.path:
            sys.path.insert(0, root)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(
                self.settings.config_file,
                "sut.app",
                f"module {module_name!r} cannot be imported ({exc})",
                f'give a module importable from {root}, e.g. app = "myapp.main:app"',
            ) from None
        try:
            target = getattr(module, attribute)
        except AttributeError:
            raise ConfigError(
                self.settings.config_file,
                "sut.app",
                f"module {module_name!r} has no attribute {attribute!r}",
                "name an ASGI app or a factory that takes the environment mapping",
            ) from None
        if _is_asgi_app(target):
            return target
        if not callable(target):
            raise ConfigError(
                self.settings.config_file,
                "sut.app",
                f"{spec} is neither an ASGI app nor a factory",
                "name an ASGI app, or a function that takes the environment mapping and returns one",
            )
        app = target(dict(self.env))
        if not _is_asgi_app(app):
            raise ConfigError(
                self.settings.config_file,
                "sut.app",
                f"{spec}(env) returned a {type(app).__name__}, not an ASGI app",
                "return the app (e.g. a Starlette or FastAPI instance) from the factory",
            )
        return app


def scrub_file(path: Path, secrets: list[str]) -> bool:
    """Rewrite ``path`` atomically with every value in ``secrets`` replaced by ``[redacted]``.

    Longer values go first, so a secret that holds a shorter one is redacted whole. Returns
    whether anything was replaced; a missing file, or one with no secret in it, is left as it is.
    """
    try:
        original = path.read_bytes()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from exc
    data = original
    for secret in sorted({value for value in secrets if value}, key=len, reverse=True):
        data = data.replace(secret.encode(), _REDACTED)
    if data == original:
        return False
    atomic_write_bytes(path, data)
    return True


def _is_asgi_app(value: Any) -> bool:
    """An ASGI 3 app: a callable (not a class) taking ``scope, receive, send``."""
    if inspect.isclass(value) or not callable(value):
        return False
    try:
        parameters = inspect.signature(value).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [
        parameter
        for parameter in parameters
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) == _ASGI_ARITY


def _exited(pid: int | None) -> bool:
    """Whether our child ``pid`` has exited, without reaping it (its ``Popen`` still waits for it)."""
    if pid is None or not hasattr(os, "waitid"):
        return False
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _listening(url: str) -> bool:
    """Whether something accepts connections where ``url`` points (a dead process's port refuses)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False
