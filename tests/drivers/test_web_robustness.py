"""The web driver against hostile pages: odd text, floods of console output, hanging servers, stops.

Pages are served by a small real HTTP server on loopback; the hanging server accepts connections
and never answers. Runs are short (one browser each), so these stay in the fast suite.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from orchestrator.drivers.web import DriverOutcome, Timeouts, WebCaptureOptions, capture_web
from orchestrator.drivers.web._recorder import MAX_ENTRIES, MAX_TEXT, write_console, write_network
from orchestrator.drivers.web._text import clean_json, clean_text, cut_text
from orchestrator.gate import Capture, ConsoleEntry
from orchestrator.policy.test_profiles import JourneySpec

LONE = "\\ud800"  # as JavaScript source: a lone high surrogate
PAGES = {
    "/odd": (
        "<html lang=en><head><title>odd</title></head><body><main><h1>odd</h1>"
        f"<p id=t>text {LONE} here</p><img src=/nothing.png id=im>"
        f"<script>console.error('bad {LONE} text');"
        f"document.getElementById('im').setAttribute('data-x', 'v{LONE}');"
        f"document.getElementById('t').append(' more {LONE} text');"
        f"setTimeout(() => {{ throw new Error('lone {LONE} error') }});</script>"
        "</main></body></html>"
    ),
    "/loud": (
        "<html lang=en><head><title>loud</title></head><body><main><h1>loud</h1><script>"
        "console.error('L'.repeat(100000));"
        f"for (let i = 0; i < {MAX_ENTRIES + 200}; i++) console.log('message ' + i);"
        "</script></main></body></html>"
    ),
}
PLAIN = "<html lang=en><head><title>plain</title></head><body><main><h1>plain</h1></main></body></html>"


class _Pages(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = PAGES.get(self.path, PLAIN).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(ConnectionError):  # a stopped run closes its tabs mid-answer
            self.wfile.write(body)


@pytest.fixture(scope="module")
def pages_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)


class _HangingServer:
    """Accepts connections, reads what is sent, never answers; notes when the client gives up."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requested = threading.Event()
        self.client_gone = threading.Event()
        self._conns: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed: the server is stopped
                return
            self._conns.append(conn)
            thread = threading.Thread(target=self._hold, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _hold(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            if conn.recv(65536).startswith(b"GET /never"):
                self.requested.set()
                while conn.recv(65536):  # wait for the client to close its end
                    pass
                self.client_gone.set()
        except OSError:
            self.client_gone.set()

    def close(self) -> None:
        # shutdown, not only close, wakes a thread blocked in accept() or recv() on the socket.
        for sock in [self.sock, *self._conns]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(10)


def _capture(outcome: DriverOutcome, name: str) -> Capture:
    (found,) = [capture for capture in outcome.manifest.captures if capture.name == name]
    return found


def _console(run_dir: Path, capture: Capture) -> list[ConsoleEntry]:
    assert capture.console is not None
    text = (run_dir / capture.console).read_bytes().decode("utf-8")
    return [ConsoleEntry.model_validate_json(line) for line in text.splitlines()]


# --- pure parts -----------------------------------------------------------------------------------


def test_clean_text_replaces_only_unpaired_surrogates() -> None:
    assert clean_text("a\ud800b\udc00c") == "a\ufffdb\ufffdc"
    assert clean_text("pair \ud83d\ude00 joined") == "pair \U0001f600 joined"
    assert clean_text("plain ü") == "plain ü"
    assert clean_json({"k\ud800": ["v\udfff", 1, None]}) == {"k\ufffd": ["v\ufffd", 1, None]}


def test_cut_text_marks_what_it_left_out() -> None:
    assert cut_text("short", 10) == "short"
    assert cut_text("x" * 25, 10) == "x" * 10 + " [truncated: 15 more characters]"


def test_console_files_are_valid_utf8_whatever_the_text(tmp_path: Path) -> None:
    entry = ConsoleEntry(ts="t", type="error", text="bad \ud800 text", url="http://h/\udc00")
    write_console(tmp_path / "console.ndjson", [entry])
    (line,) = (tmp_path / "console.ndjson").read_bytes().decode("utf-8").splitlines()
    assert json.loads(line)["text"] == "bad \ufffd text"


# --- in the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def odd_run(pages_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DriverOutcome]:
    run_dir = tmp_path_factory.mktemp("odd") / "run"
    journey = JourneySpec.model_validate({"name": "odd", "steps": [{"goto": "/odd"}, {"mark": "Odd"}]})
    outcome = capture_web(
        WebCaptureOptions(
            run_dir=run_dir,
            base_url=pages_url,
            routes=["/odd", "/loud", "/plain"],
            journeys=[journey],
            parallel=2,
        )
    )
    return run_dir, outcome


@pytest.mark.browser
@pytest.mark.timeout(90)
def test_lone_surrogates_cost_nothing_but_a_replacement_character(
    odd_run: tuple[Path, DriverOutcome],
) -> None:
    run_dir, outcome = odd_run
    assert outcome.exit_code == 0, outcome.manifest
    assert [(c.name, c.ok) for c in outcome.manifest.captures] == [
        ("/odd", True),
        ("/loud", True),
        ("/plain", True),
        ("Odd", True),
    ]
    for path in run_dir.rglob("*"):
        if path.suffix in (".ndjson", ".json", ".yaml", ".har"):
            path.read_bytes().decode("utf-8")  # strict: raises on anything that is not UTF-8
    odd = _capture(outcome, "/odd")
    texts = [entry.text for entry in _console(run_dir, odd)]
    assert "bad \ufffd text" in texts
    assert odd.aria_snapshot is not None
    assert "\ufffd" in (run_dir / odd.aria_snapshot).read_text(encoding="utf-8")
    assert odd.axe is not None
    assert "\ufffd" in (run_dir / odd.axe).read_text(encoding="utf-8")
    step = _capture(outcome, "Odd")
    assert "bad \ufffd text" in [entry.text for entry in _console(run_dir, step)]


@pytest.mark.browser
@pytest.mark.timeout(90)
def test_console_output_is_capped_per_message_and_per_capture(odd_run: tuple[Path, DriverOutcome]) -> None:
    run_dir, outcome = odd_run
    entries = _console(run_dir, _capture(outcome, "/loud"))
    assert len(entries) == MAX_ENTRIES + 1
    assert entries[0].text == "L" * MAX_TEXT + f" [truncated: {100000 - MAX_TEXT} more characters]"
    assert entries[-1].type == "truncated"
    dropped = int(entries[-1].text.split()[0])
    assert 1 <= dropped <= 201  # 1201 messages, 1000 kept
    assert entries[-1].text.startswith(f"{dropped} more console messages")


@pytest.mark.browser
@pytest.mark.timeout(90)
def test_a_surprise_in_one_route_fails_only_that_capture(
    pages_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    def failing(path: Path, failures: Any) -> None:
        if "boom" in str(path):
            raise RuntimeError("disk said no")
        write_network(path, failures)

    monkeypatch.setattr("orchestrator.drivers.web._page_capture.write_network", failing)
    outcome = capture_web(
        WebCaptureOptions(
            run_dir=tmp_path / "run", base_url=pages_url, routes=["/plain", "/boom"], parallel=1
        )
    )
    assert outcome.exit_code == 1
    assert _capture(outcome, "/plain").ok
    boom = _capture(outcome, "/boom")
    assert not boom.ok and boom.error == "capturing /boom failed: RuntimeError: disk said no"


@pytest.mark.browser
@pytest.mark.timeout(60)
def test_a_stop_during_a_hanging_navigation_ends_the_run_at_once(pages_url: str, tmp_path: Path) -> None:
    hanging = _HangingServer()
    stop = threading.Event()
    journey = JourneySpec.model_validate(
        {"name": "stuck", "steps": [{"goto": f"{hanging.url}/never"}, {"mark": "Never"}]}
    )
    options = WebCaptureOptions(
        run_dir=tmp_path / "run",
        base_url=pages_url,
        routes=["/plain", f"{hanging.url}/never"],
        journeys=[journey],
        allowed_origins=[hanging.url],
        parallel=2,
        timeout_s=120,
        timeouts=Timeouts(navigation_s=90, action_s=10),
    )
    try:
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(capture_web, options, cancelled=stop)
            assert hanging.requested.wait(30), "the browser never asked the hanging server"
            stopped_at = time.monotonic()
            stop.set()
            outcome = running.result(timeout=30)
            took = time.monotonic() - stopped_at
        assert hanging.client_gone.wait(10), "the browser kept its connection open"
    finally:
        hanging.close()
    assert took < 5, f"the stop took {took:.1f} s"
    assert outcome.exit_code == 1
    stuck = [c for c in outcome.manifest.captures if not c.ok]
    assert stuck and all(c.error == "not captured: the run was stopped" for c in stuck)
