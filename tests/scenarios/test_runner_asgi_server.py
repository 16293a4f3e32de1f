"""Serving an ASGI app in process (orchestrator.asgi_server): up on a free port, down with its thread."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from orchestrator.asgi_server import AsgiServer, serve_asgi
from orchestrator.errors import OrchestrateError


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


def test_an_app_is_served_on_a_port_the_os_picks_and_stopped_with_its_thread() -> None:
    before = set(threading.enumerate())
    app = Starlette(routes=[Route("/", hello)])
    first = AsgiServer(app, name="one")
    second = AsgiServer(app, name="two")
    url_one, url_two = first.start(), second.start()
    try:
        assert url_one != url_two and url_one.startswith("http://127.0.0.1:")
        assert httpx.get(url_one).text == "hello" and httpx.get(url_two).text == "hello"
        assert first.alive
        with pytest.raises(OrchestrateError, match="already started"):
            first.start()
    finally:
        first.stop()
        second.stop()
    first.stop()  # twice is harmless
    assert not first.alive and first.url is None
    assert set(threading.enumerate()) == before
    with pytest.raises(httpx.ConnectError):
        httpx.get(url_one)


def test_an_app_whose_start_up_fails_is_an_error_naming_the_server() -> None:
    @contextlib.asynccontextmanager
    async def broken(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield  # pragma: no cover

    before = set(threading.enumerate())
    with (
        pytest.raises(
            OrchestrateError, match=r"the sut server on 127\.0\.0\.1:\d+ did not start: its start-up failed"
        ),
        serve_asgi(Starlette(lifespan=broken), name="sut"),
    ):
        pass  # pragma: no cover
    assert set(threading.enumerate()) == before


def test_serve_asgi_yields_the_url_and_stops_after_the_block() -> None:
    with serve_asgi(Starlette(routes=[Route("/", hello)])) as url:
        assert httpx.get(url).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)
