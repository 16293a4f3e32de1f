"""The README's improvement-loop section is true: its scenario file, config stanzas and coder
command lines are valid as written, and the scores it quotes are the bundled loop's."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from orchestrator.config import AnalystSection, AssistantSection, CoderSection
from orchestrator.packs import DomainScenario
from tests.packs.loop_support import SCORES

README = Path(__file__).resolve().parents[2] / "README.md"


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


@pytest.mark.timeout(30)
def test_the_scenario_file_in_the_readme_is_valid() -> None:
    (document,) = [yaml.safe_load(block) for block in blocks(section("The improvement loop"), "yaml")]
    scenario = DomainScenario.model_validate(document)
    assert scenario.steps[1].decision is True


@pytest.mark.timeout(30)
def test_the_config_stanzas_in_the_readme_are_valid() -> None:
    text = section("The improvement loop")
    stanza, *commands = blocks(text, "toml")
    document = tomllib.loads(stanza)
    assistant = AssistantSection.model_validate(document["assistant"])
    assert assistant.fields.answer == "$.answer"
    CoderSection.model_validate(document["coder"])
    AnalystSection.model_validate(document["analyst"])
    for line in commands[0].strip().splitlines():
        CoderSection.model_validate(tomllib.loads(line))


@pytest.mark.timeout(30)
def test_the_walk_through_quotes_the_bundled_loops_scores() -> None:
    text = section("The improvement loop")
    quoted = ", ".join(str(score) for score in SCORES)
    assert f"scores: {quoted}." in text
    for n, score in enumerate(SCORES, 1):
        assert f"iteration {n}: score {score} (" in text
