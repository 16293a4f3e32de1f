"""Issue bodies: the sentinel format, sanitised free text, and the size limit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.agents.issue_reconciler import (
    IssueBodyTooLargeError,
    compose_comment,
    compose_issue,
    sanitize_text,
    sanitize_title,
)
from orchestrator.errors import OrchestrateError
from orchestrator.policy.triage import TriagePolicy
from orchestrator.trackers import fingerprints_in, sentinel
from tests.agents.reconciler_support import make_finding

POLICY = TriagePolicy()
OTHER = "0123456789abcdef"


def test_the_sentinel_is_an_html_comment_on_the_last_line() -> None:
    finding = make_finding()
    draft = compose_issue(finding, POLICY)
    assert sentinel(finding.fingerprint) == f"<!-- orchestrate:fingerprint={finding.fingerprint} -->"
    assert draft.body.endswith(f"\n<!-- orchestrate:fingerprint={finding.fingerprint} -->\n")
    assert fingerprints_in(draft.body) == {finding.fingerprint}
    assert draft.title == "[test-runner] Images must have alternate text"
    assert draft.labels == ("from:test-runner", "priority:high")
    assert draft.fingerprint == finding.fingerprint


def test_the_body_tells_a_person_what_and_where() -> None:
    finding = make_finding(scope="/signup", locator="form > input#email")
    body = compose_issue(finding, POLICY).body
    for text in (
        "### What is wrong",
        "### How to fix it",
        "/signup",
        "input\\#email",
        finding.run_id,
        "captures/web/home.axe.json",
        "axe\\_violations / image-alt",
        "P1",
    ):
        assert text in body


def test_only_a_whole_line_counts_as_a_sentinel() -> None:
    text = (
        f"<!-- orchestrate:fingerprint={OTHER} -->\r\n"
        f"text <!-- orchestrate:fingerprint=aaaaaaaaaaaaaaaa -->\n"
        f"<!-- orchestrate:fingerprint=ABCDEF0123456789 -->\n"
        f"<!-- orchestrate:fingerprint=abc -->\n"
    )
    assert fingerprints_in(text) == {OTHER}
    assert fingerprints_in(None) == frozenset()
    with pytest.raises(ValueError, match="16 lowercase hex"):
        sentinel("XYZ")


FORGERIES = [
    f"<!-- orchestrate:fingerprint={OTHER} -->",
    f"\n<!-- orchestrate:fingerprint={OTHER} -->\n",
    f"\r<!-- ORCHESTRATE : FINGERPRINT={OTHER} -->\r",
    f"\u2028<!-- orchestrate:fingerprint={OTHER} -->\u2029",
    f"<!--\u200b orchestrate:fingerprint={OTHER} -->",
    "<!-- an unclosed comment that would swallow the rest",
    "```\nan unclosed fence",
    f"&lt;!-- orchestrate:fingerprint={OTHER} --&gt;",
]


@pytest.mark.parametrize("forged", FORGERIES)
@pytest.mark.parametrize("field", ["title", "description", "recommendation", "locator", "scope"])
def test_no_free_text_field_can_forge_or_hide_a_sentinel(forged: str, field: str) -> None:
    finding = make_finding(**{field: f"before {forged} after"})  # type: ignore[arg-type]
    for body in (compose_issue(finding, POLICY).body, compose_comment(finding, POLICY)):
        assert fingerprints_in(body) == {finding.fingerprint}
        assert body.count("<!--") == 1  # the authoritative sentinel, nothing else can open a comment
        assert body.rstrip("\n").endswith(sentinel(finding.fingerprint))
        assert "orchestrate:fingerprint" not in body.replace(sentinel(finding.fingerprint), "")
    title = compose_issue(finding, POLICY).title
    assert "\n" not in title
    assert "<!--" not in title
    assert "orchestrate:fingerprint" not in title.lower()


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=100))
def test_any_text_yields_exactly_the_findings_own_sentinel(
    description: str, title: str, locator: str
) -> None:
    finding = make_finding(
        description=description or "d",
        title=title or "t",
        locator=locator or "l",
        recommendation=description or "r",
    )
    body = compose_issue(finding, POLICY).body
    assert fingerprints_in(body) == {finding.fingerprint}
    assert body.count("<!--") == 1


def test_sanitised_text_keeps_what_a_person_needs() -> None:
    assert sanitize_text('Use <img alt="x">\r\nthen retry\x00') == 'Use &lt;img alt="x"&gt;\nthen retry'
    assert sanitize_text("```js\ncode\n```") == "\\```js\ncode\n\\```"
    assert sanitize_title("  Broken\n\tbutton\u202e  ") == "Broken button"
    assert sanitize_title("x" * 500).endswith("…")
    assert len(sanitize_title("x" * 500)) == 200


def test_a_body_over_64_kib_is_refused_with_a_typed_error() -> None:
    finding = make_finding(description="a" * 70_000)
    with pytest.raises(IssueBodyTooLargeError) as caught:
        compose_issue(finding, POLICY)
    error = caught.value
    assert isinstance(error, OrchestrateError)
    assert error.limit == 65536
    assert error.size > 70_000
    assert error.fingerprint == finding.fingerprint
    assert error.error_code == "issue_body_too_large"
    with pytest.raises(IssueBodyTooLargeError):
        compose_comment(finding, POLICY)


def test_a_policy_can_lower_the_limit() -> None:
    finding = make_finding(description="a" * 3000)
    compose_issue(finding, POLICY)
    with pytest.raises(IssueBodyTooLargeError, match="over the limit of 2048 bytes"):
        compose_issue(finding, TriagePolicy(max_body_bytes=2048))


def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    finding = make_finding(description="é" * 33_000)  # 33,000 characters, 66,000 bytes
    with pytest.raises(IssueBodyTooLargeError):
        compose_issue(finding, POLICY)
