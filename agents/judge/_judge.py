"""The verdict on one trajectory: rules first, the model only for what rules cannot decide.

:func:`judge_trajectory` is a plain function (the :class:`TrajectoryJudge` actor is a thin shell
over it), and it decides in this order:

1. A trajectory that did not complete (errored, timed out) is unsatisfactory: the user got
   nothing. Its error is the reasoning.
2. Structured criteria and anti-patterns are checked by the rule judge. A matched structured
   anti-pattern makes it unsatisfactory; with ``judge.strict_mode`` that ends it, without
   strict mode the text items still go to the model when one is configured, for the record.
3. The criteria (``criteria_mode`` any or all) and the anti-patterns: when the structured results
   decide whatever the text items say (all-mode with one unmet; any-mode with one met and no text
   anti-pattern to check; no text item at all), the rules decide. Otherwise the model decides
   the text criteria and text anti-patterns, and the verdict follows from both.
4. Needing a model without one configured, or getting no usable answer from it, leaves the
   trajectory ``unjudged``, saying which items need a model and how to configure one, or why the
   answer was refused.

``judge`` is ``rule`` when no model was asked, ``llm`` when every criterion and anti-pattern is
text, ``both`` otherwise; ``confidence`` is 1.0 when the rules decided, the model's own when it
did, 0.0 when nothing was decided.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from orchestrator.agents.judge._llm_judge import PROMPT_VERSION, ask_model
from orchestrator.agents.judge._rules import check_criterion
from orchestrator.llm import Emit, LlmClient, LlmError
from orchestrator.scenarios import Criterion, Judgment, Scenario, Trajectory, Verdict, criterion_label

__all__ = ["MODEL_HINT", "judge_trajectory"]

MODEL_HINT = (
    'configure a model in orchestrate.toml: [llm] model = "gpt-4o-mini", with base_url for another '
    "OpenAI-compatible server and api_key_env naming the environment variable that holds its key "
    "(or give the scenario its own judge.model)"
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One criterion or anti-pattern: its label, whether it holds (``None``: open), and why."""

    label: str
    is_text: bool
    held: bool | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Items:
    """A scenario's criteria or anti-patterns in file order, structured ones already checked."""

    entries: tuple[_Entry, ...]

    @classmethod
    def of(cls, items: Sequence[Criterion], trajectory: Trajectory) -> _Items:
        entries = []
        for item in items:
            if isinstance(item, str):
                entries.append(_Entry(item, is_text=True))
                continue
            result = check_criterion(item, trajectory)
            detail = f"{item.label}: {result.detail}" if item.label else result.detail
            entries.append(_Entry(criterion_label(item), is_text=False, held=result.held, detail=detail))
        return cls(tuple(entries))

    @property
    def text(self) -> list[str]:
        """The text items, numbered from 1 in this order for the model."""
        return [entry.label for entry in self.entries if entry.is_text]

    @property
    def structured(self) -> bool:
        return any(not entry.is_text for entry in self.entries)

    def held(self) -> list[str]:
        return [entry.label for entry in self.entries if entry.held is True]

    def not_held(self) -> list[str]:
        return [entry.label for entry in self.entries if entry.held is False]

    def open(self) -> list[str]:
        return [entry.label for entry in self.entries if entry.held is None]

    def lines(self, prefix: str = "") -> list[str]:
        return [f"{prefix}{entry.detail}" for entry in self.entries if entry.detail]

    def decided_by_model(self, decisions: dict[int, tuple[bool, str]], yes: str, no: str) -> _Items:
        """The text items decided: ``decisions`` maps each one's number to (holds, reason)."""
        entries, number = [], 0
        for entry in self.entries:
            if entry.is_text:
                number += 1
                held, reason = decisions[number]
                entry = replace(entry, held=held, detail=f"{entry.label}: {yes if held else no} ({reason})")
            entries.append(entry)
        return _Items(tuple(entries))


