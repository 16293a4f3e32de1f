"""Which operating system the mac driver runs on, and whether it can capture there.

peekaboo needs macOS 15 or later. On anything else the driver skips (exit 0) and says why, so a
``mac-gate`` profile in a cross-platform CI matrix is not a failure on Linux. The platform is a
value, not a global lookup, so tests on Linux can pretend to be macOS 15.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

__all__ = ["MIN_MACOS", "MacPlatform"]

MIN_MACOS = (15, 0)
"""The oldest macOS the driver captures on."""


@dataclass(frozen=True, slots=True)
class MacPlatform:
    """An operating system as ``platform.system()`` and ``platform.mac_ver()`` describe it."""

    system: str
    """``Darwin`` on macOS; ``Linux``, ``Windows``, ... elsewhere."""
    version: str = ""
    """The macOS product version (``15.1``); empty off macOS."""

    @classmethod
    def current(cls) -> MacPlatform:
        return cls(platform.system(), platform.mac_ver()[0])

    def describe(self) -> str:
        if self.system == "Darwin":
            return f"macOS {self.version}" if self.version else "macOS (unknown version)"
        return self.system or "unknown"

    def skip_reason(self) -> str | None:
        """Why capture cannot run here, or ``None`` when this is macOS 15 or later."""
        wanted = ".".join(map(str, MIN_MACOS))
        if self.system != "Darwin":
            return f"not macOS ({self.describe()}); the mac driver needs macOS {wanted} or later"
        parsed = _parse_version(self.version)
        if parsed is None:
            return f"cannot read the macOS version {self.version!r}; the mac driver needs macOS {wanted}+"
        if parsed < MIN_MACOS:
            return f"macOS {self.version} is older than {wanted}, which the mac driver needs"
        return None


def _parse_version(version: str) -> tuple[int, int] | None:
    parts = version.strip().split(".")
    try:
        major = int(parts[0])
        minor = int(parts[1]) if len(parts) > 1 and parts[1] else 0
    except ValueError:
        return None
    return major, minor
