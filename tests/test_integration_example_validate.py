"""The bundled scenario example, as its README walk-through runs it: gentle chaos, then hostile.

Under hostile chaos satisfaction drops and the demo's duplicate-ticket defect (a blind retry
after an ambiguous Jira timeout) shows up as the matched anti-pattern. The text criterion is
judged by the openai twin serving the example's stand-in judge model (``judge-model.yaml``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orchestrator.twins import serve_twins

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "integration"
SCENARIOS = ("slack-to-jira", "sso-login", "locked-account")
DUPLICATE = "more than one Jira issue created"


def validate(root: Path, profile: str, judge_url: str) -> tuple[int, dict]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ORCHESTRATE_")}
    env.update(
        ORCHESTRATE_LLM__MODEL="gpt-4o-mini",
        ORCHESTRATE_LLM__BASE_URL=judge_url,
        ORCHESTRATE_LLM__API_KEY_ENV="JUDGE_KEY",
        JUDGE_KEY="sk-twin-valid",
    )
    args = [
        "validate",
        *SCENARIOS,
        "--chaos-profile",
        profile,
        "--count",
        "20",
        "--seed",
        "5",
        "--parallel",
        "4",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "-C", str(root), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    summary = json.loads(done.stdout)
    report = json.loads(Path(summary["report"]).read_text())
    return done.returncode, report


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_hostile_chaos_lowers_satisfaction_and_shows_the_duplicate_ticket(tmp_path: Path) -> None:
    root = tmp_path / "integration"
    shutil.copytree(
        EXAMPLE, root, ignore=shutil.ignore_patterns(".orchestrator", "runs", "reports", "__pycache__")
    )
    judge = yaml.safe_load((root / "judge-model.yaml").read_text())
    with serve_twins(["openai"], seed=1, data=judge) as twins:
        gentle_code, gentle = validate(root, "gentle", twins["openai"])
        hostile_code, hostile = validate(root, "hostile", twins["openai"])

    def scenario(report: dict, scenario_id: str) -> dict:
        return next(entry for entry in report["scenarios"] if entry["id"] == scenario_id)

    # Margins, not exact values: the demo's 1 s timeouts make a busy machine a little hostile too.
    assert gentle["overall"]["satisfaction"] >= 0.85 and gentle["overall"]["unjudged"] == 0
    assert hostile["overall"]["satisfaction"] < gentle["overall"]["satisfaction"] - 0.3
    assert hostile_code == 1 and hostile["overall"]["passed"] is False
    assert DUPLICATE not in [
        entry["criterion"] for entry in scenario(gentle, "slack-to-jira")["anti_patterns"]
    ]
    duplicates = {
        entry["criterion"]: entry["count"] for entry in scenario(hostile, "slack-to-jira")["anti_patterns"]
    }
    assert duplicates.get(DUPLICATE, 0) >= 1
    # The second run is compared with the first, with the test named.
    comparison = hostile["overall"]["comparison"]
    assert comparison["previous_run"] == gentle["run_id"] and comparison["verdict"] == "regressed"
    assert comparison["test"] in ("boschloo", "fisher")
    # Chaos-aware: the split by injected chaos is reported.
    assert scenario(hostile, "slack-to-jira")["with_chaos"]["trajectories"] > 0
    assert gentle_code in (0, 1)
