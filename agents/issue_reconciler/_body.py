"""Issue titles and bodies: sanitised free text, and the fingerprint sentinel that closes each body.

The sentinel is how a later run recognises its own issues, whatever a person did to the title::

    <!-- orchestrate:fingerprint=0123456789abcdef -->

It is an HTML comment (invisible when the tracker renders Markdown) alone on the last line of the
body. Only a line that is exactly that, with 16 lowercase hex digits, counts. The sentinel, and
:class:`IssueDraft`, are part of the tracker contract in :mod:`orchestrator.trackers`; this module
composes the drafts.

A finding's text comes from the page under test, so it is untrusted: a title, description,
recommendation or locator could carry a sentinel of its own (to make a finding look already
filed) or an unclosed ``<!--`` (to swallow the real one when rendered). Before the authoritative
sentinel line is appended, every free-text field is sanitised:

- control characters, zero-width and bidirectional-override characters are removed;
- ``<`` and ``>`` become ``&lt;`` and ``&gt;`` in bodies, so no HTML, and so no comment, can open;
- the literal ``orchestrate:fingerprint`` (in any case or spacing) becomes
  ``orchestrate:__fingerprint__``;
- a line opening a code fence is escaped, so free text cannot fence off the rest of the body;
- titles and single-line fields are folded to one line.

Bodies larger than the limit (64 KiB by default) are refused with
:class:`~orchestrator.agents.issue_reconciler.IssueBodyTooLargeError`, never cut silently.
"""

from __future__ import annotations

import re

from orchestrator.agents.issue_reconciler._errors import IssueBodyTooLargeError
from orchestrator.gate import Finding
from orchestrator.policy.triage import TriagePolicy
from orchestrator.trackers import IssueDraft, sentinel

__all__ = [
    "MAX_BODY_BYTES",
    "check_body_size",
    "compose_comment",
    "compose_issue",
    "sanitize_inline",
    "sanitize_text",
    "sanitize_title",
]

MAX_BODY_BYTES = 65536
"""No tracker is ever sent a body larger than this (GitHub's own limit on issue bodies)."""
TITLE_LIMIT = 200

_NEWLINES = re.compile(r"\r\n|[\r\x85\u2028\u2029]")
# C0/C1 controls (but tab and newline), zero-width characters, bidi marks, overrides and isolates.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SENTINEL_KEY = re.compile(r"orchestrate\s*:\s*fingerprint", re.IGNORECASE)
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})", re.MULTILINE)
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]|#~])")
_WHITESPACE = re.compile(r"\s+")


def _clean(text: str) -> str:
    """Newlines normalised, invisible characters gone, the sentinel key defused."""
    text = _INVISIBLE.sub("", _NEWLINES.sub("\n", text))
    return _SENTINEL_KEY.sub("orchestrate:__fingerprint__", text)


def sanitize_text(text: str) -> str:
    """A multi-line free-text field made safe to place in a Markdown body."""
    text = _clean(text).replace("<", "&lt;").replace(">", "&gt;")
    return _FENCE.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text).strip()


def sanitize_inline(text: str) -> str:
    """A single-line field (locator, scope, path) for a Markdown table cell: one line, no markup."""
    text = _WHITESPACE.sub(" ", _clean(text)).strip()
    text = _MARKDOWN_INLINE.sub(r"\\\1", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def sanitize_title(text: str, *, limit: int = TITLE_LIMIT) -> str:
    """A finding title made safe as an issue title: one line, no comment markers, at most ``limit``."""
    text = _WHITESPACE.sub(" ", _clean(text)).strip()
    text = text.replace("<!--", "< !--").replace("-->", "-- >")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def check_body_size(body: str, limit: int = MAX_BODY_BYTES, fingerprint: str | None = None) -> None:
    """Raise :class:`IssueBodyTooLargeError` when ``body`` is over ``limit`` UTF-8 bytes."""
    size = len(body.encode("utf-8"))
    if size > min(limit, MAX_BODY_BYTES):
        raise IssueBodyTooLargeError(size, min(limit, MAX_BODY_BYTES), fingerprint)


def _facts(finding: Finding) -> list[str]:
    rows = [
        ("Severity", finding.severity),
        ("Suggested priority", finding.suggested_priority),
        ("Check", f"{finding.check} / {finding.checkId}"),
        ("Scope", finding.scope),
        ("Locator", finding.locator),
        ("Evidence", finding.evidence_path),
        ("Run", f"{finding.run_id} (rubric {finding.rubric_version})"),
        ("Fingerprint", finding.fingerprint),
    ]
    return ["| | |", "|---|---|", *(f"| {name} | {sanitize_inline(value)} |" for name, value in rows)]


def _sections(finding: Finding) -> list[str]:
    return [
        "### What is wrong",
        "",
        sanitize_text(finding.description),
        "",
        "### How to fix it",
        "",
        sanitize_text(finding.recommendation),
        "",
    ]


def compose_issue(finding: Finding, policy: TriagePolicy) -> IssueDraft:
    """The issue to file for ``finding``; raises :class:`IssueBodyTooLargeError` when it is too big."""
    lines = [
        "A UX finding from the UI gate.",
        "",
        *_facts(finding),
        "",
        *_sections(finding),
        sentinel(finding.fingerprint),
    ]
    body = "\n".join(lines) + "\n"
    check_body_size(body, policy.max_body_bytes, finding.fingerprint)
    return IssueDraft(
        title=policy.title_for(sanitize_title(finding.title)),
        body=body,
        labels=policy.labels_for(finding.severity),
        fingerprint=finding.fingerprint,
    )


def compose_comment(finding: Finding, policy: TriagePolicy) -> str:
    """The comment added to an issue whose title is close to ``finding``'s (sentinel included)."""
    lines = [
        f"Seen again: a finding with a similar title but fingerprint {finding.fingerprint}.",
        "",
        f"**{sanitize_inline(sanitize_title(finding.title))}**",
        "",
        *_facts(finding),
        "",
        *_sections(finding),
        sentinel(finding.fingerprint),
    ]
    body = "\n".join(lines) + "\n"
    check_body_size(body, policy.max_body_bytes, finding.fingerprint)
    return body
