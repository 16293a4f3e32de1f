"""``orchestrate catalog`` refuses what ``run`` would refuse or judge wrongly, at file, line and field.

Every test writes scenario files into a project's ``.scenarios/catalog/<domain>/`` and opens the
catalog the way the CLI and the planner do (:func:`open_catalog`), with the shipped twins and
chaos profiles.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator.agents.runner import Answer, PlaceholderScope, resolve_step
from orchestrator.config import load_config
from orchestrator.pipelines.scenarios import CatalogError, RunOptions, open_catalog, plan_run
from orchestrator.scenarios import Catalog, CatalogProblem, Scenario

pytestmark = pytest.mark.timeout(60)

BASE = """\
id: {id}
domain: {domain}
version: 1
persona: {{role: new customer}}
context:
  services: [slack]
  state: {{customer: Ada, order: {{items: [{{id: 7}}]}}}}
intent: ask for help
steps:
  - id: ask
    user: "Hi, I am {{{{context.state.customer}}}}"
{steps}satisfaction_criteria:
  - the assistant answers politely
{criteria}{extra}"""


def scenario(
    scenario_id: str = "ask-for-help",
    *,
    domain: str = "support",
    steps: str = "",
    criteria: str = "",
    extra: str = "",
) -> str:
    """A valid scenario using the slack twin, with more steps, criteria or top-level keys added."""
    return BASE.format(
        id=scenario_id,
        domain=domain,
        steps=textwrap.indent(textwrap.dedent(steps), "  ") if steps else "",
        criteria=textwrap.indent(textwrap.dedent(criteria), "  ") if criteria else "",
        extra=textwrap.dedent(extra),
    )


def open_project(root: Path, files: dict[str, str]) -> Catalog:
    """Write ``files`` (``domain/id`` -> YAML) into the project at ``root`` and open its catalog."""
    for name, text in files.items():
        path = root / ".scenarios" / "catalog" / f"{name}.scenario.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return open_catalog(load_config(root, env={}))


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line of ``path`` containing ``needle``."""
    found = [number for number, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    return found[occurrence - 1]


def problems_of(catalog: Catalog) -> dict[str, CatalogProblem]:
    """The problems by field; every one names its file, a line, a field, what is wrong and a fix."""
    for problem in catalog.problems:
        assert problem.file.is_file() and problem.line, problem
        assert problem.field and problem.problem and problem.fix, problem
        assert "union[" not in str(problem) and "function-after" not in str(problem), problem
    return {problem.field: problem for problem in catalog.problems}


def the_file(root: Path, name: str = "support/ask-for-help") -> Path:
    return root / ".scenarios" / "catalog" / f"{name}.scenario.yaml"


# --------------------------------------------------------------------------------------- valid


def test_a_scenario_using_every_valid_form_has_no_problems(tmp_path: Path) -> None:
    steps = """\
    - id: list
      http:
        path: "/items/{{ask.json.items[0].id}}{{ask.json[0]}}"
        query: {who: "{{context.state.order.items[0].id}}"}
    - id: again
      http:
        method: POST
        path: /x/{{list.status}}
        headers: {Authorization: "Bearer {{twins.slack.token}}"}
        json: {text: "{{ask.text}}", whole: "{{list.json}}", at: "{{ twins.slack.url }}"}
        query: {state: "{{context.state}}", also: "{{ask.json}}"}
    - id: posted
      wait_for: {api_call: {service: slack, method: POST}, timeout_ms: 500}
    - twin: {service: slack, assert: {path: "$.messages[*]", count: {min: 1}}}
    """
    criteria = """\
    - twin_state: {service: slack, path: "$.messages[*]", exists: true}
    - api_call: {service: slack, path: /api/chat.postMessage}
    - step: {id: again, status: 200}
    """
    extra = """\
    anti_patterns:
      - api_call: {service: slack, count: {min: 9}}
    chaos: [gentle, {type: error, target: slack, probability: 0.2, code: 503, route: post_message}]
    """
    catalog = open_project(
        tmp_path, {"support/ask-for-help": scenario(steps=steps, criteria=criteria, extra=extra)}
    )
    assert catalog.problems == []
    assert list(catalog.entries) == ["ask-for-help"]


def test_the_shipped_example_and_the_integration_example_have_no_problems(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "integration"
    catalog = open_catalog(load_config(examples, env={}))
    assert catalog.problems == [] and len(catalog.entries) >= 5


# ---------------------------------------------------------------------------------------- chaos


def test_a_misspelt_chaos_profile_is_named_with_the_closest_one(tmp_path: Path) -> None:
    catalog = open_project(
        tmp_path,
        {
            "support/ask-for-help": scenario(extra="chaos: gentel\n"),
            "support/in-a-list": scenario("in-a-list", extra="chaos: [hostle]\n"),
        },
    )
    problems = problems_of(catalog)
    alone = next(p for p in catalog.problems if p.file == the_file(tmp_path))
    assert alone.field == "chaos" and alone.line == line_of(alone.file, "chaos: gentel")
    assert "'gentel'" in alone.problem and alone.fix.startswith("write gentle (the closest name)")
    assert "chaos[0]" in problems and "hostile" in problems["chaos[0]"].fix
    assert catalog.entries == {}


def test_a_chaos_rule_for_a_twin_the_scenario_does_not_use_points_at_the_rule(tmp_path: Path) -> None:
    extra = """\
    chaos:
      - gentle
      - {type: latency, target: slack, probability: 0.5, delay_ms: 10}
      - {type: error, target: jira, probability: 0.1, code: 503}
    """
    catalog = open_project(tmp_path, {"support/ask-for-help": scenario(extra=extra)})
    problem = problems_of(catalog)["chaos[2].target"]
    assert problem.line == line_of(problem.file, "target: jira")
    assert "'jira', a twin the scenario does not use" in problem.problem
    assert "add jira to context.services" in problem.fix and "slack" in problem.fix


def test_a_chaos_rule_on_an_unknown_route_lists_the_routes(tmp_path: Path) -> None:
    extra = "chaos: [{type: error, target: slack, probability: 0.1, route: no_such_route}]\n"
    catalog = open_project(tmp_path, {"support/ask-for-help": scenario(extra=extra)})
    problem = problems_of(catalog)["chaos[0].route"]
    assert "'no_such_route', which is not a route of the slack twin" in problem.problem
    assert "post_message" in problem.fix and problem.line == line_of(problem.file, "no_such_route")


def test_chaos_rules_whose_faults_exceed_one_draw_are_refused(tmp_path: Path) -> None:
    extra = """\
    chaos:
      - {type: error, target: slack, probability: 0.6, code: 503, route: post_message}
      - {type: timeout, target: slack, probability: 0.6, route: post_message}
    """
    catalog = open_project(tmp_path, {"support/ask-for-help": scenario(extra=extra)})
    problem = problems_of(catalog)["chaos[1]"]
    assert "slack.post_message" in problem.problem and "add up to 1.2" in problem.problem
    assert problem.line == line_of(problem.file, "type: timeout")


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        ("{type: eror, target: slack, probability: 0.5}", "chaos[1].type", "must be one of"),
        ("{type: error, target: slack, probability: 1.5}", "chaos[1].probability", "at most 1.0"),
        ("{type: error, target: slack, probability: 0.5, code: 200}", "chaos[1].code", "one of 429, 500"),
        ("{type: latency, target: slack, probability: 0.5, delay_ms: -5}", "chaos[1].delay_ms", "at least 0"),
        ("{type: latency, target: slack, probability: 0.5, code: 503}", "chaos[1]", "code applies to"),
        ("3", "chaos[1]", "a chaos item is a profile's name or a rule"),
    ],
)
def test_a_bad_chaos_rule_reports_its_own_field_on_its_own_line(
    tmp_path: Path, rule: str, field: str, words: str
) -> None:
    extra = f"chaos:\n  - gentle\n  - {rule}\n"
    catalog = open_project(tmp_path, {"support/ask-for-help": scenario(extra=extra)})
    problems = problems_of(catalog)
    assert list(problems) == [field] and words in problems[field].problem
    assert problems[field].line == line_of(the_file(tmp_path), f"  - {rule}")


