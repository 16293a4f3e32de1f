"""Pack and domain scenario files: what users write is read whole, or refused at file, line and field.

Every test writes real files into ``tmp_path`` and reads them with :func:`load_pack` or
:func:`load_domain_scenario`; placeholders, the ``--expect`` syntax and statuses are pure
functions, tested directly.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from orchestrator import packs
from orchestrator.errors import UsageError
from orchestrator.packs import (
    ContainsExpect,
    DomainScenario,
    DomainStep,
    EvidenceExpect,
    MaxMsExpect,
    NotContainsExpect,
    Pack,
    PackError,
    PathExpect,
    Placeholder,
    RouteExpect,
    StepAnswer,
    UnresolvedPlaceholderError,
    case_scenario,
    exit_code,
    load_domain_scenario,
    load_pack,
    parse_expect,
    placeholders,
    resolve,
    worst,
)
from orchestrator.scenarios import CatalogProblem, CountRange

pytestmark = pytest.mark.timeout(60)

STOCK = """\
kind: domain
id: stock-check
brief: A store manager checks stock before ordering.
persona: {role: store manager, expertise: novice, goals: [order in time]}
steps:
  - id: step_01_inventory
    question: What is low on stock?
    expect:
      - {contains: low}
      - {not_contains: error}
      - {path: "$.entries[0].item", equals: flour}
      - {path: "$.entries", exists: true}
      - {path: "$.entries[*]", count: 2}
      - {path: "$.entries[*]", count: {min: 1, max: 3}}
      - {route: inventory_lookup}
      - {evidence: 2}
      - {max_ms: 5000}
  - id: step_02_order
    question: Order {{step_01_inventory.entries[0].item}} for {{semantic_memory.store}}.
    decision: true
    expect:
      - {route: ordering, category: presentation}
      - {contains: ordered, category: evidence}
"""

PACK = """\
id: retail-basics
domain: retail
gate: 90
scenarios:
  - scenarios/stock.scenario.yaml
  - id: returns
    brief: A customer returns an item.
    steps:
      - id: step_01
        question: How do I return this?
        expect: [{contains: receipt}]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[CatalogProblem]:
    with pytest.raises(PackError) as caught:
        load_pack(path)
    return list(caught.value.problems)


def only(problems: list[CatalogProblem]) -> CatalogProblem:
    assert len(problems) == 1, [str(problem) for problem in problems]
    return problems[0]


# ------------------------------------------------------------------------------- valid files


def test_a_pack_reads_inline_and_referenced_scenarios(tmp_path: Path) -> None:
    stock = write(tmp_path / "scenarios" / "stock.scenario.yaml", STOCK)
    pack_path = write(tmp_path / "retail.pack.yaml", PACK)

    pack = load_pack(pack_path)

    assert isinstance(pack, Pack)
    assert (pack.id, pack.domain, pack.gate, pack.max_iterations) == ("retail-basics", "retail", 90, 5)
    assert [scenario.id for scenario in pack.scenarios] == ["stock-check", "returns"]
    assert pack.sources == {"stock-check": stock.resolve(), "returns": pack_path}
    stock_scenario = pack.scenario("stock-check")
    assert stock_scenario.persona is not None and stock_scenario.persona.role == "store manager"
    assert [step.decision for step in stock_scenario.steps] == [False, True]
    assert pack.scenario("returns").kind == "domain"
    with pytest.raises(KeyError):
        pack.scenario("nope")


def test_a_pack_without_gate_or_max_iterations_takes_the_defaults(tmp_path: Path) -> None:
    write(tmp_path / "scenarios" / "stock.scenario.yaml", STOCK)
    pack = load_pack(write(tmp_path / "p.pack.yaml", PACK.replace("gate: 90\n", "")))
    assert (pack.gate, pack.max_iterations) == (80, 5)


