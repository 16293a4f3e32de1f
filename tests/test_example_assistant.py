"""The inventory assistant of examples/assistant and its demo coder.

Every route with its capability on and off, the evidence and presentation switches (``data`` the
same either way), session memory read back, determinism, the coder fixing one backlog item per run,
and the app run from its command line.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.loopback import serve_app, serve_script

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "assistant"
ALL_ON = {
    "inventory_list": True,
    "item_detail": True,
    "low_stock": True,
    "reorder": True,
    "order_status": True,
    "cite_sources": True,
    "tidy_lists": True,
}


def load(name: str) -> ModuleType:
    """A module of the example folder, imported from its file (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f"orchestrate_example_assistant_{name}", EXAMPLE / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


app_module = load("app")
coder = load("coder")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the example folder, so tests may switch capabilities without touching the repo."""
    copy = tmp_path / "assistant"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def switch(root: Path, **changes: bool) -> None:
    path = root / "capabilities.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@contextlib.contextmanager
def assistant(root: Path) -> Iterator[httpx.Client]:
    with (
        serve_app(app_module.create_app(root)) as origin,
        httpx.Client(base_url=origin, timeout=10) as client,
    ):
        yield client


def ask(client: httpx.Client, message: str, session_id: str | None = None, **headers: str) -> dict[str, Any]:
    body = {"message": message, **({"session_id": session_id} if session_id else {})}
    response = client.post("/api/assistant/message", json=body, headers=headers)
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    assert set(reply) == {"session_id", "answer", "data", "route", "sources", "capability_missing"}
    return reply


# ------------------------------------------------------------------------------------------- routes

QUESTIONS = {
    "inventory_list": "What's in stock?",
    "item_detail": "Tell me about hex nuts",
    "low_stock": "Which items are below reorder level?",
    "reorder": "Reorder packing tape x 40",
    "order_status": "Status of order PO-1001",
}


@pytest.mark.parametrize("route", sorted(QUESTIONS))
def test_each_route_answers_when_on_and_is_missing_when_off(root: Path, route: str) -> None:
    switch(root, **ALL_ON)
    with assistant(root) as client:
        session = ask(client, "Reorder packing tape x 40")["session_id"]  # so PO-1001 exists
        on = ask(client, QUESTIONS[route], session)
        switch(root, **{route: False})  # read per request: no restart
        off = ask(client, QUESTIONS[route], session)
    assert (on["route"], on["capability_missing"]) == (route, False)
    assert on["sources"] and all(s.startswith(("inventory:sku-", "order:PO-")) for s in on["sources"])
    assert (off["route"], off["capability_missing"], off["sources"]) == (None, True, [])
    assert off["data"] == {"missing_capability": route}
    assert off["answer"].startswith("I'm sorry, I can't do that yet")


def test_each_route_returns_the_inventory_facts(root: Path) -> None:
    switch(root, **ALL_ON)
    with assistant(root) as client:
        listing = ask(client, "what's in stock")
        detail = ask(client, "tell me about hex nuts", listing["session_id"])
        low = ask(client, "which items are below reorder level")
        order = ask(client, "reorder hex nuts x 100")
        status = ask(client, "status of order PO-1001")
        unknown = ask(client, "status of order PO-9999")
    assert [(e["item"], e["sku"], e["quantity"]) for e in listing["data"]["entries"]][:2] == [
        ("Steel bolts M8", "sku-1001", 420),
        ("Hex nuts M8", "sku-1002", 150),
    ]
    assert len(listing["data"]["entries"]) == len(listing["sources"]) == 6
    assert detail["data"]["sku"] == "sku-1002" and detail["data"]["below_reorder_level"] is True
    assert detail["sources"] == ["inventory:sku-1002"]
    assert [e["sku"] for e in low["data"]["entries"]] == ["sku-1002", "sku-1003", "sku-1005"]
    assert order["data"] == {
        "order_id": "PO-1001",
        "sku": "sku-1002",
        "item": "Hex nuts M8",
        "quantity": 100,
        "status": "placed",
    }
    assert order["sources"] == ["inventory:sku-1002", "order:PO-1001"]
    assert (status["data"]["order_id"], status["data"]["found"], status["data"]["quantity"]) == (
        "PO-1001",
        True,
        100,
    )
    assert (unknown["route"], unknown["data"]["found"]) == ("order_status", False)


def test_the_start_state_misses_some_routes_and_tells_lists_badly(root: Path) -> None:
    with assistant(root) as client:
        replies = {route: ask(client, question) for route, question in QUESTIONS.items()}
    assert {route for route, reply in replies.items() if reply["capability_missing"]} == {
        "low_stock",
        "reorder",
    }
    assert all(reply["sources"] == [] for reply in replies.values())
    assert "{'item':" in replies["inventory_list"]["answer"]


def test_an_unknown_question_is_not_a_missing_capability(root: Path) -> None:
    with assistant(root) as client:
        reply = ask(client, "sing me a song")
    assert (reply["route"], reply["capability_missing"]) == (None, False)


def test_bad_requests_are_refused_clearly(root: Path) -> None:
    with assistant(root) as client:
        assert client.post("/api/assistant/message", content=b"not json").status_code == 400
        assert client.post("/api/assistant/message", json={"message": ""}).status_code == 400
        assert (
            client.post("/api/assistant/message", json={"message": "hi", "session_id": 3}).status_code == 400
        )
        assert client.get("/api/assistant/session/nobody").status_code == 404
        assert client.get("/health").text == "ok"
        (root / "capabilities.json").write_text('{"low_stock": "yes"}')
        broken = client.post("/api/assistant/message", json={"message": "what's in stock"})
    assert broken.status_code == 500
    assert "'low_stock'" in broken.json()["error"] and "true or false" in broken.json()["error"]


# ------------------------------------------------------------------------------- quality switches


def test_sources_follow_the_cite_sources_switch(root: Path) -> None:
    switch(root, cite_sources=True)
    with assistant(root) as client:
        cited = ask(client, "tell me about cable ties")
        switch(root, cite_sources=False)
        uncited = ask(client, "tell me about cable ties")
    assert cited["sources"] == ["inventory:sku-1006"] and uncited["sources"] == []
    assert cited["data"] == uncited["data"] and cited["answer"] == uncited["answer"]


@pytest.mark.parametrize("question", ["what's in stock", "which items are below reorder level"])
def test_tidy_lists_changes_the_presentation_and_never_the_data(root: Path, question: str) -> None:
    switch(root, low_stock=True, tidy_lists=True)
    with assistant(root) as client:
        tidy = ask(client, question)
        switch(root, tidy_lists=False)
        messy = ask(client, question)
    entries = tidy["data"]["entries"]
    assert entries and tidy["data"]["entries"] == messy["data"]["entries"]
    assert tidy["answer"].count("\n- ") == len(entries) and "{" not in tidy["answer"]
    assert "\n" not in messy["answer"] and messy["answer"].count("{'item':") == len(entries)


# ---------------------------------------------------------------------------------- session memory


def test_a_list_becomes_the_active_result_set_a_later_question_refers_to(root: Path) -> None:
    switch(root, low_stock=True, reorder=True)
    with assistant(root) as client:
        low = ask(client, "which items are below reorder level")
        session = low["session_id"]
        first = ask(client, "tell me about the first item of that list", session)
        last = ask(client, "and the last one? tell me about it", session)
        order = ask(client, "reorder it x 25", session)
        status = ask(client, "what's the status of that order?", session)
        memory = client.get(f"/api/assistant/session/{session}").json()
    assert first["data"]["sku"] == "sku-1002" and last["data"]["sku"] == "sku-1005"
    assert (order["data"]["sku"], order["data"]["quantity"]) == ("sku-1005", 25)
    assert status["data"]["order_id"] == order["data"]["order_id"] == "PO-1001"
    semantic = memory["semantic_memory"]
    assert semantic["active_result_set_id"] == low["data"]["result_set_id"] == "rs-1"
    assert semantic["active_result_set"] == ["sku-1002", "sku-1003", "sku-1005"]
    assert (semantic["last_item"], semantic["last_order_id"]) == ("sku-1005", "PO-1001")
    assert [turn["route"] for turn in memory["turns"]] == [
        "low_stock",
        "item_detail",
        "item_detail",
        "reorder",
        "order_status",
    ]
    assert memory["turns"][0]["message"] == "which items are below reorder level"


def test_sessions_are_named_by_the_trajectory_header_or_a_counter(root: Path) -> None:
    with assistant(root) as client:
        traced = ask(client, "what's in stock", **{"X-Orchestrate-Trajectory": "traj-7"})
        requested = ask(client, "what's in stock", **{"X-Request-Id": "req-9"})
        counted = ask(client, "what's in stock")
        again = ask(client, "tell me about the second item", traced["session_id"])
    assert (traced["session_id"], requested["session_id"]) == ("session-traj-7", "session-req-9")
    assert counted["session_id"] == "session-0003"
    assert again["data"]["sku"] == "sku-1002"


def test_the_same_questions_get_the_same_answers(root: Path) -> None:
    switch(root, **ALL_ON)
    script = [*QUESTIONS.values(), "tell me about the first item of that list", "reorder it"]

    def conversation() -> list[dict[str, Any]]:
        with assistant(root) as client:
            session = ask(client, "what's in stock")["session_id"]
            return [ask(client, question, session) for question in script]

    assert conversation() == conversation()


# ------------------------------------------------------------------------------------------- coder


def run_coder(root: Path, backlog: str, analysis: Any = None) -> tuple[int, dict[str, Any]]:
    (root / "BACKLOG.md").write_text(backlog)
    argv = ["--backlog", str(root / "BACKLOG.md"), "--repo", str(root)]
    if analysis is not None:
        (root / "analysis.json").write_text(json.dumps(analysis))
        argv += ["--analysis", str(root / "analysis.json")]
    code = coder.main(argv)
    return code, json.loads((root / "capabilities.json").read_text())


BACKLOG = """# Backlog

Items the analyst found, most important first.

- [route] restock/find-low: which items are below reorder level: capability low_stock is missing
- [presentation] stock/list: the stock list is one run-on sentence of raw records
- [route] restock/order: reorder is not supported yet
- [evidence] stock/detail: the answer cites no inventory record
- [speed] stock/list: slow
"""


def test_the_coder_fixes_one_item_per_run_in_backlog_order(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    turned_on = []
    for _ in range(4):
        before = json.loads((root / "capabilities.json").read_text())
        code, after = run_coder(root, BACKLOG)
        assert code == 0
        changed = [name for name in after if after[name] != before[name]]
        assert len(changed) == 1 and after[changed[0]] is True
        turned_on.append(changed[0])
    assert turned_on == ["low_stock", "tidy_lists", "reorder", "cite_sources"]
    assert "turned on low_stock" in capsys.readouterr().out
    code, after = run_coder(root, BACKLOG)
    assert code == 3 and all(after.values())


def test_the_coder_reads_analysis_items_first(root: Path) -> None:
    analysis = {
        "backlog": [
            {
                "category": "route",
                "problem": "the assistant cannot place orders",
                "suggested_change": "enable reorder",
            },
            {"category": "evidence", "problem": "no sources"},
        ]
    }
    code, after = run_coder(root, "- [presentation] stock/list: messy list\n", analysis)
    assert code == 0 and after["reorder"] is True and after["tidy_lists"] is False
    assert run_coder(root, "", analysis)[1]["cite_sources"] is True


def test_the_coder_says_when_nothing_is_fixable(root: Path) -> None:
    before = (root / "capabilities.json").read_text()
    code, _ = run_coder(
        root, "- [route] stock/list: inventory list is wrong\n- [route] x/y: reorder level too high\n"
    )
    assert code == 3 and (root / "capabilities.json").read_text() == before


def test_the_coder_refuses_missing_or_malformed_input(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (root / "capabilities.json").read_text()
    assert coder.main(["--backlog", str(root / "absent.md"), "--repo", str(root)]) == 2
    assert "absent.md" in capsys.readouterr().err
    (root / "analysis.json").write_text('{"backlog": "none"}')
    (root / "BACKLOG.md").write_text("- [evidence] a/b: no sources\n")
    argv = [
        "--backlog",
        str(root / "BACKLOG.md"),
        "--repo",
        str(root),
        "--analysis",
        str(root / "analysis.json"),
    ]
    assert coder.main(argv) == 2
    assert '"backlog" must be a list' in capsys.readouterr().err
    assert coder.main(["--backlog", str(root / "BACKLOG.md"), "--repo", str(root / "nowhere")]) == 2
    assert (root / "capabilities.json").read_text() == before


def test_the_coder_replaces_the_file_atomically(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = root / "capabilities.json"
    before, inode = path.read_text(), path.stat().st_ino
    with path.open() as reader_of_the_old_file:
        assert run_coder(root, "- [evidence] a/b: no sources\n")[0] == 0
        assert reader_of_the_old_file.read() == before  # a reader keeps a whole file, never half of one
    assert path.stat().st_ino != inode and json.loads(path.read_text())["cite_sources"] is True

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(coder.os, "replace", fail)
    written = path.read_text()
    with pytest.raises(OSError, match="disk full"):
        run_coder(root, "- [presentation] a/b: messy\n")
    assert path.read_text() == written
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_the_coder_command_turns_the_loop_upward(root: Path) -> None:
    (root / "BACKLOG.md").write_text(BACKLOG)
    done = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE / "coder.py"),
            "--backlog",
            str(root / "BACKLOG.md"),
            "--repo",
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"turned on low_stock in {root / 'capabilities.json'}")
    with assistant(root) as client:
        assert ask(client, "which items are below reorder level")["route"] == "low_stock"


# -------------------------------------------------------------------------------------- subprocess


@pytest.mark.slow
def test_the_app_runs_from_its_command_line_and_stops_cleanly(root: Path) -> None:
    argv = [sys.executable, str(root / "app.py"), "--port", "0"]
    with (
        serve_script(argv, cwd=root, banner="Inventory assistant on") as origin,
        httpx.Client(base_url=origin, timeout=10) as client,
    ):
        health = client.get("/health")  # waits in the listen backlog until the server accepts
        assert (health.status_code, health.text) == (200, "ok")
        switch(root, low_stock=True)  # the copy's own capabilities.json, read per request
        assert ask(client, "which items are below reorder level")["route"] == "low_stock"


def test_the_coder_reads_task_boxes_and_items_without_a_step(tmp_path: Path) -> None:
    backlog = tmp_path / "BACKLOG.md"
    backlog.write_text(
        "* [ ] [Route] order status is missing\n- [x] [evidence] a/b: no sources\nnot an item\n"
    )
    items = coder.read_backlog(backlog)
    assert [(item.category, coder.switch_for(item)) for item in items] == [
        ("route", "order_status"),
        ("evidence", "cite_sources"),
    ]
