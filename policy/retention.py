"""Retention: when a run is old enough to be pruned.

A pure rule (no I/O, no clock of its own): the caller passes the run's creation time and "now",
so the decision is the same in a test as in production. The number of days is the policy document
``retention`` (default in ``defaults/retention.yaml``, overridden by a project's
``.orchestrator/policy/retention.yaml``), loaded by ``orchestrator.policyfiles.load_retention``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["is_expired"]

# timedelta cannot hold more days than this; a longer retention never expires anything.
_MAX_DAYS = timedelta.max.days


def is_expired(created_at: datetime, now: datetime, retention_days: int) -> bool:
    """Whether a run created at ``created_at`` is older than ``retention_days`` days at ``now``.

    A run exactly ``retention_days`` old is still kept; one created in the future (clock skew) is
    never expired. Both times must be timezone-aware, so runs written in different time zones
    compare correctly.
    """
    if retention_days < 1:
        raise ValueError(f"retention_days must be at least 1, got {retention_days}")
    if created_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("created_at and now must be timezone-aware datetimes")
    if retention_days > _MAX_DAYS:
        return False
    return now - created_at > timedelta(days=retention_days)
