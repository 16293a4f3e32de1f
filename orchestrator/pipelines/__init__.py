"""Pipelines: the conductors of orchestrate's jobs and the functions that drive them."""

from __future__ import annotations

from orchestrator.pipelines.test import GateOptions, GateResult, TestGate, run_gate

__all__ = ["GateOptions", "GateResult", "TestGate", "run_gate"]
