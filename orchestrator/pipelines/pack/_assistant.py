"""The assistant the loop asks: started when it has a start command, restarted after a coder run.

With ``[assistant] start_command`` it runs through the same machinery as the UI gate's targets
(:func:`~orchestrator.services.running_target`: a free port for ``{port}``, the health wait, a
process group that is always stopped and never outlives us); without, ``base_url`` is used as
it is. :meth:`AssistantService.restart` stops and starts it again, so a coder's change to the
assistant's files takes effect; it says whether the assistant came back.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from pathlib import Path

import structlog

from orchestrator.agents.domain_runner import AskSettings
from orchestrator.assistant_api import resolve_headers
from orchestrator.config import ProjectConfig
from orchestrator.errors import ConfigError, OrchestrateError
from orchestrator.services import running_target

__all__ = ["AssistantService", "ask_settings"]

log = structlog.get_logger(__name__)


def ask_settings(config: ProjectConfig, env: Mapping[str, str]) -> AskSettings:
    """The settings the domain runners speak with (no base URL yet: it is known once started)."""
    section = config.assistant
    if section.base_url is None:
        raise ConfigError(
            config.config_file,
            "assistant.base_url",
            "is not set, so there is no assistant to ask",
            'add [assistant] base_url = "http://127.0.0.1:8000" (or with start_command, '
            '"http://127.0.0.1:{port}") to orchestrate.toml',
        )
    headers, secrets = resolve_headers(section.headers, env)
    return AskSettings(base_url="", assistant=section, headers=headers, secrets=tuple(secrets))


class AssistantService:
    """The assistant of one job: :meth:`start` once, :meth:`restart` after changes, :meth:`stop`."""

    def __init__(
        self,
        config: ProjectConfig,
        *,
        log_dir: Path,
        secrets: tuple[str, ...] = (),
        cancelled: threading.Event | None = None,
    ) -> None:
        self._config = config
        self._log_dir = log_dir
        self._secrets = secrets
        self._cancelled = cancelled
        self._stack: contextlib.ExitStack | None = None
        self._starts = 0
        self.base_url: str | None = None

    @property
    def managed(self) -> bool:
        """Whether we start the assistant (it has a start command), so a restart means something."""
        return bool(self._config.assistant.start_command)

    def start(self) -> str:
        """Start it (when it has a start command) and return its base URL; raises when it cannot."""
        if self._stack is not None:
            raise RuntimeError("the assistant is already started")
        self._starts += 1
        stack = contextlib.ExitStack()
        try:
            target = stack.enter_context(
                running_target(
                    "assistant",
                    self._config.assistant,
                    root=self._config.root,
                    log_path=self._log_dir / f"assistant-{self._starts}.log",
                    config_file=self._config.config_file,
                    cancelled=self._cancelled,
                    section="assistant",
                    redact=self._secrets,
                )
            )
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        assert target.base_url is not None
        self.base_url = target.base_url.rstrip("/")
        return self.base_url

    def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def restart(self) -> str | None:
        """Stop and start it again; the new base URL, or ``None`` with the reason logged when it failed."""
        self.stop()
        try:
            return self.start()
        except OrchestrateError as exc:
            self.error = str(exc)
            log.warning("the assistant did not come back after a restart", error=str(exc))
            return None

    error: str | None = None
    """Why the last restart failed."""
