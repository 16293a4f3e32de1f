"""The satisfaction policy: thresholds, their precedence, the shipped default and a project's override."""

from __future__ import annotations

from importlib import resources
from itertools import takewhile
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from orchestrator.errors import ConfigError
from orchestrator.policy.satisfaction import SatisfactionPolicy, domain_threshold, threshold_for
from orchestrator.policyfiles import available_policies
from orchestrator.satisfaction import load_satisfaction_policy

POLICY = SatisfactionPolicy.model_validate(
    {"global": 0.8, "domains": {"billing": 0.9}, "scenarios": {"refund": 0.7}}
)


def policy_file(root: Path, text: str) -> Path:
    path = root / ".orchestrator" / "policy" / "satisfaction.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_default() -> None:
    assert "satisfaction" in available_policies()
    policy = load_satisfaction_policy(None)
    assert policy == SatisfactionPolicy()
    assert (policy.global_threshold, policy.domains, policy.scenarios) == (0.8, {}, {})


def test_the_global_threshold_is_the_key_global_in_a_file_and_global_threshold_in_code() -> None:
    assert SatisfactionPolicy.model_validate({"global": 0.6}).global_threshold == 0.6
    assert SatisfactionPolicy(global_threshold=0.6) == SatisfactionPolicy.model_validate({"global": 0.6})


def test_a_scenario_files_own_threshold_wins() -> None:
    assert threshold_for(POLICY, scenario_id="refund", domain="billing", scenario_threshold=0.5) == 0.5
    # 0 is a threshold, not a missing one.
    assert threshold_for(POLICY, scenario_id="refund", domain="billing", scenario_threshold=0.0) == 0.0


def test_then_the_policy_scenario_then_the_domain_then_global() -> None:
    assert threshold_for(POLICY, scenario_id="refund", domain="billing", scenario_threshold=None) == 0.7
    assert threshold_for(POLICY, scenario_id="invoice", domain="billing", scenario_threshold=None) == 0.9
    assert threshold_for(POLICY, scenario_id="invoice", domain="support", scenario_threshold=None) == 0.8


def test_domain_threshold() -> None:
    assert domain_threshold(POLICY, "billing") == 0.9
    assert domain_threshold(POLICY, "support") == 0.8


@pytest.mark.parametrize(
    "document", [{"global": 1.1}, {"global": -0.1}, {"domains": {"a": 2}}, {"scenarios": {"a": -1}}]
)
def test_thresholds_are_shares_0_to_1(document: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SatisfactionPolicy.model_validate(document)


def test_a_project_overrides_what_it_states(tmp_path: Path) -> None:
    policy_file(tmp_path, "global: 0.9\ndomains:\n  billing: 0.95\n")
    policy = load_satisfaction_policy(tmp_path)
    assert policy.global_threshold == 0.9
    assert policy.domains == {"billing": 0.95}
    assert policy.scenarios == {}
    assert threshold_for(policy, scenario_id="x", domain="billing", scenario_threshold=None) == 0.95


def test_without_a_project_file_a_project_gets_the_default(tmp_path: Path) -> None:
    assert load_satisfaction_policy(tmp_path) == SatisfactionPolicy()


def test_a_threshold_over_1_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = policy_file(tmp_path, "domains:\n  billing: 1.5\n")
    with pytest.raises(ConfigError) as info:
        load_satisfaction_policy(tmp_path)
    assert info.value.path == path
    assert info.value.field == "domains.billing"
    assert str(path) in str(info.value) and "1.5" in str(info.value)


def test_a_global_that_is_not_a_number_names_the_key_users_write(tmp_path: Path) -> None:
    path = policy_file(tmp_path, "global: high\n")
    with pytest.raises(ConfigError) as info:
        load_satisfaction_policy(tmp_path)
    assert info.value.path == path
    assert info.value.field == "global"
    assert "global: 0.8" in info.value.fix


def test_an_unknown_key_lists_the_known_ones(tmp_path: Path) -> None:
    policy_file(tmp_path, "globl: 0.9\n")
    with pytest.raises(ConfigError) as info:
        load_satisfaction_policy(tmp_path)
    assert info.value.field == "globl"
    assert "global, domains, scenarios" in str(info.value)


def test_the_example_in_the_default_files_comments_is_a_valid_override() -> None:
    text = (resources.files("orchestrator.policy") / "defaults" / "satisfaction.yaml").read_text("utf-8")
    assert ".orchestrator/policy/satisfaction.yaml" in text
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip().endswith("for example:")) + 1
    example = [
        line.removeprefix("#  ") for line in takewhile(lambda line: line.startswith("#   "), lines[start:])
    ]
    document = yaml.safe_load("\n".join(example))
    assert set(document) == {"global", "domains", "scenarios"}
    SatisfactionPolicy.model_validate(document)