def test_every_expect_item_kind_and_its_default_category(tmp_path: Path) -> None:
    scenario = load_domain_scenario(write(tmp_path / "stock.scenario.yaml", STOCK))

    first, second = scenario.steps
    kinds = [type(item) for item in first.expect]
    assert kinds == [
        ContainsExpect,
        NotContainsExpect,
        PathExpect,
        PathExpect,
        PathExpect,
        PathExpect,
        RouteExpect,
        EvidenceExpect,
        MaxMsExpect,
    ]
    assert [item.effective_category for item in first.expect] == [
        "presentation",
        "presentation",
        "presentation",
        "presentation",
        "presentation",
        "presentation",
        "route",
        "evidence",
        "presentation",
    ]
    paths = [item for item in first.expect if isinstance(item, PathExpect)]
    assert [item.test for item in paths] == ["equals", "exists", "count", "count"]
    assert paths[0].equals == "flour"
    assert paths[3].count == CountRange(min=1, max=3)
    assert [item.effective_category for item in second.expect] == ["presentation", "evidence"]


def test_path_equals_null_tests_for_null(tmp_path: Path) -> None:
    step = DomainStep.model_validate(
        {"id": "s1", "question": "q", "expect": [{"path": "$.a", "equals": None}]}
    )
    (item,) = step.expect
    assert isinstance(item, PathExpect) and item.test == "equals" and item.equals is None


# ----------------------------------------------------------------------------- bad items


def test_a_misspelt_key_of_an_expect_item_is_named_with_its_line(tmp_path: Path) -> None:
    text = STOCK.replace('- {path: "$.entries", exists: true}', '- {pth: "$.entries", exists: true}')
    path = write(tmp_path / "stock.scenario.yaml", text)

    with pytest.raises(PackError) as caught:
        load_domain_scenario(path)

    problem = only(list(caught.value.problems))
    assert problem.field == "steps[0].expect[3].pth"
    assert problem.line == 12
    assert "rename `pth` to `path`" in problem.fix


def test_a_bad_item_inside_an_inline_scenario_names_its_pack_field(tmp_path: Path) -> None:
    write(tmp_path / "scenarios" / "stock.scenario.yaml", STOCK)
    text = PACK.replace("expect: [{contains: receipt}]", "expect: [{contains: receipt}, {evidence: 0}]")
    problem = only(problems_of(write(tmp_path / "p.pack.yaml", text)))
    assert problem.field == "scenarios[1].steps[0].expect[1].evidence"
    assert problem.line == 11
    assert "at least 1" in problem.problem


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("{contains: a, route: b}", "exactly one of contains"),
        ("{path: '$.a'}", "exactly one of equals, exists or count"),
        ("{path: '$.a', exists: true, count: 1}", "exactly one of equals, exists or count"),
        ("{path: '$[', exists: true}", "not a valid JSONPath"),
        ("{route: r, category: style}", "must be one of"),
        ("{max_ms: 0}", "greater than 0"),
        ("{path: '$.a', count: {min: 3, max: 1}}", "must not be below min"),
    ],
)
def test_bad_expect_items_are_refused_at_their_field(tmp_path: Path, item: str, words: str) -> None:
    text = STOCK.replace("- {max_ms: 5000}", f"- {item}")
    with pytest.raises(PackError) as caught:
        load_domain_scenario(write(tmp_path / "s.scenario.yaml", text))
    problem = only(list(caught.value.problems))
    assert problem.field.startswith("steps[0].expect[8]"), problem
    assert problem.line == 17
    assert words in str(problem)


def test_a_scenario_file_must_say_kind_domain(tmp_path: Path) -> None:
    with pytest.raises(PackError) as caught:
        load_domain_scenario(write(tmp_path / "s.scenario.yaml", STOCK.replace("kind: domain\n", "")))
    problem = only(list(caught.value.problems))
    assert (problem.field, problem.problem) == ("kind", "is required but missing")


def test_step_ids_are_unique_in_a_scenario(tmp_path: Path) -> None:
    text = STOCK.replace("id: step_02_order", "id: step_01_inventory").replace(
        "Order {{step_01_inventory.entries[0].item}}", "Order flour"
    )
    with pytest.raises(PackError) as caught:
        load_domain_scenario(write(tmp_path / "s.scenario.yaml", text))
    problem = only(list(caught.value.problems))
    assert (problem.field, problem.line) == ("steps[1].id", 18)


# ------------------------------------------------------------------------- placeholder checks


def scenario_with(question: str, *, first: str = "step_01", second: str = "step_02") -> str:
    return (
        f"kind: domain\nid: two-steps\nbrief: b\nsteps:\n"
        f"  - id: {first}\n    question: first\n"
        f"  - id: {second}\n    question: '{question}'\n"
    )