def test_a_misspelt_chaos_rule_key_is_one_problem_with_the_rename(tmp_path: Path) -> None:
    extra = "chaos: [{type: error, target: slack, probabilty: 0.5}]\n"
    catalog = open_project(tmp_path, {"support/ask-for-help": scenario(extra=extra)})
    problems = problems_of(catalog)
    assert list(problems) == ["chaos[0].probabilty"]
    assert problems["chaos[0].probabilty"].fix == "rename `probabilty` to `probability`, or remove it"


# ------------------------------------------------------------------------------------- services


def test_checks_and_twin_steps_naming_a_twin_outside_services_are_refused(tmp_path: Path) -> None:
    steps = """\
    - id: seen
      wait_for: {twin_state: {service: jira, path: "$.issues[*]", exists: true}}
    - twin: {service: slak, reset: true}
    """
    criteria = """\
    - label: posted
      api_call: {service: slak, method: POST}
    """
    extra = """\
    anti_patterns:
      - twin_state: {service: jira, path: "$.issues[*]", count: {min: 2}}
    """
    catalog = open_project(
        tmp_path, {"support/ask-for-help": scenario(steps=steps, criteria=criteria, extra=extra)}
    )
    problems = problems_of(catalog)
    path = the_file(tmp_path)
    assert set(problems) == {
        "satisfaction_criteria[1].api_call.service",
        "anti_patterns[0].twin_state.service",
        "steps[1].wait_for.twin_state.service",
        "steps[2].twin.service",
    }
    criterion = problems["satisfaction_criteria[1].api_call.service"]
    assert "'slak', which is not in context.services" in criterion.problem
    assert criterion.fix.startswith("use one of: slack")
    assert criterion.line == line_of(path, "api_call: {service: slak")
    assert problems["steps[2].twin.service"].line == line_of(path, "twin: {service: slak")


