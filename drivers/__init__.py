"""Actors that touch the target: Playwright (web), peekaboo (macOS), command, plugin loading.

Installed as ``orchestrator.drivers``; import it by that full name. Drivers meet agents only through
typed messages, never by importing them.
"""

__all__: list[str] = []
