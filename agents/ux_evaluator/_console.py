"""Check ``console_errors``: uncaught exceptions, HTTP errors, console errors and failed captures.

Inputs per capture: its console NDJSON (:class:`~orchestrator.gate.ConsoleEntry` lines), its
network JSON (a list of :class:`~orchestrator.gate.NetworkFailure`), and whether the capture
itself failed. Identities (``scope`` / ``checkId`` / ``locator``):

- uncaught exception: page scope / ``uncaught-exception`` / the message's first line, normalised
  (see :func:`normalise_message`), so the same error on the same page is one finding;
- HTTP 4xx/5xx: ``network`` / ``http-<status>`` / the resource as :func:`~._locators.resource_locator`
  gives it (``/static/missing.png``: no host, port or query). A response recorded by the network
  log and the browser's ``Failed to load resource ... 404`` console line are the same resource,
  and a resource missing on five pages is one finding, so one missing file is one finding;
- any other ``console.error`` line: page scope / ``console-error`` / the normalised message;
- a capture that failed (a route that did not load, a journey step that did not run):
  page scope / ``capture-failed`` / the capture's name; a failed test of a suite:
  ``test:<name>`` / ``test-failed`` / the test's name.

Noise (rubric v1 lists plus the project's ``console.extra_noise*``) is dropped before anything is
counted. Requests that failed without an HTTP status (aborted, refused) are not HTTP errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from orchestrator.agents.ux_evaluator._findings import CheckOutcome, labels_text, new_finding, one_line
from orchestrator.agents.ux_evaluator._inputs import CaptureRef, RunInputs
from orchestrator.agents.ux_evaluator._locators import resource_locator, strip_line_col
from orchestrator.gate import ConsoleEntry, Finding, NetworkFailure
from orchestrator.policy.rubric_v1 import (
    CAPTURE_FAILED_SEVERITY,
    CONSOLE_ERROR_SEVERITY,
    HTTP_ERROR_SEVERITY,
    UNCAUGHT_EXCEPTION_SEVERITY,
    ConsoleRules,
    Severity,
    classify_console,
    http_status_of,
    is_noise,
)
from orchestrator.policy.test_profiles import CheckName
from orchestrator.validation import explain_validation_error

__all__ = ["check_console", "normalise_message"]

CHECK: CheckName = "console_errors"
NETWORK_SCOPE = "network"

_URL = re.compile(r"\b(?:https?|wss?)://[^\s'\"()<>]+")
_UNCAUGHT_PREFIX = re.compile(r"^\s*Uncaught\s+(?:\(in promise\)\s*)?", re.IGNORECASE)
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
_LONG_HEX = re.compile(r"\b[0-9a-fA-F]{16,}\b")
# Every number: counters, ids, sizes and indexes change between runs and across a loop's messages,
# and a message that differs only in them is the same defect (one finding, not thousands).
_NUMBER = re.compile(r"\b\d+\b")
_ISO_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?\b")


def display_message(text: str, page_url: str | None = None) -> str:
    """The first line of a message with its URLs as stable locators, for descriptions."""
    line = next((candidate.strip() for candidate in text.splitlines() if candidate.strip()), "")
    return _URL.sub(lambda match: resource_locator(match.group(0), page_url), line)


def normalise_message(text: str, page_url: str | None = None) -> str:
    """The part of an error message that names the defect, without what changes between runs.

    Keeps the first non-empty line (the stack follows it), drops an ``Uncaught`` prefix, turns
    URLs into stable locators (no host, port, query, line or column), and replaces timestamps,
    UUIDs, addresses and numbers by placeholders.
    """
    line = next((candidate.strip() for candidate in text.splitlines() if candidate.strip()), "")
    line = _UNCAUGHT_PREFIX.sub("", line)
    line = _URL.sub(lambda match: resource_locator(strip_line_col(match.group(0)), page_url), line)
    line = _ISO_TIME.sub("<time>", line)
    line = _UUID.sub("<uuid>", line)
    line = _ADDRESS.sub("0x<addr>", line)
    line = _LONG_HEX.sub("<hex>", line)
    line = _NUMBER.sub("<n>", line)
    return one_line(line) or "(empty message)"


@dataclass
class _Group:
    severity: Severity
    example: str
    """The first message seen, as descriptions show it (empty for HTTP errors: the locator says it all)."""
    refs: list[CaptureRef] = field(default_factory=list)
    fallback: str = ""
    details: set[str] = field(default_factory=set)


@dataclass
class _State:
    rules: ConsoleRules
    groups: dict[tuple[str, str, str], _Group] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(
        self, key: tuple[str, str, str], severity: Severity, example: str, ref: CaptureRef, fallback: str
    ) -> _Group:
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group(severity=severity, example=example, fallback=fallback)
        group.refs.append(ref)
        return group


def check_console(inputs: RunInputs, rules: ConsoleRules, run_id: str) -> CheckOutcome:
    reason = inputs.no_input_reason()
    if reason is not None:
        return CheckOutcome.skip(CHECK, reason)
    refs = inputs.captures()
    relevant = [ref for ref in refs if ref.capture.console or ref.capture.network or not ref.capture.ok]
    if not relevant:
        why = "no capture recorded console messages or network failures"
        return CheckOutcome.skip(CHECK, why + inputs.not_captured())

    state = _State(rules=rules)
    read = 0
    for ref in relevant:
        if not ref.capture.ok:
            _add_failed_capture(state, ref)
        network = _read_network(inputs, ref, state)
        read += network is not None
        entries = _read_console(inputs, ref, state)
        read += entries is not None
        for failure in network or []:
            _add_network_failure(state, ref, failure)
        for entry in entries or []:
            _add_console_entry(state, ref, entry, network or [])
    if read == 0 and all(ref.capture.ok for ref in relevant):
        why = "no readable console or network file: " + "; ".join(state.problems)
        return CheckOutcome.skip(CHECK, why, state.problems)

    findings = [_finding(inputs, run_id, key, group) for key, group in sorted(state.groups.items())]
    return CheckOutcome(CHECK, findings=findings, problems=state.problems)


def _read_console(inputs: RunInputs, ref: CaptureRef, state: _State) -> list[ConsoleEntry] | None:
    relative = ref.capture.console
    if not relative:
        return None
    lines, problem = inputs.read_lines(relative)
    if lines is None:
        state.problems.append(problem or f"{relative}: unreadable")
        return None
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entries.append(ConsoleEntry.model_validate_json(line))
        except ValidationError as exc:
            invalid = explain_validation_error(exc, model=ConsoleEntry, syntax="json")
            state.problems.append(f"{relative} line {number}: not a console entry ({invalid})")
    return entries


def _read_network(inputs: RunInputs, ref: CaptureRef, state: _State) -> list[NetworkFailure] | None:
    relative = ref.capture.network
    if not relative:
        return None
    document, problem = inputs.read_json(relative)
    if problem is not None:
        state.problems.append(problem)
        return None
    if not isinstance(document, list):
        state.problems.append(f"{relative}: not a list of network failures")
        return None
    failures = []
    for index, item in enumerate(document):
        try:
            failures.append(NetworkFailure.model_validate(item))
        except ValidationError as exc:
            invalid = explain_validation_error(exc, model=NetworkFailure, syntax="json")
            state.problems.append(f"{relative} item {index}: not a network failure ({invalid})")
    return failures


def _add_failed_capture(state: _State, ref: CaptureRef) -> None:
    capture = ref.capture
    check_id = "test-failed" if capture.kind == "test" else "capture-failed"
    scope = f"test:{capture.name}" if capture.kind == "test" else ref.scope
    example = display_message(capture.error or "", capture.url)
    group = state.add((scope, check_id, capture.name), CAPTURE_FAILED_SEVERITY, example, ref, ref.manifest)
    if example:
        group.details.add(example)


def _add_network_failure(state: _State, ref: CaptureRef, failure: NetworkFailure) -> None:
    if failure.status is None or failure.status < 400:
        return
    if is_noise((failure.url,), state.rules.resource_patterns()):
        return
    locator = resource_locator(failure.url, ref.capture.url)
    key = (NETWORK_SCOPE, f"http-{failure.status}", locator)
    group = state.add(key, HTTP_ERROR_SEVERITY, "", ref, ref.capture.network or "")
    group.details.add(failure.method.upper())


def _add_console_entry(
    state: _State, ref: CaptureRef, entry: ConsoleEntry, network: list[NetworkFailure]
) -> None:
    kind = classify_console(entry.type, entry.text, entry.location, state.rules)
    fallback = ref.capture.console or ""
    if kind == "uncaught-exception":
        locator = normalise_message(entry.text, entry.url)
        example = display_message(entry.text, entry.url)
        state.add((ref.scope, kind, locator), UNCAUGHT_EXCEPTION_SEVERITY, example, ref, fallback)
    elif kind == "console-error":
        locator = normalise_message(entry.text, entry.url)
        example = display_message(entry.text, entry.url)
        state.add((ref.scope, kind, locator), CONSOLE_ERROR_SEVERITY, example, ref, fallback)
    elif kind == "http-error":
        _add_console_http_error(state, ref, entry, network, fallback)


def _add_console_http_error(
    state: _State, ref: CaptureRef, entry: ConsoleEntry, network: list[NetworkFailure], fallback: str
) -> None:
    status = http_status_of(entry.text) or 0
    resource = _resource_of(entry)
    if resource is None:
        # The browser did not say which resource; the network log of the same capture usually does.
        if any(failure.status == status for failure in network):
            return
        locator = f"(unidentified resource on {ref.scope})"
    else:
        if is_noise((resource,), state.rules.resource_patterns()):
            return
        locator = resource_locator(resource, entry.url)
    state.add((NETWORK_SCOPE, f"http-{status}", locator), HTTP_ERROR_SEVERITY, "", ref, fallback)


def _resource_of(entry: ConsoleEntry) -> str | None:
    """The failed resource's URL: the message's location (Chromium puts it there), else a URL in the text."""
    if entry.location and "://" in entry.location:
        return strip_line_col(entry.location)
    match = _URL.search(entry.text)
    return strip_line_col(match.group(0)) if match else None


def _finding(inputs: RunInputs, run_id: str, key: tuple[str, str, str], group: _Group) -> Finding:
    scope, check_id, locator = key
    seen = labels_text(ref.label for ref in group.refs)
    example = one_line(group.example, 500)
    if check_id == "uncaught-exception":
        title = f"Uncaught exception on {scope}: {locator}"
        description = f"The page threw an error nobody caught: {example} (seen in {seen})."
        recommendation = (
            "Find where the error is thrown (the console file has the stack), fix its cause, and handle "
            "failures the user can recover from instead of letting them escape."
        )
    elif check_id == "console-error":
        title = f"Console error on {scope}: {locator}"
        description = f"The page logged an error: {example} (seen in {seen})."
        recommendation = (
            "Fix the condition the page reports, or stop logging it as an error if it is expected."
        )
    elif check_id.startswith("http-"):
        status = check_id.removeprefix("http-")
        methods = ", ".join(sorted(group.details))
        title = f"HTTP {status} for {locator}"
        request = f"A {methods} request" if methods else "A request"
        description = f"{request} for {locator} answered HTTP {status}; seen in {seen}."
        recommendation = (
            f"Serve {locator}, or remove the reference to it; if it is optional, request it only when it "
            "exists."
            if status.startswith("4")
            else f"Fix the server error behind {locator} (its logs have the cause) and handle the failure in "
            "the page."
        )
    else:
        what = "test" if check_id == "test-failed" else "capture"
        errors = "; ".join(sorted(group.details)) or "no error was recorded"
        title = f"{what.capitalize()} failed: {locator}"
        description = f"The {what} {locator} failed ({errors}); seen in {seen}."
        recommendation = (
            "Open the evidence and the driver's trace for this capture, fix what stops it, and run the "
            "gate again."
        )
    evidence = inputs.evidence_for(group.refs, group.fallback or group.refs[0].manifest)
    return new_finding(
        run_id=run_id,
        check=CHECK,
        severity=group.severity,
        scope=scope,
        check_id=check_id,
        locator=locator,
        evidence_path=evidence,
        title=title,
        description=description,
        recommendation=recommendation,
    )