def test_a_misspelt_service_is_reported_even_with_seed_data_for_the_right_twin(tmp_path: Path) -> None:
    text = scenario().replace(
        "  services: [slack]\n",
        "  services: [slak]\n  data:\n    slack: {channels: [{id: C1, name: support}]}\n",
    )
    problems = problems_of(open_project(tmp_path, {"support/ask-for-help": text}))
    assert "names 'slak', which is not a twin" in problems["context.services[0]"].problem
    data = problems["context.data.slack"]
    assert "'slack', which is not in context.services" in data.problem
    assert data.line == line_of(the_file(tmp_path), "slack: {channels")


# ---------------------------------------------------------------------------------- placeholders

BAD_PLACEHOLDERS = [
    ("{{context.state.custmer}}", "finds nothing in context.state (its keys: customer, order)"),
    ("{{context.state.order.items[3].id}}", "finds nothing in context.state"),
    ("{{context.custmer}}", "context only holds state"),
    ("{{twins.jira.url}}", "no URL or token of a twin this scenario uses"),
    ("{{twins.slack.secret}}", "no URL or token of a twin this scenario uses"),
    ("{{ask.jsn.a}}", "reads jsn.a of step ask"),
    ("{{ask}}", "reads nothing of step ask"),
    ("{{ask.text.more}}", "reads text.more of step ask"),
    ("{{ask[0]}}", "reads [0] of step ask"),
    ("{{ask.json.$[[[bad}}", "is not JSONPath"),
    ("{{ask.json.items[}}", "is not JSONPath (unexpected end of query)"),
]


