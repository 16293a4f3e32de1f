"""Logging set-up for the CLI. The library itself never calls this on import.

Library code logs through ``structlog.get_logger(__name__)``; correlation ids that the actor base
binds into structlog's contextvars appear on every line because ``merge_contextvars`` runs first.

Everything goes through the standard library's logging, so one rule decides what is shown:
loggers under ``orchestrator`` (ours) log at INFO, or DEBUG with ``verbose``; every other logger
(httpx, httpcore, playwright, asyncio, pykka, uvicorn, a plugin's) stays at WARNING either way,
so ``-v`` shows our own debug lines without third-party chatter. Lines go to whatever
``sys.stderr`` is when they are written (a progress display may be drawing there), pretty on a
terminal or JSON objects with ``json_lines``, one a line.
"""

from __future__ import annotations

import logging
import sys

import structlog

__all__ = ["OUR_LOGGER", "QUIET_LOGGERS", "configure_logging", "json_lines_enabled"]

OUR_LOGGER = "orchestrator"
"""The logger every module of ours logs under (``orchestrator.<module>``)."""

QUIET_LOGGERS = ("httpx", "httpcore", "playwright", "asyncio", "pykka", "uvicorn", "urllib3", "filelock")
"""Third-party loggers held at WARNING even with ``-v`` (any other foreign logger inherits WARNING)."""

_json_lines = False


class _CurrentStderr:
    """A stream that writes to ``sys.stderr`` as it is at each write, not as it was at set-up."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(*, json_lines: bool = False, verbose: bool = False) -> None:
    """Route our structlog lines and foreign stdlib records to stderr (see the module)."""
    global _json_lines
    _json_lines = json_lines
    renderer: structlog.types.Processor
    if json_lines:
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.format_exc_info if json_lines else structlog.dev.set_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger(OUR_LOGGER).setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def json_lines_enabled() -> bool:
    """Whether the CLI asked for JSON log lines (``--log-json``): plain progress lines become log lines."""
    return _json_lines
