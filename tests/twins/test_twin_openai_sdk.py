"""The openai twin driven by the official openai SDK, over real HTTP."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import jsonschema
import openai
import pytest
from pydantic import BaseModel

from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    },
}
RULES = [
    {
        "match": "(?i)weather",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}],
        "reply_after_tool": "It is sunny in Paris.",
    },
    {"match": "(?i)my name is (\\w+)", "reply": "Nice to meet you, \\1!"},
]


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["openai"], seed=1) as running:
        yield running


@pytest.fixture
def client(twins: RunningTwins) -> Iterator[openai.OpenAI]:
    with TwinAdmin(twins.endpoints["openai"].origin) as admin:
        admin.reset({"rules": RULES}, seed=1)
    with openai.OpenAI(base_url=twins["openai"], api_key="sk-twin-valid", max_retries=0) as sdk:
        yield sdk


def test_chat_completion_with_a_tool_loop(client: openai.OpenAI) -> None:
    messages: list[dict[str, object]] = [{"role": "user", "content": "What is the weather like?"}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (tool_call,) = choice.message.tool_calls or []
    assert tool_call.function.name == "get_weather"
    assert json.loads(tool_call.function.arguments) == {"city": "Paris", "unit": "c"}
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": '{"sky": "clear"}'})
    second = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "It is sunny in Paris."
    assert second.usage is not None
    assert second.usage.total_tokens == second.usage.prompt_tokens + second.usage.completion_tokens


def test_a_forcing_tool_choice_is_honoured(client: openai.OpenAI) -> None:
    hello = [{"role": "user", "content": "My name is Ada"}]
    forced = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=hello,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    (tool_call,) = forced.choices[0].message.tool_calls or []
    assert tool_call.function.name == "get_weather"
    arguments = json.loads(tool_call.function.arguments)
    jsonschema.validate(arguments, WEATHER_TOOL["function"]["parameters"])  # type: ignore[index]
    required = client.chat.completions.create(
        model="gpt-4o-mini", messages=hello, tools=[TIME_TOOL, WEATHER_TOOL], tool_choice="required"
    )
    assert [c.function.name for c in required.choices[0].message.tool_calls or []] == ["get_time"]
    weather = [{"role": "user", "content": "weather?"}]
    other = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=weather,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert [c.function.name for c in other.choices[0].message.tool_calls or []] == ["get_time"]
    none = client.chat.completions.create(
        model="gpt-4o-mini", messages=weather, tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert none.choices[0].message.tool_calls is None
    assert none.choices[0].finish_reason == "stop"
    with pytest.raises(openai.BadRequestError, match="tool_choice"):
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=hello,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "launch_rocket"}},
        )


def test_streaming(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "My name is Grace"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "Nice to meet you, Grace!"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    with client.chat.completions.stream(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "weather"}], tools=[WEATHER_TOOL]
    ) as events:
        final = events.get_final_completion()
    assert (final.choices[0].message.tool_calls or [])[0].function.name == "get_weather"


class Address(BaseModel):
    street: str
    city: str


class Person(BaseModel):
    name: str
    age: int
    emails: list[str]
    address: Address
    nickname: str | None


def test_json_schema_response_format_answers_a_valid_document(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 2},
            "temperature": {"type": "number", "minimum": -50, "maximum": 60},
            "conditions": {"type": "array", "items": {"enum": ["sun", "rain", "snow"]}, "minItems": 2},
            "when": {"type": "string", "format": "date-time"},
            "windy": {"type": "boolean"},
        },
        "required": ["city", "temperature", "conditions", "when", "windy"],
        "additionalProperties": False,
    }
    answer = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Describe the weather in Oslo as JSON"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "report", "schema": schema, "strict": True},
        },
    )
    document = json.loads(answer.choices[0].message.content or "")
    jsonschema.validate(document, schema)
    parsed = client.chat.completions.parse(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Who am I?"}], response_format=Person
    )
    person = parsed.choices[0].message.parsed
    assert isinstance(person, Person)
    jsonschema.validate(person.model_dump(), Person.model_json_schema())
    # A scripted reply is sent as written, valid or not: the scenario decides.
    scripted = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "my name is Bob"}],
        response_format={"type": "json_schema", "json_schema": {"name": "report", "schema": schema}},
    )
    assert scripted.choices[0].message.content == "Nice to meet you, Bob!"


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def test_embeddings_are_deterministic_and_derived_from_the_text(client: openai.OpenAI) -> None:
    texts = ["The cat sat on the mat", "A cat sat on a mat", "Quarterly revenue grew by ten percent"]
    first = client.embeddings.create(model="text-embedding-3-small", input=texts)
    again = client.embeddings.create(model="text-embedding-3-small", input=texts)
    vectors = [item.embedding for item in first.data]
    assert [item.embedding for item in again.data] == vectors
    assert [len(vector) for vector in vectors] == [1536] * 3
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-5 for v in vectors)
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.3
    floats = client.embeddings.create(
        model="text-embedding-3-small", input=texts[0], encoding_format="float", dimensions=64
    )
    assert len(floats.data[0].embedding) == 64
    assert floats.usage.total_tokens > 0
    single = client.embeddings.create(model="text-embedding-3-large", input=texts[0])
    assert len(single.data[0].embedding) == 3072
    assert single.data[0].embedding != vectors[0][:3072]


def test_models_list(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert {"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"} <= set(ids)
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-99")


def test_responses_create(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4o-mini", input="My name is Linus", instructions="Be kind")
    assert response.output_text == "Nice to meet you, Linus!"
    assert response.status == "completed"
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    echoed = client.responses.create(
        model="gpt-4o-mini",
        input=[
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": [{"type": "input_text", "text": "Echo this"}]},
        ],
    )
    assert echoed.output_text == "Echo this"
    assert echoed.id != response.id


def test_sdk_errors_are_the_sdks_exceptions(twins: RunningTwins) -> None:
    with (
        openai.OpenAI(base_url=twins["openai"], api_key="sk-twin-expired", max_retries=0) as expired,
        pytest.raises(openai.AuthenticationError),
    ):
        expired.models.list()