@pytest.mark.parametrize(("placeholder", "words"), BAD_PLACEHOLDERS)
def test_a_placeholder_the_runner_cannot_resolve_is_refused_at_its_field(
    tmp_path: Path, placeholder: str, words: str
) -> None:
    steps = f"""\
    - id: again
      http: {{method: GET, path: "/x/{placeholder}"}}
    """
    problems = problems_of(open_project(tmp_path, {"support/ask-for-help": scenario(steps=steps)}))
    problem = problems["steps[1].http.path"]
    assert placeholder in problem.problem and words in problem.problem, problem
    assert problem.line == line_of(the_file(tmp_path), "path: ")


@pytest.mark.parametrize(("placeholder", "words"), BAD_PLACEHOLDERS)
def test_the_runner_refuses_every_placeholder_the_catalog_refuses(placeholder: str, words: str) -> None:
    """The catalog's rules are the runner's: each refused placeholder fails there too."""
    steps = [
        {"id": "ask", "user": "hi"},
        {"id": "again", "http": {"method": "GET", "path": f"/x/{placeholder}"}},
    ]
    document = {
        "id": "ask-for-help",
        "domain": "support",
        "persona": {"role": "user"},
        "context": {"services": ["slack"], "state": {"customer": "Ada", "order": {"items": [{"id": 7}]}}},
        "intent": "x",
        "steps": steps,
        "satisfaction_criteria": ["done"],
    }
    parsed = Scenario.model_validate(document)
    scope = PlaceholderScope(
        answers={"ask": Answer(200, '{"a": 1}', {"a": 1, "jsn": {"a": 2}}, True)},
        state=parsed.context.state,
        twins={"slack": ("http://127.0.0.1:1", "xoxb-valid")},
    )
    resolved, why = resolve_step(parsed.steps[1], scope)
    assert resolved is None and why is not None and placeholder.replace(" ", "") in why


def test_placeholders_naming_a_later_or_unknown_step_and_unclosed_ones_are_refused(tmp_path: Path) -> None:
    steps = """\
    - id: early
      http: {method: GET, path: "/x/{{late.text}}", headers: {X-Who: "{{nobody.status}}"}}
    - id: late
      user: "{{ask.text}"
    """
    problems = problems_of(open_project(tmp_path, {"support/ask-for-help": scenario(steps=steps)}))
    assert "'late' is no earlier step (it runs later" in problems["steps[1].http.path"].problem
    assert "'nobody' is no earlier step" in problems["steps[1].http.headers.X-Who"].problem
    unclosed = problems["steps[2].user"]
    assert "opens a placeholder that is never closed: '{{ask.text}'" in unclosed.problem
    assert unclosed.line == line_of(the_file(tmp_path), "{{ask.text}")


# ------------------------------------------------------------------------------ step and checks


def test_a_misspelt_step_action_names_the_key_and_the_action_it_meant(tmp_path: Path) -> None:
    text = scenario(steps="- id: second\n  usr: hello\n", criteria="- api_cal: {service: slack}\n")
    problems = problems_of(open_project(tmp_path, {"support/ask-for-help": text}))
    assert set(problems) == {"steps[1].usr", "satisfaction_criteria[1].api_cal"}
    step = problems["steps[1].usr"]
    assert step.problem.startswith("is not a known field") and step.fix.startswith("rename `usr` to `user`")
    assert step.line == line_of(the_file(tmp_path), "usr: hello")
    assert problems["satisfaction_criteria[1].api_cal"].fix.startswith("rename `api_cal` to `api_call`")


def test_a_step_without_a_recognisable_action_gets_the_list_of_actions(tmp_path: Path) -> None:
    text = scenario(steps="- id: second\n  zzz: hello\n")
    problem = problems_of(open_project(tmp_path, {"support/ask-for-help": text}))["steps[1]"]
    assert "a step has exactly one action of user, http, browser, wait_for or twin" in problem.problem


