"""What the root callback hands every command: the -C option and the lazily loaded config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from orchestrator.config import ProjectConfig


@dataclass
class CliContext:
    """Per-invocation state; the config is loaded on first use so `--help` never reads files."""

    project_option: Path | None
    _config: ProjectConfig | None = field(default=None, repr=False)

    @property
    def config(self) -> ProjectConfig:
        if self._config is None:
            from orchestrator.config import load_config

            self._config = load_config(self.project_option)
        return self._config


def cli_context(ctx: typer.Context) -> CliContext:
    """The :class:`CliContext` of this invocation (set by the root callback)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):  # pragma: no cover - only when a command is invoked directly
        obj = CliContext(project_option=None)
        ctx.find_root().obj = obj
    return obj
