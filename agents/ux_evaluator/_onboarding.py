"""Check ``onboarding_step_count``: onboarding journeys must not ask for too many steps.

A journey counts only its marked steps (what the user sees as a step, not helper waits). With the
default ``rubric-v1`` policy, 8-9 steps are high, 10 or more critical, fewer are fine. Identity:
``scope`` ``journey:<name>``, ``checkId`` ``onboarding-steps``, ``locator`` the journey's name, so
the finding keeps its fingerprint when the count changes. Evidence is the screenshot of the
journey's last captured step, else the manifest that recorded the journey.
"""

from __future__ import annotations

from orchestrator.agents.ux_evaluator._findings import CheckOutcome, new_finding
from orchestrator.agents.ux_evaluator._inputs import RunInputs
from orchestrator.gate import Finding, JourneyRecord
from orchestrator.policy.rubric_v1 import OnboardingRules, Severity, onboarding_severity
from orchestrator.policy.test_profiles import CheckName

__all__ = ["check_onboarding"]

CHECK: CheckName = "onboarding_step_count"
CHECK_ID = "onboarding-steps"


def check_onboarding(inputs: RunInputs, rules: OnboardingRules, run_id: str) -> CheckOutcome:
    reason = inputs.no_input_reason()
    if reason is not None:
        return CheckOutcome.skip(CHECK, reason)
    # The same journey recorded by two drivers is one journey: keep its longest record.
    journeys: dict[str, tuple[JourneyRecord, str]] = {}
    for manifest_name, manifest in inputs.manifests:
        for journey in manifest.journeys:
            if not journey.onboarding:
                continue
            known = journeys.get(journey.name)
            if known is None or journey.step_count > known[0].step_count:
                journeys[journey.name] = (journey, manifest_name)
    if not journeys:
        return CheckOutcome.skip(
            CHECK,
            "no onboarding journey was captured (mark a profile journey `onboarding: true` to measure it)"
            + inputs.not_captured(),
        )
    findings = []
    for name in sorted(journeys):
        journey, manifest_name = journeys[name]
        severity = onboarding_severity(journey.step_count, rules)
        if severity is not None:
            findings.append(_finding(inputs, run_id, journey, manifest_name, severity, rules))
    return CheckOutcome(CHECK, findings=findings)


def _finding(
    inputs: RunInputs,
    run_id: str,
    journey: JourneyRecord,
    manifest_name: str,
    severity: Severity,
    rules: OnboardingRules,
) -> Finding:
    steps = [step for step in journey.steps if step.counted]
    captured = [
        ref
        for ref in inputs.captures()
        if ref.capture.kind == "journey_step"
        and ref.capture.journey == journey.name
        and ref.capture.screenshot
    ]
    # The last screen the user reaches is the one that shows how long the road was.
    captured.sort(key=lambda ref: (ref.capture.step_index or 0, ref.sort_key()), reverse=True)
    evidence = next(
        (shot for ref in captured if (shot := inputs.existing(ref.capture.screenshot)) is not None),
        manifest_name,
    )
    names = ", ".join(f"{index}. {step.name}" for index, step in enumerate(steps, start=1))
    return new_finding(
        run_id=run_id,
        check=CHECK,
        severity=severity,
        scope=f"journey:{journey.name}",
        check_id=CHECK_ID,
        locator=journey.name,
        evidence_path=evidence,
        title=f"Onboarding journey '{journey.name}' takes {len(steps)} steps",
        description=(
            f"The onboarding journey '{journey.name}' asks the user through {len(steps)} steps ({names}). "
            f"Rubric v1 rates {rules.high_at}-{rules.critical_at - 1} steps high and "
            f"{rules.critical_at} or more critical: every extra step loses users before they reach the "
            "product."
        ),
        recommendation=(
            f"Bring the journey below {rules.high_at} steps: merge screens that ask related questions, "
            "defer optional settings until after onboarding, and prefill what can be inferred."
        ),
    )
