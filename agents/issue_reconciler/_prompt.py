"""The interactive triage of the medium/low batch, behind a small :class:`Prompter` interface.

On a terminal the batch is shown once and one question is asked: create all (each finding gets
its recommended action: a new issue, or a comment on the issue with a near-identical title),
review each, or skip all. Reviewing asks per finding: create, comment on #N (offered when an
issue's title is close), or skip.

The questions go through a :class:`Prompter`; :class:`RichPrompter` asks with ``rich.prompt`` on
the terminal (on stderr, so stdout stays clean for scripts), and tests pass a scripted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from rich.console import Console
from rich.prompt import Prompt

from orchestrator.agents.issue_reconciler._body import sanitize_title
from orchestrator.gate import Finding
from orchestrator.policy.triage import Decision

__all__ = ["BatchChoice", "BatchItem", "Prompter", "RichPrompter", "triage_batch"]

BatchChoice = Literal["create", "comment", "skip"]


class Prompter(Protocol):
    """Shows text to, and asks questions of, the person at the terminal."""

    def say(self, text: str) -> None:
        """Show ``text`` (plain, no markup)."""
        ...

    def ask(self, question: str, choices: Sequence[str], default: str) -> str:
        """Ask ``question`` until one of ``choices`` is answered; Enter means ``default``."""
        ...


class RichPrompter:
    """A :class:`Prompter` on the terminal, through ``rich.prompt.Prompt``."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)

    def say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def ask(self, question: str, choices: Sequence[str], default: str) -> str:
        return Prompt.ask(question, console=self.console, choices=list(choices), default=default)


@dataclass(frozen=True, slots=True)
class BatchItem:
    """A medium/low finding that is not filed yet, with its recommended decision."""

    finding: Finding
    decision: Decision

    @property
    def recommended(self) -> BatchChoice:
        return "comment" if self.decision.action == "comment" else "create"

    def describe(self) -> str:
        finding = self.finding
        advice = (
            f"comment on #{self.decision.issue} (similar title)"
            if self.decision.action == "comment"
            else "create a new issue"
        )
        return (
            f"[{finding.severity}] {sanitize_title(finding.title)}\n"
            f"    {finding.check} · {sanitize_title(finding.scope)} · fingerprint {finding.fingerprint} · "
            f"recommended: {advice}"
        )


def triage_batch(items: Sequence[BatchItem], prompter: Prompter) -> list[BatchChoice]:
    """The choice for each of ``items``, in order, as the person at the terminal makes it."""
    if not items:
        return []
    count = len(items)
    noun = "finding" if count == 1 else "findings"
    prompter.say(f"{count} medium/low {noun} to triage:")
    for index, item in enumerate(items, 1):
        prompter.say(f"  {index}. {item.describe()}")
    answer = prompter.ask(
        f"Create all (as recommended), review each, or skip all {count}?",
        ["create", "review", "skip"],
        "create",
    )
    if answer == "skip":
        return ["skip"] * count
    if answer == "create":
        return [item.recommended for item in items]
    choices: list[BatchChoice] = []
    for index, item in enumerate(items, 1):
        prompter.say(f"[{index}/{count}] {item.describe()}")
        options = ["create", "comment", "skip"] if item.decision.action == "comment" else ["create", "skip"]
        where = f" (comment goes on #{item.decision.issue})" if item.decision.action == "comment" else ""
        picked = prompter.ask(
            f"Create, comment or skip{where}?" if where else "Create or skip?", options, item.recommended
        )
        choices.append("comment" if picked == "comment" else "create" if picked == "create" else "skip")
    return choices