def judge_trajectory(
    scenario: Scenario,
    trajectory: Trajectory,
    *,
    llm: LlmClient | None,
    emit: Emit | None = None,
    now: Callable[[], datetime] = _utc_now,
) -> Judgment:
    """Judge ``trajectory`` of ``scenario`` (see the module docstring).

    ``llm`` is the client of the scenario's model (``JudgeClients.for_scenario`` picks it: the
    scenario's ``judge.model`` or the ``[llm]`` one), or ``None``; ``emit`` records the model
    call's ``llm.call.*`` events; ``now`` stamps ``judged_at``.
    """
    record: dict[str, Any] = {
        "trajectory_id": trajectory.id,
        "scenario_id": scenario.id,
        "run_id": trajectory.run_id,
        "chaos_injected": bool(trajectory.chaos),
        "trajectory_status": trajectory.status,
        "judged_at": now().isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    if trajectory.status != "completed":
        what = trajectory.status.replace("_", " ")
        return Judgment(
            **record,
            verdict="unsatisfactory",
            reasoning=f"Unsatisfactory: the trajectory {what}, so the user got nothing: "
            f"{trajectory.error or 'no error was recorded'}",
            judge="rule",
            confidence=1.0,
        )
    mode = scenario.criteria_mode
    criteria = _Items.of(scenario.satisfaction_criteria, trajectory)
    anti = _Items.of(scenario.anti_patterns, trajectory)
    ready = llm is not None and llm.configured
    verdict = _verdict(mode, criteria, anti)
    open_text = bool(criteria.open() or anti.open())
    for_the_record = (
        verdict is not None and bool(anti.held()) and not scenario.judge.strict_mode and ready and open_text
    )
    if verdict is not None and not for_the_record:
        headline = _headline(verdict, mode, criteria, anti)
        if anti.held() and scenario.judge.strict_mode:
            headline += " Strict mode: decided without a model."
        return _judgment(record, verdict, headline, criteria, anti, judge="rule", confidence=1.0)
    if llm is None or not ready:
        needing = [f"criterion {text!r}" for text in criteria.open()]
        needing += [f"anti-pattern {text!r}" for text in anti.open()]
        headline = (
            f"Unjudged: no language model is configured to decide {', '.join(needing)}. "
            f"To judge them, {MODEL_HINT}."
        )
        return _judgment(record, "unjudged", headline, criteria, anti, judge="rule", confidence=0.0)

    judge: Literal["llm", "both"] = "both" if criteria.structured or anti.structured else "llm"
    asked = {"model": llm.model, "prompt_version": PROMPT_VERSION}
    try:
        answer, reply = ask_model(llm, scenario, trajectory, criteria.text, anti.text, emit=emit)
    except LlmError as failed:
        problem = f"the model gave no usable answer: {failed}"
        if verdict is not None:
            headline = f"{_headline(verdict, mode, criteria, anti)} The text items stay open ({problem})."
            return _judgment(record, verdict, headline, criteria, anti, judge=judge, confidence=1.0, **asked)
        headline = f"Unjudged: {problem}."
        return _judgment(record, "unjudged", headline, criteria, anti, judge=judge, confidence=0.0, **asked)

    criteria = criteria.decided_by_model(
        {d.index: (d.met, d.reason) for d in answer.criteria}, yes="met", no="not met"
    )
    anti = anti.decided_by_model(
        {d.index: (d.matched, d.reason) for d in answer.anti_patterns}, yes="matched", no="not matched"
    )
    if verdict is not None:
        said = f"Asked for the record, the model said: {answer.reasoning}"
        headline = f"{_headline(verdict, mode, criteria, anti)} {said}"
        confidence = 1.0
    else:
        verdict = _verdict(mode, criteria, anti)
        assert verdict is not None  # nothing is open once the model decided every text item
        headline = f"{_headline(verdict, mode, criteria, anti)} {answer.reasoning}"
        confidence = answer.confidence
    return _judgment(
        record,
        verdict,
        headline,
        criteria,
        anti,
        judge=judge,
        confidence=confidence,
        usage=reply.usage.model_dump(),
        **asked,
    )


def _verdict(mode: str, criteria: _Items, anti: _Items) -> Verdict | None:
    """The verdict the items decide, open ones whatever they turn out to be; ``None`` if they do not."""
    if anti.held():
        return "unsatisfactory"
    if mode == "all":
        if criteria.not_held():
            return "unsatisfactory"
        criteria_hold = not criteria.open()
    else:
        if not criteria.held() and not criteria.open():
            return "unsatisfactory"
        criteria_hold = bool(criteria.held())
    return "satisfactory" if criteria_hold and not anti.open() else None


def _headline(verdict: Verdict, mode: str, criteria: _Items, anti: _Items) -> str:
    if anti.held():
        return f"Unsatisfactory: an anti-pattern matched ({'; '.join(anti.held())})."
    if verdict == "unsatisfactory":
        if mode == "all":
            return f"Unsatisfactory: a criterion was not met ({'; '.join(criteria.not_held())})."
        return "Unsatisfactory: no criterion was met."
    if mode == "all":
        return "Satisfactory: every criterion was met and no anti-pattern matched."
    return f"Satisfactory: a criterion was met ({'; '.join(criteria.held())}) and no anti-pattern matched."


def _judgment(
    record: dict[str, Any],
    verdict: Verdict,
    headline: str,
    criteria: _Items,
    anti: _Items,
    **fields: Any,
) -> Judgment:
    lines = [*criteria.lines(), *anti.lines(prefix="anti-pattern ")]
    return Judgment(
        **record,
        verdict=verdict,
        reasoning="\n".join([headline, *(f"- {line}" for line in lines)]),
        criteria_matched=criteria.held(),
        criteria_unmet=criteria.not_held(),
        criteria_unjudged=criteria.open(),
        anti_patterns_matched=anti.held(),
        **fields,
    )
