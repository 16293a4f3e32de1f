"""The LLM judge: the prompt, the answer it must give, and asking the scenario's model.

The model sees what the user saw: the persona and intent, each step's request and answer, a
summary of the requests the twins served, and the failures chaos injected, then decides the
numbered text criteria and text anti-patterns. It answers :class:`JudgeAnswer`; an answer that
does not decide every criterion and anti-pattern exactly once is refused like malformed JSON,
so the client shows the model what was wrong and asks once more.

Chaos-aware: the system prompt always says that injected failures are the test, not the
system's fault, and that only how the system handled them counts; a scenario's own
``judge.system_prompt`` replaces the first paragraph (who the judge is), never that rule or the
answer format. The prompt stays under :data:`PROMPT_LIMIT` characters: step answers share what
the other sections leave, the shortest kept whole, and every cut is marked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.llm import ChatMessage, Emit, LlmAnswer, LlmClient, LlmSection
from orchestrator.scenarios import Scenario, StepResult, Trajectory

__all__ = [
    "PROMPT_LIMIT",
    "PROMPT_VERSION",
    "AntiPatternDecision",
    "CriterionDecision",
    "JudgeAnswer",
    "JudgeClients",
    "answer_model",
    "ask_model",
    "judge_prompt",
    "system_prompt",
]

PROMPT_VERSION = "judge-v1"
"""Changes whenever the prompt or the answer schema changes, so judgments can be compared."""
PROMPT_LIMIT = 12_000
"""Characters of system prompt plus user message the judge aims to stay under."""

DEFAULT_ROLE = (
    "You judge whether an AI-powered system satisfied one of its users. You read what the user "
    "asked, what the system answered and which third-party API calls it made, then decide each "
    "criterion strictly from that evidence: a claim the evidence does not show is not met."
)
CHAOS_RULE = (
    "Some runs inject failures into the third-party services on purpose (rate limits, server "
    "errors, timeouts, stale data). Such a failure is part of the test, not a fault of the "
    "system: never hold the failure itself against it. Judge only how the system handled it: "
    "an honest message about what failed, or a retry that then worked, is graceful handling; "
    "hiding the failure, claiming success that did not happen, or losing the user's request is not."
)
ANSWER_FORMAT = (
    "Answer with one JSON object and nothing else: "
    '{"criteria": [{"index": 1, "met": true, "reason": "..."}], '
    '"anti_patterns": [{"index": 1, "matched": false, "reason": "..."}], '
    '"confidence": 0.9, "reasoning": "..."}. Give exactly one entry for every numbered criterion '
    "and every numbered anti-pattern, with its number as index (an empty list when there are "
    "none); reason in one sentence citing the evidence; confidence from 0 to 1 is how sure you "
    "are of the whole judgment; reasoning sums it up in two or three sentences."
)

_CALLS_SHOWN = 40
_REQUEST_CHARS = 300
_MIN_STEP_BUDGET = 1_500
_CUT_NOTE = "Some step answers were cut to keep this prompt short; cuts are marked."


# ----------------------------------------------------------------------------------- answer


class _Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=1, description="The number of the criterion or anti-pattern in the prompt.")
    reason: str = Field(description="One sentence citing the evidence.")


class CriterionDecision(_Decision):
    met: bool


class AntiPatternDecision(_Decision):
    matched: bool


class JudgeAnswer(BaseModel):
    """The model's judgment of the text criteria and anti-patterns (see :func:`answer_model`)."""

    model_config = ConfigDict(extra="forbid")

    criteria: list[CriterionDecision]
    anti_patterns: list[AntiPatternDecision]
    confidence: float = Field(ge=0.0, le=1.0)
    reasoning: str

    expected_criteria: ClassVar[int | None] = None
    expected_anti_patterns: ClassVar[int | None] = None

    @field_validator("criteria")
    @classmethod
    def _every_criterion_once(cls, value: list[CriterionDecision]) -> list[CriterionDecision]:
        _check_indexes([item.index for item in value], cls.expected_criteria, "criterion")
        return value

    @field_validator("anti_patterns")
    @classmethod
    def _every_anti_pattern_once(cls, value: list[AntiPatternDecision]) -> list[AntiPatternDecision]:
        _check_indexes([item.index for item in value], cls.expected_anti_patterns, "anti-pattern")
        return value


