"""Actors that think: trajectory runner, judge, UX evaluator, issue reconciler, analyst, coder.

Installed as ``orchestrator.agents``; import it by that full name. Agents meet drivers only through
typed messages, never by importing them.
"""

__all__: list[str] = []
