"""The command driver: runs a project's own test command and ingests its JUnit XML report.

For projects that gate on an existing suite (pytest, go test, npm test, ...): the profile's
``command`` runs in the project root with a timeout, and every test case of its JUnit report
becomes a capture, failed ones with their message. Registered as ``command`` in the
``orchestrate.drivers`` entry-point group; :func:`run_command_tests` does the same work without
an actor.
"""

from __future__ import annotations

from orchestrator.drivers.command._driver import CommandDriver
from orchestrator.drivers.command._junit import TestCaseResult, parse_junit, read_junit
from orchestrator.drivers.command._run import OUTPUT_CAP, CommandRun, run_command_tests

__all__ = [
    "OUTPUT_CAP",
    "CommandDriver",
    "CommandRun",
    "TestCaseResult",
    "parse_junit",
    "read_junit",
    "run_command_tests",
]