def _check_indexes(indexes: list[int], expected: int | None, noun: str) -> None:
    if expected is None:
        return
    wanted = set(range(1, expected + 1))
    twice = sorted({index for index in indexes if indexes.count(index) > 1})
    missing = sorted(wanted - set(indexes))
    unknown = sorted(set(indexes) - wanted)
    if not (twice or missing or unknown):
        return
    problems = [
        f"index {_numbers(twice)} more than once" if twice else "",
        f"no entry for {_numbers(missing)}" if missing else "",
        f"index {_numbers(unknown)}, which is no {noun} number" if unknown else "",
    ]
    scope = f"1 to {expected}" if expected else "none: give an empty list"
    raise ValueError(f"{'; '.join(p for p in problems if p)}. Give one entry per {noun}, indexes {scope}")


def _numbers(values: list[int]) -> str:
    return ", ".join(str(value) for value in values)


def answer_model(criteria: int, anti_patterns: int) -> type[JudgeAnswer]:
    """:class:`JudgeAnswer` refusing an answer that does not decide each item exactly once."""
    namespace = {"expected_criteria": criteria, "expected_anti_patterns": anti_patterns}
    return type("JudgeAnswer", (JudgeAnswer,), namespace)


# ----------------------------------------------------------------------------------- prompt


def system_prompt(scenario: Scenario) -> str:
    """The judge's instructions: its role (the scenario's own, if it gives one), chaos, answer format."""
    role = (scenario.judge.system_prompt or "").strip() or DEFAULT_ROLE
    return "\n\n".join([role, CHAOS_RULE, ANSWER_FORMAT])


def judge_prompt(
    scenario: Scenario,
    trajectory: Trajectory,
    criteria: Sequence[str],
    anti_patterns: Sequence[str],
    *,
    limit: int = PROMPT_LIMIT,
    system: str = "",
) -> str:
    """The user message: the evidence, then the numbered text criteria and anti-patterns to decide.

    ``system`` is the system prompt sent with it, counted against ``limit``.
    """
    persona = scenario.persona
    head = [
        "## The user",
        f"Role: {persona.role}",
        *([f"Expertise: {persona.expertise}"] if persona.expertise else []),
        *([f"Goals: {'; '.join(persona.goals)}"] if persona.goals else []),
        f"Intent: {scenario.intent}",
    ]
    tail = [
        "## API calls the system made (as the third-party services saw them)",
        *_api_calls(trajectory),
        "",
        "## Failures injected on purpose",
        *_chaos(trajectory),
        "",
        "## Criteria to decide (is each one met?)",
        *_numbered(criteria),
        "",
        "## Anti-patterns to decide (did the system do this?)",
        *_numbered(anti_patterns),
        "",
        f"The scenario needs {_mode(scenario.criteria_mode)}, and no anti-pattern. "
        "Decide each numbered item on its own; the overall verdict is computed from your decisions"
        + (" and from checks made without you." if _has_checks(scenario) else "."),
    ]
    if trajectory.status != "completed":
        tail.insert(
            0, f"(The run ended early: {trajectory.status}, {trajectory.error or 'no error recorded'}.)"
        )
    fixed = len(system) + sum(len(line) + 1 for line in [*head, *tail]) + 200
    budget = max(_MIN_STEP_BUDGET, limit - fixed)
    steps, cut = _steps(trajectory.steps, budget)
    body = [*head, "", "## What happened, step by step", *([_CUT_NOTE] if cut else []), *steps, "", *tail]
    return "\n".join(body)


def _has_checks(scenario: Scenario) -> bool:
    return any(
        not isinstance(item, str) for item in [*scenario.satisfaction_criteria, *scenario.anti_patterns]
    )


def _mode(mode: str) -> str:
    return "every criterion met" if mode == "all" else "at least one criterion met"


def _numbered(items: Sequence[str]) -> list[str]:
    return [f"{number}. {text}" for number, text in enumerate(items, start=1)] or ["(none)"]


def _api_calls(trajectory: Trajectory) -> list[str]:
    calls = [event for event in trajectory.events if event.type == "api_call"]
    lines = []
    for event in calls[:_CALLS_SHOWN]:
        detail = event.detail
        chaos = detail.get("chaos")
        injected = (
            f" [injected: {chaos.get('mode')}]" if isinstance(chaos, dict) and chaos.get("mode") else ""
        )
        lines.append(
            f"- at {event.at_ms:.0f} ms: {detail.get('service')} {detail.get('method')} {detail.get('path')}"
            f" -> {detail.get('response_code')}{injected}"
        )
    if len(calls) > _CALLS_SHOWN:
        lines.append(f"- ... and {len(calls) - _CALLS_SHOWN} more calls")
    return lines or ["(none)"]