def placeholder_problem(tmp_path: Path, question: str) -> CatalogProblem:
    with pytest.raises(PackError) as caught:
        load_domain_scenario(write(tmp_path / "s.scenario.yaml", scenario_with(question)))
    problem = only(list(caught.value.problems))
    assert (problem.field, problem.line) == ("steps[1].question", 8)
    return problem


def test_a_placeholder_may_name_an_earlier_step_or_a_session_field(tmp_path: Path) -> None:
    question = "{{step_01.entries[0].item}} {{step_01.text}} {{semantic_memory.active_result_set_id}}"
    scenario = load_domain_scenario(write(tmp_path / "s.scenario.yaml", scenario_with(question)))
    assert scenario.steps[1].question == question


def test_a_placeholder_naming_the_same_or_a_later_step_is_refused(tmp_path: Path) -> None:
    assert "not an earlier step" in placeholder_problem(tmp_path, "{{step_02.text}}").problem
    text = (
        "kind: domain\nid: two-steps\nbrief: b\nsteps:\n"
        "  - id: step_01\n    question: '{{step_02.text}}'\n  - id: step_02\n    question: q\n"
    )
    with pytest.raises(PackError) as caught:
        load_domain_scenario(write(tmp_path / "later.scenario.yaml", text))
    problem = only(list(caught.value.problems))
    assert (problem.field, problem.line) == ("steps[0].question", 6)
    assert "not an earlier step" in problem.problem


def test_a_placeholder_path_that_does_not_compile_is_refused(tmp_path: Path) -> None:
    problem = placeholder_problem(tmp_path, "{{step_01.entries[}}")
    assert "is not JSONPath" in problem.problem


def test_an_unclosed_placeholder_is_refused(tmp_path: Path) -> None:
    problem = placeholder_problem(tmp_path, "Order {{step_01.entries[0].item please")
    assert "never closed" in problem.problem


def test_the_model_built_in_code_refuses_a_forward_placeholder() -> None:
    with pytest.raises(ValidationError, match="not an earlier step"):
        DomainScenario(
            id="abc",
            brief="b",
            steps=[DomainStep(id="s1", question="{{s2.text}}"), DomainStep(id="s2", question="q")],
        )


# ------------------------------------------------------------------------- resolving


def test_placeholders_are_parsed_into_root_and_path() -> None:
    text = "A {{ step_01_inventory.entries[0].item }} B {{step_01_inventory.text}} {{semantic_memory}}"
    assert placeholders(text) == [
        Placeholder("{{ step_01_inventory.entries[0].item }}", "step_01_inventory", "$.entries[0].item"),
        Placeholder("{{step_01_inventory.text}}", "step_01_inventory", "$.text"),
        Placeholder("{{semantic_memory}}", "semantic_memory", "$"),
    ]
    assert placeholders("{{unclosed") == []


def test_resolve_fills_from_answers_and_the_session() -> None:
    answers = {
        "step_01": StepAnswer(
            "Flour and salt are low.", {"entries": [{"item": "flour", "n": 2}, {"item": "salt"}]}
        )
    }
    session = {"semantic_memory": {"active_result_set_id": "rs-7"}, "count": 3}
    text = (
        "{{step_01.entries[0].item}}|{{step_01.text}}|{{step_01}}|{{step_01.entries[0]}}|"
        "{{step_01.entries[*].item}}|{{semantic_memory.active_result_set_id}}|{{count}}"
    )
    assert resolve(text, answers=answers, session=session) == (
        'flour|Flour and salt are low.|Flour and salt are low.|{"item":"flour","n":2}|["flour","salt"]|rs-7|3'
    )
    assert resolve("no placeholders", answers={}, session=None) == "no placeholders"


@pytest.mark.parametrize(
    ("text", "session", "name", "why"),
    [
        ("{{step_01.entries[5].item}}", None, "step_01.entries[5].item", "finds nothing in the data of step"),
        ("{{semantic_memory.id}}", None, "semantic_memory.id", "no session"),
        ("{{semantic_memory.id}}", {"other": 1}, "semantic_memory.id", "has no field 'semantic_memory'"),
        ("{{semantic_memory.id}}", {"semantic_memory": {}}, "semantic_memory.id", "finds nothing"),
        ("{{step_02.text}}", {}, "step_02.text", "no earlier step 'step_02' answered"),
    ],
)
def test_an_unresolved_placeholder_raises_with_its_name(
    text: str, session: dict[str, object] | None, name: str, why: str
) -> None:
    answers = {"step_01": StepAnswer("t", {"entries": []})}
    with pytest.raises(UnresolvedPlaceholderError) as caught:
        resolve(f"Ask {text} now", answers=answers, session=session)
    assert caught.value.name == name
    assert why in caught.value.why


