"""The LLM analyst: the prompt, the answer the model must give, and the facts it may not change.

The model reads what the rule analyst reads (every step with its status, decision flag,
expectations met and unmet, error and evidence files; the earlier iterations' scores and coder
runs; the allowed paths and the stall limit) plus each scenario's brief, and answers
:class:`AnalystAnswer`: a score, a backlog and whether the user must decide. An answer that does
not match is refused like malformed JSON, so the client shows the model what was wrong and asks
once more (:meth:`~orchestrator.llm.LlmClient.complete_json`).

The model judges; the facts stay facts (:func:`settle_answer`): the step counts always come from
the outcomes, a backlog item naming a step that did not run is dropped, its evidence is limited
to that step's files, and the rule analyst's user-decision rules always apply: the model may ask
for a decision the rules do not, never take back one they require. The prompt is a pure function
of the request (sorted, capped, no clock), so one request always asks the same question.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from orchestrator.agents.analyst._contracts import AnalysisRequest
from orchestrator.agents.analyst._model import Analysis, BacklogItem, IterationHistory, StepOutcome
from orchestrator.agents.analyst._rules import FORMULA, count_statuses, decision_reason, score
from orchestrator.llm import ChatMessage, Emit, LlmClient, LlmNotConfiguredError

__all__ = [
    "PROMPT_VERSION",
    "AnalystAnswer",
    "analysis_prompt",
    "analyst_system_prompt",
    "llm_analyse",
    "settle_answer",
]

PROMPT_VERSION = "analyst-v1"
"""Changes whenever the prompt or the answer schema changes, so analyses can be compared."""

_log = structlog.get_logger(__name__)

_TEXT_CHARS = 300
_BRIEF_CHARS = 800
_STEPS_SHOWN = 150
_EVIDENCE_SHOWN = 8
_PATHS_SHOWN = 20

ROLE = (
    "You analyse one iteration of the improvement loop of an AI assistant. The assistant answers "
    "its users over an HTTP API; a pack of scenarios sends it scripted steps and checks each answer "
    "against the step's expectations. A step ends accepted (every expectation met), partial (some "
    "unmet), needs_exact_capability (the assistant lacks a capability the step needs) or blocked "
    "(no usable answer). After your analysis a coding agent changes the assistant's code to work "
    "through your backlog, and the loop runs the pack again, until the score reaches the gate, the "
    "user must decide, or the iterations run out."
)
TASK = (
    "Give: score, 0 to 100, how close the assistant is to answering every step as its expectations "
    "ask (100 only when every step is accepted); backlog, the changes the coding agent should make, "
    "most important first, each naming the scenario and the step exactly as listed, its category "
    "(route: a capability or route the assistant lacks or gets wrong; evidence: the answer does not "
    "cite its sources; presentation: the answer's form or content is off), the problem as the facts "
    "show it, the evidence files from that step's list, and the suggested change as one concrete "
    "instruction; requires_user_decision, true when the loop should stop and ask the user (a step "
    "marked as a decision for the user that is not accepted, coder runs that do not raise the score "
    "within the stall limit, a change outside the allowed paths, or a problem only the user can "
    "settle), with decision_reason saying why in one sentence (null when false). Judge only from the "
    "facts given: an item for a step that is not listed is discarded, the step counts are computed "
    "without you, and the loop's own decision rules are checked without you as well."
)
ANSWER_FORMAT = (
    "Answer with one JSON object and nothing else: "
    '{"score": 60, "backlog": [{"scenario": "...", "step": "...", "category": "route", '
    '"problem": "...", "evidence": ["..."], "suggested_change": "..."}], '
    '"requires_user_decision": false, "decision_reason": null}. '
    "An empty backlog is [] when nothing needs to change."
)


class AnalystAnswer(BaseModel):
    """What the model answers: the fields of :class:`~orchestrator.agents.analyst.Analysis` it judges."""

    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=0, le=100, description="0-100: how close the assistant is to every step accepted.")
    backlog: list[BacklogItem] = Field(description="Changes for the coding agent, most important first.")
    requires_user_decision: bool = Field(description="Whether the loop must stop and ask the user.")
    decision_reason: str | None = Field(description="Why the user must decide, in one sentence; null if not.")

    @field_validator("decision_reason")
    @classmethod
    def _reason_when_deciding(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("requires_user_decision") and not (value or "").strip():
            raise ValueError("requires_user_decision is true, so say why the user must decide")
        return value


# ----------------------------------------------------------------------------------- prompt


def analyst_system_prompt() -> str:
    """The analyst's instructions: what the product is, what to give, and the answer format."""
    return "\n\n".join([ROLE, TASK, ANSWER_FORMAT])


