"""Logging set-up for the CLI. The library itself never calls this on import.

Library code logs through ``structlog.get_logger()``; correlation ids that the actor base binds
into structlog's contextvars appear on every line because ``merge_contextvars`` runs first.
"""

from __future__ import annotations

import logging
import sys

import structlog

__all__ = ["configure_logging"]


def configure_logging(*, json_lines: bool = False, verbose: bool = False) -> None:
    """Send structlog lines to stderr: pretty on a terminal, JSON with ``json_lines``.

    Standard-library loggers (pykka, uvicorn, httpx) are routed to the same stream at WARNING
    unless ``verbose``, so a command's stdout carries only its own output.
    """
    level = logging.DEBUG if verbose else logging.INFO
    renderer: structlog.types.Processor
    if json_lines:
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if json_lines else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
        force=True,
    )
