"""Twin definitions: loading, every mistake named with file, field and fix, and discovery."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.errors import ConfigError, UsageError
from orchestrator.twins import (
    ENTRY_POINT_GROUP,
    discover_twins,
    load_twin,
    load_twin_definition,
    serve_twins,
)
from tests.twins.helpers import MANIFEST, write_twin


def error_of(folder: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_twin_definition(folder)
    return caught.value


@pytest.mark.parametrize("name", ["github", "gitlab", "openai", "slack", "jira", "okta"])
def test_every_shipped_twin_loads(name: str) -> None:
    definition = load_twin(name)
    assert definition.name == name
    assert definition.routes
    assert definition.manifest.auth.type != "none"


def test_a_project_twin_serves_declared_routes(tmp_path: Path) -> None:
    folder = write_twin(tmp_path / "billing")
    with serve_twins([folder], seed=1) as twins:
        url = twins["billing"]
        headers = {"X-Api-Key": "key-1"}
        created = httpx.post(f"{url}/invoices", json={"amount": 120}, headers=headers)
        assert created.status_code == 201
        assert created.json() == {"amount": 120, "status": "draft", "id": 1, "created_by": "twin-user"}
        assert httpx.get(f"{url}/invoices/1", headers=headers).json()["amount"] == 120
        assert httpx.get(f"{url}/invoices?status=sent", headers=headers).json() == []
        assert httpx.delete(f"{url}/invoices/1", headers=headers).status_code == 204
        assert httpx.get(f"{url}/invoices/1", headers=headers).status_code == 404
        assert httpx.get(f"{url}/invoices", headers={"X-Api-Key": "key-0"}).status_code == 401


def test_a_python_module_adds_routes(tmp_path: Path) -> None:
    module = """
        from orchestrator.twins import TwinCall, TwinReply, TwinRoutes

        routes = TwinRoutes()

        @routes.post("/invoices/{invoice_id:int}/pay")
        def pay(call: TwinCall) -> TwinReply:
            invoice = call.state.get("invoices", call.path_params["invoice_id"])
            if invoice is None:
                return TwinReply(status=404, body={"error": "no such invoice"})
            return TwinReply(body=call.state.update("invoices", invoice["id"], {"status": "paid"}))

        @routes.get("/health", public=True)
        async def health(call: TwinCall) -> TwinReply:
            return TwinReply(body="fine", media_type="text/plain")
    """
    folder = write_twin(tmp_path / "billing", {**MANIFEST, "module": "behaviour.py"}, behaviour__py=module)
    definition = load_twin_definition(folder)
    assert [(r.id, r.origin) for r in definition.routes][-2:] == [("pay", "module"), ("health", "module")]
    with serve_twins([definition], data={"billing": {"invoices": [{"id": 4, "amount": 10}]}}) as twins:
        url = twins["billing"]
        paid = httpx.post(f"{url}/invoices/4/pay", headers={"X-Api-Key": "key-1"})
        assert paid.json() == {"id": 4, "amount": 10, "status": "paid"}
        health = httpx.get(f"{url}/health")
        assert health.text == "fine"
        assert health.headers["content-type"] == "text/plain"


def test_a_missing_manifest_says_what_to_create(tmp_path: Path) -> None:
    error = error_of(tmp_path)
    assert error.path == tmp_path / "twin.json"
    assert error.field == "(file)"
    assert "create" in error.fix


def test_a_manifest_syntax_error_names_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "billing"
    folder.mkdir()
    (folder / "twin.json").write_text('{"name": "billing",\n "base_path": }', encoding="utf-8")
    error = error_of(folder)
    assert error.field == "(syntax)"
    assert "line 2" in error.problem


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"name": "Billing API"}, "name", "lowercase"),
        ({"auth": {"type": "oauth"}}, "auth.type", "bearer"),
        ({"auth": {"type": "api_key", "valid_tokens": ["k"]}}, "auth", "needs `header`"),
        ({"auth": {"type": "bearer"}}, "auth", "at least one token"),
        ({"base_path": "v2/"}, "base_path", "start with '/'"),
        ({"colour": "blue"}, "colour", "is not a known field"),
        ({"chaos": {"modes": ["earthquake"]}}, "chaos.modes[0]", "latency"),
    ],
)
def test_manifest_mistakes_name_the_field(
    tmp_path: Path, change: dict[str, Any], field: str, words: str
) -> None:
    error = error_of(write_twin(tmp_path / "billing", {**MANIFEST, **change}))
    assert error.path == tmp_path / "billing" / "twin.json"
    assert error.field == field
    assert words in str(error)


@pytest.mark.parametrize(
    ("routes", "field", "words"),
    [
        (
            "routes:\n  - {method: GET, path: /x, action: list, entity: payments}\n",
            "routes[0].entity",
            "payments",
        ),
        ("routes:\n  - {method: GET, path: /x, action: list}\n", "routes[0]", "needs `entity`"),
        ("routes:\n  - {method: FETCH, path: /x, action: static, response: {}}\n", "routes[0].method", "GET"),
        (
            "routes:\n  - {method: GET, path: x, action: static, response: {}}\n",
            "routes[0].path",
            "start with '/'",
        ),
        (
            "routes:\n  - {method: GET, path: '/x/{id:number}', action: read, entity: invoices}\n",
            "routes[0].path",
            "convertors",
        ),
        (
            "routes:\n  - {method: GET, path: /x, action: read, entity: invoices}\n",
            "routes[0].path",
            "path parameter",
        ),
        (
            "routes:\n  - {method: GET, path: '/x/{id}', action: read, entity: invoices,\n"
            "     lookup: {field: id, param: nr}}\n",
            "routes[0].lookup.param",
            "'nr'",
        ),
        (
            "routes:\n  - {method: GET, path: '/x/{id}', action: list, entity: invoices,\n"
            "     where: {shop: '{shop}'}}\n",
            "routes[0].where.shop",
            "neither a path parameter",
        ),
        (
            "routes:\n  - {method: POST, path: /x, action: create, entity: invoices, set: {id: $sequence}}\n",
            "routes[0].set.id",
            "$sequence is not a known reference",
        ),
        (
            "routes:\n  - {method: GET, path: /x, action: list, entity: invoices, "
            "parent: {entity: shops, match: {id: '1'}}}\n",
            "routes[0].parent.entity",
            "shops",
        ),
        ("routes: []\n", "routes", "at least 1"),
    ],
)
def test_route_mistakes_name_the_route_and_field(tmp_path: Path, routes: str, field: str, words: str) -> None:
    error = error_of(write_twin(tmp_path / "billing", routes=routes))
    assert error.path == tmp_path / "billing" / "routes.yaml"
    assert error.field == field
    assert words in str(error)


def test_duplicate_routes_are_refused(tmp_path: Path) -> None:
    twice = "routes:\n  - {method: GET, path: /x, action: list, entity: invoices}\n" * 1 + (
        "  - {id: again, method: GET, path: /x, action: list, entity: invoices}\n"
    )
    assert "GET /x is defined twice" in str(error_of(write_twin(tmp_path / "a", routes=twice)))
    same_id = (
        "routes:\n  - {id: one, method: GET, path: /x, action: list, entity: invoices}\n"
        "  - {id: one, method: GET, path: /y, action: list, entity: invoices}\n"
    )
    assert "share the id 'one'" in str(error_of(write_twin(tmp_path / "b", routes=same_id)))


def test_module_mistakes_are_named(tmp_path: Path) -> None:
    no_file = error_of(write_twin(tmp_path / "a", {**MANIFEST, "module": "missing.py"}, routes=None))
    assert no_file.field == "module"
    assert "missing.py" in no_file.problem
    broken = error_of(
        write_twin(tmp_path / "b", {**MANIFEST, "module": "b.py"}, routes=None, b__py="def broken(:\n")
    )
    assert broken.field == "module"
    assert "SyntaxError" in broken.problem
    empty = error_of(write_twin(tmp_path / "c", {**MANIFEST, "module": "c.py"}, routes=None, c__py="x = 1\n"))
    assert "no `routes` registry" in empty.problem
    nothing = error_of(write_twin(tmp_path / "d", routes=None))
    assert nothing.field == "routes"
    assert "no routes" in nothing.problem


def test_bad_default_seed_data_names_the_seed_file(tmp_path: Path) -> None:
    folder = write_twin(
        tmp_path / "billing",
        {**MANIFEST, "seed": "seed.yaml"},
        seed__yaml="invoices:\n  - {id: 1, amount: ten}\n",
    )
    error = error_of(folder)
    assert error.path == folder / "seed.yaml"
    assert error.field == "invoices[0].amount"
    assert "integer" in error.problem


def test_repeated_seed_ids_are_refused(tmp_path: Path) -> None:
    folder = write_twin(tmp_path / "billing")
    with (
        pytest.raises(ConfigError, match=r"invoices\[1\]\.id: repeats the id 1"),
        serve_twins(
            [folder], data={"billing": {"invoices": [{"id": 1, "amount": 1}, {"id": 1, "amount": 2}]}}
        ),
    ):
        pass  # pragma: no cover - never reached


def test_project_twins_are_discovered_and_replace_shipped_ones(tmp_path: Path) -> None:
    twins_dir = tmp_path / ".scenarios" / "twins"
    write_twin(twins_dir / "billing")
    write_twin(twins_dir / "github", {**MANIFEST, "name": "github"})
    found = discover_twins(tmp_path)
    assert found["billing"].origin == "project"
    assert found["github"].origin == "project"
    assert found["gitlab"].origin == "shipped"
    assert load_twin("github", tmp_path).manifest.description == "A made-up billing API"
    write_twin(twins_dir / "misnamed", MANIFEST)
    with pytest.raises(ConfigError, match="folder is called 'misnamed'"):
        load_twin("misnamed", tmp_path)
    with pytest.raises(UsageError, match=r"no twin named 'nope'"):
        load_twin("nope", tmp_path)


def test_plugins_register_twins_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    package = site / "billing_twin_plugin"
    write_twin(package / "billing")
    (package / "__init__.py").write_text(
        "from pathlib import Path\n\n\ndef billing() -> Path:\n"
        "    return Path(__file__).parent / 'billing'\n",
        encoding="utf-8",
    )
    dist = site / "billing_twin_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: billing-twin-plugin\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nbilling = billing_twin_plugin:billing\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(site))
    try:
        found = discover_twins()
        assert found["billing"].origin == "plugin"
        assert load_twin("billing").manifest.base_path == "/v2"
    finally:
        sys.modules.pop("billing_twin_plugin", None)


def test_python_routes_and_handler_types_live_in_modules_named_for_them() -> None:
    """A reader looking for how Python routes are registered, or what a handler is, finds it by name."""
    import orchestrator.twins as twins

    python_routes = "orchestrator.twins._python_routes"
    handler = "orchestrator.twins._handler"
    assert twins.TwinRoutes.__module__ == python_routes
    assert twins.PyRoute.__module__ == python_routes
    assert twins.TwinCall.__module__ == handler
    assert twins.TwinReply.__module__ == handler
    assert sys.modules[handler].Handler is twins.Handler
