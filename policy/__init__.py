"""Pure decision rules and their shipped defaults.

Installed as ``orchestrator.policy``. This package imports nothing of ours and does no I/O except
reading its own default files under ``defaults/``; merging with a project's overrides happens in
``orchestrator.policyfiles``.
"""

from __future__ import annotations

__all__: list[str] = []
