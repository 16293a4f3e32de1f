"""The ``openai`` twin's scripted answers: rules, their checks, and what a rule answers.

A rule (the ``rules`` entity, in order) answers when its ``match`` regex is found in the last
user message (and its optional ``model`` regex matches the model): with ``reply`` text
(``\\1``-style groups of the match may be used), with ``tool_calls`` (``[{name, arguments}]``;
once the conversation holds tool results after that user message, with ``reply_after_tool``,
else ``reply``, else the last tool result), or with a scripted API ``error``
(``{status, message, type, code}``). Rules are checked when the twin is reset, so a rule that
would fail at request time is refused with the field and the fix.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from orchestrator.twins import SeedDataError, TwinCall, TwinReply

__all__ = ["answer", "error", "first_matching_rule", "rules_are_valid", "text_of", "tokens"]


def error(
    status: int,
    message: str,
    *,
    kind: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> TwinReply:
    return TwinReply(
        status=status, body={"error": {"message": message, "type": kind, "param": param, "code": code}}
    )


def tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def text_of(content: Any) -> str:
    """A message's text: a plain string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    return ""


def rules_are_valid(data: Mapping[str, list[dict[str, Any]]]) -> None:
    for index, rule in enumerate(data.get("rules", [])):
        for field in ("match", "model"):
            pattern = rule.get(field)
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                raise SeedDataError(
                    f"rules[{index}].{field}",
                    f"is not a valid regular expression ({exc})",
                    'use a Python regular expression, for example "match": "(?i)weather in (\\\\w+)"',
                ) from None
        _check_reply(rule, index)
        _check_error(rule.get("error"), index)
        calls = rule.get("tool_calls")
        if calls is not None and (
            not isinstance(calls, list) or not all(isinstance(c, Mapping) and "name" in c for c in calls)
        ):
            raise SeedDataError(
                f"rules[{index}].tool_calls",
                "must be a list of objects with a name and arguments",
                'write it like "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]',
            )


def _check_reply(rule: Mapping[str, Any], index: int) -> None:
    """A ``reply`` may refer only to groups its ``match`` has (it is expanded with the match)."""
    reply = rule.get("reply")
    if not isinstance(reply, str):
        return
    pattern = re.compile(rule.get("match") or "")
    # An empty match with the same groups, numbered and named alike, to expand the reply against.
    names = {number: name for name, number in pattern.groupindex.items()}
    groups = "".join(
        f"(?P<{names[number]}>)" if number in names else "()" for number in range(1, pattern.groups + 1)
    )
    sample = re.fullmatch(groups, "")
    assert sample is not None  # empty groups always match the empty string
    try:
        sample.expand(reply)
    except (re.error, IndexError) as exc:
        raise SeedDataError(
            f"rules[{index}].reply",
            f"cannot be filled in from the match pattern ({exc}; the pattern has {pattern.groups} group(s))",
            'refer only to groups of "match", for example "match": "weather in (\\w+)", '
            '"reply": "Sunny in \\1"; write a literal backslash as \\\\',
        ) from None


def _check_error(scripted: Any, index: int) -> None:
    """A scripted ``error`` must answer with an HTTP error status (400..599)."""
    if scripted is None:
        return
    if not isinstance(scripted, Mapping):
        raise SeedDataError(
            f"rules[{index}].error",
            "must be an object",
            'write it like "error": {"status": 429, "message": "Rate limit reached"}',
        )
    status = scripted.get("status", 500)
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise SeedDataError(
            f"rules[{index}].error.status",
            f"must be an HTTP error status, a whole number from 400 to 599 (got {status!r})",
            'write it like "error": {"status": 429, "message": "Rate limit reached"}',
        )


def first_matching_rule(call: TwinCall, model: str, last_user: str) -> dict[str, Any] | None:
    for rule in call.state.list("rules"):
        model_pattern = rule.get("model")
        if model_pattern and not re.search(model_pattern, model):
            continue
        if re.search(rule.get("match") or "", last_user):
            return rule
    return None


def answer(
    call: TwinCall, rule: dict[str, Any] | None, last_user: str, tool_results: list[Mapping[str, Any]]
) -> tuple[str | None, list[dict[str, Any]]]:
    if rule is None:
        return last_user, []
    found = re.search(rule.get("match") or "", last_user)
    reply = rule.get("reply")
    if found is not None and isinstance(reply, str):
        reply = found.expand(reply)
    calls = rule.get("tool_calls") or []
    if calls and not tool_results:
        made = []
        for spec in calls:
            arguments = spec.get("arguments", {})
            text = arguments if isinstance(arguments, str) else json.dumps(arguments)
            made.append(
                {
                    "id": f"call_twin_{call.state.next_id('completions')}",
                    "type": "function",
                    "function": {"name": spec["name"], "arguments": text},
                }
            )
        return None, made
    if calls:
        after = rule.get("reply_after_tool")
        if isinstance(after, str):
            return after, []
        if isinstance(reply, str):
            return reply, []
        return text_of(tool_results[-1].get("content")), []
    return reply if isinstance(reply, str) else last_user, []
