"""The errors of the issue reconciler's own making, under the trackers' :class:`TrackerError`.

::

    OrchestrateError
    └── TrackerError                 (orchestrator.trackers) a tracker could not be read or written
        ├── TrackerAuthError, TrackerRateLimitError, TrackerUnavailableError   (orchestrator.trackers)
        ├── IssueBodyTooLargeError   an issue or comment body is over the policy's byte limit
        └── UnsafeCommandError       a tracker CLI command was refused before it ran

Messages never carry a token: trackers scrub their secret from any text they put in an error.
"""

from __future__ import annotations

from orchestrator.trackers import TrackerError

__all__ = ["IssueBodyTooLargeError", "UnsafeCommandError"]


class IssueBodyTooLargeError(TrackerError):
    """An issue or comment body is larger than the tracker accepts; nothing was sent."""

    error_code = "issue_body_too_large"

    def __init__(self, size: int, limit: int, fingerprint: str | None = None) -> None:
        self.size = size
        self.limit = limit
        self.fingerprint = fingerprint
        which = f" for finding {fingerprint}" if fingerprint else ""
        super().__init__(
            f"the issue body{which} is {size} bytes, over the limit of {limit} bytes; it was not sent",
            fix="shorten the finding's description, or raise max_body_bytes in "
            ".orchestrator/policy/triage.yaml",
        )


class UnsafeCommandError(TrackerError):
    """A tracker CLI command was refused before it ran (binary not allowed, unsafe argument)."""

    error_code = "unsafe_command"
