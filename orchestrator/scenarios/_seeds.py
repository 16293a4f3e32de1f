"""Seeds: a run's seed and each trajectory's, derived so that a seed replays a run exactly.

A trajectory's seed depends only on the run seed, the scenario id and the trajectory's index,
never on the slot that ran it or on timing; so ``--seed S`` gives the same chaos at any
``--parallel``, and ``--resume`` reruns a trajectory with the seed it had.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["new_run_seed", "trajectory_id", "trajectory_seed", "twin_seed"]

_SEED_BITS = 31


def new_run_seed() -> int:
    """A fresh run seed (recorded in the manifest, so the run can be replayed)."""
    return int(secrets.randbelow(2**_SEED_BITS))


def trajectory_seed(run_seed: int, scenario_id: str, index: int) -> int:
    """The seed of trajectory ``index`` (1-based) of ``scenario_id`` in a run seeded ``run_seed``."""
    digest = hashlib.sha256(f"{run_seed}\n{scenario_id}\n{index}".encode()).digest()
    seed: int = int.from_bytes(digest[:8], "big") % 2**_SEED_BITS
    return seed


def twin_seed(trajectory_seed: int, twin: str) -> int:
    """The chaos seed of ``twin`` in a trajectory: each twin rolls from its own stream.

    One seed for every twin would make their rolls move in lockstep (the first Slack call and
    the first Jira call would always draw the same numbers, so they would fail together or not
    at all), which is not how independent services fail.
    """
    digest = hashlib.sha256(f"{trajectory_seed}\ntwin\n{twin}".encode()).digest()
    seed: int = int.from_bytes(digest[:8], "big") % 2**_SEED_BITS
    return seed


def trajectory_id(scenario_id: str, index: int) -> str:
    """``<scenario id>-<NNN>``: the trajectory's id and file name stem."""
    return f"{scenario_id}-{index:03d}"