def _chaos(trajectory: Trajectory) -> list[str]:
    if not trajectory.chaos:
        return ["(none: every failure in this run is the system's own)"]
    grouped: dict[tuple[str, str, str | None], list[float]] = {}
    for record in trajectory.chaos:
        grouped.setdefault((record.mode, record.twin, record.route), []).append(record.at_ms)
    lines = [
        f"- {mode} on the {twin} service"
        + (f", route {route}" if route else "")
        + f": {len(times)} time{'s' if len(times) != 1 else ''}, first at {min(times):.0f} ms"
        for (mode, twin, route), times in grouped.items()
    ]
    lines.append(
        "These were injected by the test. Do not hold them against the system; judge only how it "
        "handled them (an honest error message or a retry that worked is graceful)."
    )
    return lines


def _steps(steps: Sequence[StepResult], budget: int) -> tuple[list[str], bool]:
    """Each step as text, answers sharing ``budget`` characters; whether any answer was cut."""
    if not steps:
        return ["(no step ran)"], False
    headers = [_step_header(step) for step in steps]
    answers = [_answer_text(step) for step in steps]
    room = max(0, budget - sum(len(header) + 12 for header in headers))
    allowed = _share(room, [len(answer) for answer in answers])
    lines, cut = [], False
    for header, answer, size in zip(headers, answers, allowed, strict=True):
        lines.append(header)
        if not answer:
            continue
        if len(answer) > size:
            cut = True
            answer = f"{answer[:size]} [... {len(answer) - size} more characters cut]"
        lines.append(f"  Answer: {answer}")
    return lines, cut


def _share(room: int, sizes: list[int]) -> list[int]:
    """How much of ``room`` each size gets: the smallest whole, the rest split evenly."""
    allowed = [0] * len(sizes)
    left = room
    order = sorted(range(len(sizes)), key=sizes.__getitem__)
    for taken, index in enumerate(order):
        share = left // (len(sizes) - taken)
        allowed[index] = min(sizes[index], share)
        left -= allowed[index]
    return allowed


def _step_header(step: StepResult) -> str:
    request = json.dumps(step.request, ensure_ascii=False, default=str) if step.request else ""
    if len(request) > _REQUEST_CHARS:
        request = request[:_REQUEST_CHARS] + " [... cut]"
    status = f", HTTP {step.response_status}" if step.response_status is not None else ""
    failures = f"\n  Unmet: {'; '.join(step.failures)[:_REQUEST_CHARS]}" if step.failures else ""
    asked = f"\n  Request: {request}" if request else ""
    return f"- Step {step.id} ({step.kind}, {step.status}{status}){asked}{failures}"


def _answer_text(step: StepResult) -> str:
    if step.text:
        return step.text
    if step.json_body is not None:
        return json.dumps(step.json_body, ensure_ascii=False)
    return ""


# ---------------------------------------------------------------------------- asking


def ask_model(
    llm: LlmClient,
    scenario: Scenario,
    trajectory: Trajectory,
    criteria: Sequence[str],
    anti_patterns: Sequence[str],
    *,
    emit: Emit | None = None,
) -> tuple[JudgeAnswer, LlmAnswer]:
    """Ask ``llm`` to decide the text ``criteria`` and ``anti_patterns`` of ``trajectory``.

    Raises what :meth:`LlmClient.complete_json` raises: :class:`~orchestrator.llm.LlmAnswerError`
    when the answer is refused twice, :class:`~orchestrator.llm.LlmError` when the call fails.
    """
    system = system_prompt(scenario)
    prompt = judge_prompt(scenario, trajectory, criteria, anti_patterns, system=system)
    return llm.complete_json(
        [ChatMessage(role="user", content=prompt)],
        result_model=answer_model(len(criteria), len(anti_patterns)),
        system=system,
        emit=emit,
    )


# ---------------------------------------------------------------------------- clients


class JudgeClients:
    """One :class:`LlmClient` per model, made when first needed: the ``[llm]`` model, or a scenario's own.

    ``env``, ``transport`` and ``sleep`` are handed to every client (see :class:`LlmClient`).
    Close it (or use it as a context manager) to close every client it made.
    """

    def __init__(
        self,
        settings: LlmSection,
        *,
        env: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        **client_options: Any,
    ) -> None:
        self.settings = settings
        self._env = env
        self._transport = transport
        self._options = client_options
        self._clients: dict[str, LlmClient] = {}

    def __enter__(self) -> JudgeClients:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[LlmClient]:
        return iter(list(self._clients.values()))

    def for_scenario(self, scenario: Scenario) -> LlmClient | None:
        """The client of ``scenario.judge.model`` (else the ``[llm]`` model); ``None`` when neither is set."""
        model = scenario.judge.model or self.settings.model
        if model is None:
            return None
        client = self._clients.get(model)
        if client is None:
            settings = self.settings.model_copy(update={"model": model})
            client = LlmClient(settings, env=self._env, transport=self._transport, **self._options)
            self._clients[model] = client
        return client

    def close(self) -> None:
        """Close every client made so far (idempotent)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
