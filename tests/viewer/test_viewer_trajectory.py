"""One trajectory of a real scenario run opened as a run detail of its own: through the API
(``GET /runs/{id}?trajectory=``) and by a click in the page's scenario panel.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from orchestrator.config import load_config
from orchestrator.pipelines.scenarios import RunOptions, run_scenarios
from tests.scenarios.pipeline_support import make_project
from tests.viewer.test_viewer_page import in_browser
from tests.viewer.viewer_support import serve

pytestmark = pytest.mark.slow


@pytest.mark.timeout(120)
@pytest.mark.browser
def test_a_trajectory_opens_as_a_run_of_its_own(tmp_path: Path) -> None:
    config = load_config(make_project(tmp_path / "desk"), env={})
    run = run_scenarios(config, RunOptions(seed=3, count=2), judge=True)
    with serve(config) as served:
        whole = served.client.get(f"/runs/{run.run_id}").json()
        trajectories = [t["id"] for s in whole["job"]["scenarios"] for t in s["trajectories"]]
        assert len(trajectories) == 2
        first = trajectories[0]
        one = served.client.get(f"/runs/{run.run_id}", params={"trajectory": first}).json()
        assert one["trajectory"] == first
        own = [e for e in one["events"] if e["event_type"].startswith("trajectory.")]
        assert own and all(e["payload"].get("trajectory_id") == first for e in own)
        workers = {d["worker_type"] for d in one["delegations"]}
        assert workers == {"trajectory-runner", "trajectory-judge"}
        assert len(one["events"]) < len(whole["events"])
        missing = served.client.get(f"/runs/{run.run_id}", params={"trajectory": "no-such-trajectory"})
        assert missing.status_code == 404

        async def check(page: Page) -> None:
            await page.goto(f"{served.url}/#/runs/{run.run_id}")
            link = page.locator(".trace-trajectory-link", has_text=first)
            await link.click()
            await expect(page.locator(".trace-trajectory-title")).to_contain_text(first)
            await expect(page.locator(".trace-delegation-band")).to_have_count(len(one["delegations"]))

        in_browser(check)