def _one_line(text: str, limit: int = _TEXT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else f"{flat[:limit]} [... {len(flat) - limit} more characters cut]"


def _listed(items: Sequence[str], limit: int) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def _scenarios(request: AnalysisRequest) -> list[str]:
    ids = sorted({*request.briefs, *(outcome.scenario for outcome in request.outcomes)})
    lines = []
    for scenario_id in ids:
        brief = request.briefs.get(scenario_id, "").strip()
        lines.append(f"- {scenario_id}: {_one_line(brief, _BRIEF_CHARS) if brief else '(no brief)'}")
    return lines or ["(none)"]


def _step_lines(outcome: StepOutcome) -> list[str]:
    decision = ", a decision for the user" if outcome.decision else ""
    lines = [f"- {outcome.scenario}/{outcome.step}: {outcome.status}{decision}"]
    if outcome.error:
        lines.append(f"  Error: {_one_line(outcome.error)}")
    if not outcome.expectations:
        lines.append("  Expectations: none")
    for result in outcome.expectations:
        verdict = "met" if result.met else "NOT MET"
        lines.append(f"  - {verdict}: {result.kind} ({result.category}): {_one_line(result.detail)}")
    if outcome.evidence_paths:
        lines.append(f"  Evidence: {_listed(outcome.evidence_paths, _EVIDENCE_SHOWN)}")
    return lines


def _steps(outcomes: Sequence[StepOutcome]) -> list[str]:
    # Grouped by scenario (a stable sort keeps each scenario's steps in the order they ran).
    ordered = sorted(outcomes, key=lambda outcome: outcome.scenario)
    lines = [line for outcome in ordered[:_STEPS_SHOWN] for line in _step_lines(outcome)]
    if len(ordered) > _STEPS_SHOWN:
        lines.append(f"- ... and {len(ordered) - _STEPS_SHOWN} more steps, not shown")
    return lines or ["(no step ran)"]


def _history(history: Sequence[IterationHistory]) -> list[str]:
    lines = []
    for earlier in sorted(history, key=lambda iteration: iteration.n):
        if earlier.coder_exit_code is None:
            coder = "the coder did not run"
        else:
            changed = sorted(earlier.coder_changed_paths)
            files = f": {_listed(changed, _PATHS_SHOWN)}" if changed else ""
            coder = f"the coder exited {earlier.coder_exit_code} and changed {len(changed)} files{files}"
        lines.append(f"- iteration {earlier.n}: score {earlier.score}; then {coder}")
    return lines or ["(none: this is the first iteration)"]


def analysis_prompt(request: AnalysisRequest) -> str:
    """The user message: the scenarios, every step's facts, the earlier iterations and the limits."""
    counts = count_statuses(request.outcomes)
    settings = request.settings
    allowed = ", ".join(settings.allowed_paths) if settings.allowed_paths else "any file"
    stall = (
        f"{settings.stall_limit} coder runs in a row that do not raise the score stop the loop for the user"
        if settings.stall_limit
        else "none (a stall never stops the loop by itself)"
    )
    lines = [
        f"# Iteration {request.iteration} of the pack {request.pack_id}",
        "",
        "## Scenarios",
        *_scenarios(request),
        "",
        f"## Steps ({len(request.outcomes)}: {counts.accepted} accepted, {counts.partial} partial, "
        f"{counts.needs_exact_capability} needs_exact_capability, {counts.blocked} blocked)",
        *_steps(request.outcomes),
        "",
        "## Earlier iterations",
        *_history(request.history),
        "",
        "## Limits",
        f"Files the coder may change: {allowed}",
        f"Stall limit: {stall}",
        "",
        "## For reference",
        f"The rule formula ({FORMULA}) gives {score(request.outcomes)}.",
        "",
        "Give the score, the backlog and whether the user must decide, as one JSON object.",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- facts


def _grounded(item: BacklogItem, step: StepOutcome) -> BacklogItem:
    """``item`` citing only files of its step: those it named that the step has, else all of them."""
    known = [path for path in item.evidence if path in step.evidence_paths]
    return item.model_copy(update={"evidence": known or list(step.evidence_paths)})


def score_ceiling(outcomes: Sequence[StepOutcome]) -> int:
    """The most a model may score: no credit for blocked steps, and 100 only when all are accepted.

    A model judges quality, not facts: a step that got no answer cannot earn anything, whatever a
    model (or an answer injected into its prompt) claims.
    """
    if not outcomes:
        return 0
    answered = sum(1 for outcome in outcomes if outcome.status != "blocked")
    ceiling = int(Decimal(100 * answered / len(outcomes)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if any(outcome.status != "accepted" for outcome in outcomes):
        ceiling = min(ceiling, 99)
    return ceiling


def settle_answer(request: AnalysisRequest, answer: AnalystAnswer, *, model: str) -> Analysis:
    """The analysis from the model's ``answer``, with the facts of ``request`` enforced.

    Counts come from the outcomes; items naming a step that did not run are dropped; the rule
    analyst's decision rules (applied to the model's score) always apply, and their reason comes
    first when they require a decision.
    """
    steps = {(outcome.scenario, outcome.step): outcome for outcome in request.outcomes}
    ceiling = score_ceiling(request.outcomes)
    if answer.score > ceiling:
        _log.warning("analyst.score.capped", model=model, claimed=answer.score, ceiling=ceiling)
        answer = answer.model_copy(update={"score": ceiling})
    backlog = []
    for item in answer.backlog:
        step = steps.get((item.scenario, item.step))
        if step is None:
            _log.warning("analyst.backlog.unknown_step", scenario=item.scenario, step=item.step, model=model)
            continue
        backlog.append(_grounded(item, step))
    model_reason = " ".join((answer.decision_reason or "").split()) if answer.requires_user_decision else ""
    rule_reason = decision_reason(request.outcomes, answer.score, request.history, request.settings)
    if rule_reason is not None:
        also = (
            f"the model {model} also said: {model_reason}"
            if model_reason
            else f"the model {model} did not ask for a decision, but the rule applies"
        )
        reason: str | None = f"{rule_reason} (a decision rule of the analyst; {also})"
    elif model_reason:
        reason = f"the model {model} asks: {model_reason}"
    else:
        reason = None
    formula = (
        f"score judged by the model {model} (prompt {PROMPT_VERSION}), at most {ceiling} (the share "
        f"of steps answered without being blocked; 100 only when every step is accepted); for "
        f"reference, the rule formula gives {score(request.outcomes)}: {FORMULA}"
    )
    return Analysis(
        score=answer.score,
        counts=count_statuses(request.outcomes),
        backlog=backlog,
        requires_user_decision=reason is not None,
        decision_reason=reason,
        formula=formula,
    )


# ----------------------------------------------------------------------------------- asking


def llm_analyse(
    request: AnalysisRequest, llm: LlmClient, *, emit: Emit | None = None
) -> tuple[Analysis, dict[str, int]]:
    """Ask ``llm`` to analyse ``request``: the analysis (facts enforced) and the token usage.

    Raises what :meth:`LlmClient.complete_json` raises: :class:`~orchestrator.llm.LlmAnswerError`
    when the answer is refused twice, :class:`~orchestrator.llm.LlmError` when the call fails,
    :class:`~orchestrator.llm.LlmNotConfiguredError` when ``llm`` has no model.
    """
    model = llm.model
    if model is None:
        raise LlmNotConfiguredError(
            "the LLM analyst needs a model. Fix: set `model` in orchestrate.toml's [llm] section "
            '(for example model = "gpt-4o-mini"), or use the rule analyst'
        )
    answer, reply = llm.complete_json(
        [ChatMessage(role="user", content=analysis_prompt(request))],
        result_model=AnalystAnswer,
        system=analyst_system_prompt(),
        emit=emit,
    )
    return settle_answer(request, answer, model=model), reply.usage.model_dump()