def test_a_duplicate_step_id_is_reported_at_the_second_step(tmp_path: Path) -> None:
    text = scenario(steps="- user: again\n- id: ask\n  user: once more\n")
    problems = problems_of(open_project(tmp_path, {"support/ask-for-help": text}))
    assert list(problems) == ["steps[2].id"]
    assert "'ask', the id of steps[0] too" in problems["steps[2].id"].problem
    assert problems["steps[2].id"].line == line_of(the_file(tmp_path), "- id: ask", occurrence=2)


def test_every_mistake_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        scenario(steps="- id: more\n  user: ok\n  expect: {stauts: 200}\n")
        .replace("version: 1", "verson: 1")
        .replace("persona:", "persnoa:")
    )
    problems = problems_of(open_project(tmp_path, {"support/ask-for-help": text}))
    path = the_file(tmp_path)
    assert set(problems) == {"verson", "persnoa", "steps[1].expect.stauts"}
    assert problems["verson"].line == line_of(path, "verson:")
    assert problems["persnoa"].fix.startswith("rename `persnoa` to `persona`")
    assert problems["steps[1].expect.stauts"].fix.startswith("rename `stauts` to `status`")


@pytest.mark.parametrize("domain", ['"[red]dom"', "Support", "a--b", "-lead", "x" * 51])
def test_a_domain_is_kebab_case(tmp_path: Path, domain: str) -> None:
    text = scenario(domain=domain)
    (tmp_path / ".scenarios" / "catalog" / "odd").mkdir(parents=True)
    (tmp_path / ".scenarios" / "catalog" / "odd" / "ask-for-help.scenario.yaml").write_text(text)
    catalog = open_catalog(load_config(tmp_path, env={}))
    problems = problems_of(catalog)
    assert (
        list(problems) == ["domain"]
        and "a domain is kebab-case, 1-50 characters" in problems["domain"].problem
    )


def test_short_domains_with_digits_are_kebab_case_too(tmp_path: Path) -> None:
    catalog = open_project(
        tmp_path, {"a/ask-for-help": scenario(domain="a"), "b2-c/x-1": scenario("x-1", domain="b2-c")}
    )
    assert catalog.problems == [] and sorted(catalog.entries) == ["ask-for-help", "x-1"]


GOOD_PLACEHOLDERS = [
    "{{context.state.customer}}",
    "{{context.state.order.items[0].id}}",
    "{{context.state}}",
    "{{twins.slack.url}}",
    "{{twins.slack.token}}",
    "{{ ask.text }}",
    "{{ask.status}}",
    "{{ask.json}}",
    "{{ask.json.items[0].id}}",
    "{{ask.json['items'][0]}}",
]


@pytest.mark.parametrize("placeholder", GOOD_PLACEHOLDERS)
def test_a_placeholder_the_catalog_accepts_is_one_the_runner_resolves(
    tmp_path: Path, placeholder: str
) -> None:
    steps = f"""\
    - id: again
      http: {{method: GET, path: "/x/{placeholder}"}}
    """
    catalog = open_project(tmp_path, {"support/ask-for-help": scenario(steps=steps)})
    assert catalog.problems == []
    parsed = catalog.entries["ask-for-help"].scenario
    scope = PlaceholderScope(
        answers={"ask": Answer(200, "Filed", {"items": [{"id": 7}]}, True)},
        state=parsed.context.state,
        twins={"slack": ("http://127.0.0.1:1", "xoxb-valid")},
    )
    resolved, why = resolve_step(parsed.steps[1], scope)
    assert resolved is not None and why is None and "{{" not in str(resolved.model_dump())


def test_a_run_refuses_bad_chaos_with_the_file_and_line(tmp_path: Path) -> None:
    catalog = open_project(tmp_path, {"support/ask-for-help": scenario(extra="chaos: gentel\n")})
    with pytest.raises(CatalogError) as raised:
        plan_run(load_config(tmp_path, env={}), RunOptions())
    path = the_file(tmp_path)
    assert f"{path}:{line_of(path, 'chaos: gentel')}: chaos: names the chaos profile 'gentel'" in str(
        raised.value
    )
    assert len(catalog.problems) == 1