def test_a_step_answered_without_data_has_only_text() -> None:
    answers = {"s1": StepAnswer("plain")}
    assert resolve("{{s1.text}}", answers=answers, session=None) == "plain"
    with pytest.raises(UnresolvedPlaceholderError, match="without JSON data"):
        resolve("{{s1.x}}", answers=answers, session=None)


# ----------------------------------------------------------------------------- cases


def test_a_case_is_one_step_with_parsed_expectations() -> None:
    question = "What is low on stock?"
    scenario = case_scenario(
        question,
        [
            "contains:low stock",
            "not_contains:error",
            "route:inventory_lookup",
            "evidence:2",
            "max_ms:5000",
            "path:$.entries[0].item=flour",
            "path:$.total=3",
            'path:$.entries[?@.item == "salt"].ok=true',
            "path:$.entries?",
            "path:$.entries[*]#2",
            "path:$.entries[*]#1..3",
            "path:$.note=a=b",
        ],
    )
    assert scenario.id == "case-" + hashlib.sha256(question.encode()).hexdigest()[:8]
    (step,) = scenario.steps
    assert (step.id, step.question) == ("step_01", question)
    items = step.expect
    assert items[0] == ContainsExpect(contains="low stock")
    assert items[1] == NotContainsExpect(not_contains="error")
    assert items[2] == RouteExpect(route="inventory_lookup")
    assert items[3] == EvidenceExpect(evidence=2)
    assert items[4] == MaxMsExpect(max_ms=5000)
    paths = [
        (item.path, item.test, getattr(item, item.test)) for item in items[5:] if isinstance(item, PathExpect)
    ]
    assert paths == [
        ("$.entries[0].item", "equals", "flour"),
        ("$.total", "equals", 3),
        ('$.entries[?@.item == "salt"].ok', "equals", True),
        ("$.entries", "exists", True),
        ("$.entries[*]", "count", 2),
        ("$.entries[*]", "count", CountRange(min=1, max=3)),
        ("$.note", "equals", "a=b"),
    ]
    assert case_scenario(question, [], id="my-case").id == "my-case"


@pytest.mark.parametrize(
    ("argument", "words"),
    [
        ("contain:x", "does not start with a known kind"),
        ("contains", "does not start with a known kind"),
        ("contains:", "too short"),
        ("evidence:many", "whole number"),
        ("max_ms:-1", "whole number"),
        ("path:$.a", "ends with =VALUE, ? or #N"),
        ("path:$[?", "is not a JSONPath that compiles"),
        ("path:$.a#..", "needs a bound"),
        ("path:$.a#3..1", "must not be below min"),
    ],
)
def test_a_bad_expect_argument_is_a_usage_error_naming_it_and_the_syntax(argument: str, words: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_expect(argument)
    message = str(caught.value)
    assert f"--expect {argument!r}" in message
    assert words in message
    assert "path:JSONPATH=VALUE" in message


def test_a_bad_case_id_or_question_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"^--id: "):
        case_scenario("q", [], id="Not Kebab")
    with pytest.raises(UsageError, match="never closed"):
        case_scenario("Order {{x", [])


# ------------------------------------------------------------------------- pack problems


def test_duplicate_scenario_ids_across_a_pack_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "scenarios" / "stock.scenario.yaml", STOCK)
    text = PACK.replace("  - id: returns", "  - scenarios/stock.scenario.yaml\n  - id: stock-check")
    problems = problems_of(write(tmp_path / "p.pack.yaml", text))
    assert [(problem.field, problem.line) for problem in problems] == [
        ("scenarios[1]", 6),
        ("scenarios[2].id", 7),
    ]
    assert all("already used by scenarios[0]" in problem.problem for problem in problems)


