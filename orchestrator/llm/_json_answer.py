"""A model's JSON answer: read it, validate it as a model, and say what was wrong when it is not right.

Models asked for JSON sometimes wrap it in a Markdown code fence (```json ... ```); the fence is
taken off. What was wrong is phrased by :mod:`orchestrator.validation` (``field: problem. Fix:
...``), because the same sentence that helps a user fix a file helps a model fix its answer.
"""

from __future__ import annotations

import json
import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from orchestrator.llm._models import ChatMessage, LlmAnswerError
from orchestrator.validation import explain_validation_error

__all__ = ["feedback", "parse_json_answer", "schema_name_of"]

M = TypeVar("M", bound=BaseModel)

_FENCED = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n(?P<body>.*?)\n?[ \t]*```", re.DOTALL)
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def schema_name_of(model: type[BaseModel]) -> str:
    """A schema name providers accept (letters, digits, ``_`` and ``-``, at most 64) for ``model``."""
    return _NAME_UNSAFE.sub("_", model.__name__)[:64] or "answer"


def parse_json_answer(text: str, result_model: type[M]) -> M:
    """``text`` (or the code fence in it) as a ``result_model``; :class:`LlmAnswerError` says why not."""
    fenced = _FENCED.search(text)
    document = fenced["body"] if fenced else text
    try:
        data = json.loads(document)
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise LlmAnswerError(f"it is not JSON: {getattr(exc, 'msg', exc)}{where}", text) from None
    try:
        return result_model.model_validate(data)
    except ValidationError as exc:
        problem = explain_validation_error(exc, model=result_model, syntax="json")
        raise LlmAnswerError(f"it does not match the schema: {problem}", text) from None


def feedback(answer_text: str, reason: str) -> list[ChatMessage]:
    """The turns that show the model its rejected answer and ask again, saying what was wrong."""
    return [
        ChatMessage(role="assistant", content=answer_text),
        ChatMessage(
            role="user",
            content=(
                f"That answer was not accepted: {reason}. Answer again with one JSON object only, "
                "matching the JSON Schema you were given, and nothing else."
            ),
        ),
    ]
