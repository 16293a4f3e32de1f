"""The README's scenario file, [sut] stanza and satisfaction policy are valid as written."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from orchestrator.config import SutSection
from orchestrator.policy.satisfaction import SatisfactionPolicy
from orchestrator.scenarios import Scenario, criterion_label

README = Path(__file__).resolve().parents[1] / "README.md"


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"### {title}")
    ends = [found for found in (text.find("\n### ", start + 1), text.find("\n## ", start + 1)) if found != -1]
    return text[start : min(ends) if ends else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


@pytest.mark.timeout(30)
def test_the_readme_scenario_file_validates() -> None:
    (document,) = blocks(section("Scenario files"), "yaml")
    scenario = Scenario.model_validate(yaml.safe_load(document))
    assert scenario.step_ids() == ["ask", "jira_called", "session", "step_04"]
    assert scenario.chaos_profile == "gentle" and scenario.chaos_rules[0].code == 503
    assert [criterion_label(c) for c in scenario.anti_patterns] == ["more than one Jira issue created"]


@pytest.mark.timeout(30)
def test_the_readme_sut_stanza_and_policy_validate() -> None:
    (toml,) = blocks(section("The system under test"), "toml")
    sut = SutSection.model_validate(tomllib.loads(toml)["sut"])
    assert sut.message_path == "POST /api/assistant/message"
    (policy,) = blocks(section("Files and reports"), "yaml")
    loaded = SatisfactionPolicy.model_validate(yaml.safe_load(policy))
    assert loaded.domains == {"auth": 0.95}