def test_a_missing_referenced_file_names_the_pack_entry(tmp_path: Path) -> None:
    problem = only(problems_of(write(tmp_path / "p.pack.yaml", PACK)))
    assert (problem.file, problem.field, problem.line) == (tmp_path / "p.pack.yaml", "scenarios[0]", 5)
    assert "stock.scenario.yaml, which is not a file" in problem.problem


def test_a_problem_in_a_referenced_file_names_that_file_its_line_and_the_entry(tmp_path: Path) -> None:
    stock = write(
        tmp_path / "scenarios" / "stock.scenario.yaml", STOCK.replace("{evidence: 2}", "{evidnce: 2}")
    )
    pack_path = write(tmp_path / "p.pack.yaml", PACK)
    problem = only(problems_of(pack_path))
    assert (problem.file, problem.field, problem.line) == (stock.resolve(), "steps[0].expect[7].evidnce", 16)
    assert f"referenced by {pack_path}:5 scenarios[0]" in problem.problem
    assert "rename `evidnce` to `evidence`" in problem.fix


def test_every_problem_of_a_pack_is_reported_at_once(tmp_path: Path) -> None:
    text = PACK.replace("gate: 90", "gate: 101").replace("How do I return this?", "'{{step_09.x}}'")
    problems = problems_of(write(tmp_path / "p.pack.yaml", text))
    assert [(problem.field, problem.line) for problem in problems] == [("gate", 3)]
    text = PACK.replace("How do I return this?", "'{{step_01.x}}'")
    problems = problems_of(write(tmp_path / "p.pack.yaml", text))
    assert {(problem.field, problem.line) for problem in problems} == {
        ("scenarios[0]", 5),
        ("scenarios[1].steps[0].question", 10),
    }


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("id: retail\ndomain: retail\nscenarios: []\n", "scenarios"),
        ("id: Retail\ndomain: retail\nscenarios: [a.scenario.yaml]\n", "id"),
        ("id: retail\ndomain: retail\nscenarios: [a.scenario.yaml]\nmax_iterations: 0\n", "max_iterations"),
        ("id: retail\ndomain: retail\nscenarios: [3]\n", "scenarios[0]"),
        ("id: retail\ndomain: retail\nscenarios: [a.scenario.yaml]\ngates: 1\n", "gates"),
    ],
)
def test_bad_pack_fields_are_named(tmp_path: Path, text: str, field: str) -> None:
    problem = only(problems_of(write(tmp_path / "p.pack.yaml", text)))
    assert problem.field == field, problem


def test_an_unreadable_pack_is_a_pack_error(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path / "absent.pack.yaml"))
    assert problem.field == "(file)"
    problem = only(problems_of(write(tmp_path / "bad.pack.yaml", "id: [unclosed\n")))
    assert problem.field == "(syntax)"
    problem = only(problems_of(write(tmp_path / "empty.pack.yaml", "")))
    assert problem.problem == "is empty"


# ----------------------------------------------------------------------------- statuses


def test_worst_orders_blocked_over_capability_over_partial_over_accepted() -> None:
    assert worst([]) == "accepted"
    assert worst(["accepted", "accepted"]) == "accepted"
    assert worst(["accepted", "partial"]) == "partial"
    assert worst(["partial", "needs_exact_capability", "accepted"]) == "needs_exact_capability"
    assert worst(["blocked", "needs_exact_capability", "partial"]) == "blocked"
    assert worst(iter(["partial", "blocked"])) == "blocked"


def test_exit_codes_follow_the_status() -> None:
    assert [exit_code(status) for status in ("accepted", "partial", "needs_exact_capability", "blocked")] == [
        0,
        1,
        1,
        2,
    ]


# ------------------------------------------------------------------------- documented formats


def test_the_documented_examples_read_as_they_are(tmp_path: Path) -> None:
    """The two examples of the package docstring are valid files, so the documentation cannot drift."""
    blocks = [block.split("\n\n")[0] for block in (packs.__doc__ or "").split("::\n\n")[1:3]]
    scenario_text, pack_text = (textwrap.dedent(block) for block in blocks)
    write(tmp_path / "stock-check.scenario.yaml", scenario_text)
    pack = load_pack(write(tmp_path / "retail.pack.yaml", pack_text))
    assert [scenario.id for scenario in pack.scenarios] == ["stock-check", "returns"]
    assert [len(scenario.steps) for scenario in pack.scenarios] == [2, 1]
