"""Keeping credentials out of the network evidence: HAR entries and Playwright traces.

A HAR and a trace record every request's headers and cookies, which for a signed-in page means
session cookies and ``Authorization`` headers. Those never belong in a run dir, so before a HAR
is written and after a trace is saved the values of credential-bearing headers and of all cookies
are replaced by ``[redacted]`` (names stay, so the evidence still shows that they were sent).
Bodies are not inspected: the HAR omits them, and a trace keeps only what the page itself loaded.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from orchestrator.drivers.web._text import clean_json

__all__ = ["REDACTED", "SENSITIVE_HEADERS", "redact_har_entry", "redact_trace"]

REDACTED = "[redacted]"
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
        "x-access-token",
        "x-csrf-token",
        "x-xsrf-token",
    }
)


def redact_har_entry(entry: MutableMapping[str, Any]) -> None:
    """Redact one HAR entry in place (request and response headers and cookies)."""
    for side in ("request", "response"):
        message = entry.get(side)
        if not isinstance(message, dict):
            continue
        for header in message.get("headers") or []:
            if isinstance(header, dict) and str(header.get("name", "")).lower() in SENSITIVE_HEADERS:
                header["value"] = REDACTED
        for cookie in message.get("cookies") or []:
            if isinstance(cookie, dict) and "value" in cookie:
                cookie["value"] = REDACTED


def _redact_network_lines(data: bytes) -> bytes:
    lines = []
    for line in data.decode("utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            lines.append(line)
            continue
        if isinstance(record, dict) and isinstance(record.get("snapshot"), dict):
            redact_har_entry(record["snapshot"])
            line = json.dumps(clean_json(record), ensure_ascii=False, separators=(",", ":"))
        lines.append(line)
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def redact_trace(path: Path) -> None:
    """Rewrite the trace zip at ``path`` with its network records redacted (atomically)."""
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as target:
            for info, data in members:
                if info.filename.endswith(".network"):
                    data = _redact_network_lines(data)
                target.writestr(info, data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
