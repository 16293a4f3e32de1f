"""A small web app with known defects, for trying the UI gate (`orchestrate test`) on something real.

Pages and what is wrong with them, on purpose:

========================  ===========================================================================
route                     defect
========================  ===========================================================================
``/``                     none (home page, links to everything)
``/about``                none
``/pricing``              none
``/blog``                 none
``/contact``              none (a form whose fields all have labels)
``/gallery``              an image without alt text (axe ``image-alt``) and an icon button without an
                          accessible name (axe ``button-name``), both critical
``/checkout``             its script throws an uncaught ``Error`` while the page loads
``/team``                 the team photo it shows does not exist (HTTP 404 for ``/static/team-photo.jpg``)
``/onboarding``           redirects to a 9-step sign-up wizard (``/onboarding/1`` ... ``/onboarding/9``,
                          then ``/onboarding/done``, which signs the user in with a session cookie):
                          every page is clean, but nine steps is too many
``/health``               plain ``ok`` for health checks
========================  ===========================================================================

Run it on a port of your choice, or on one the OS picks (``--port 0``, the default; the URL is
printed)::

    python examples/webapp/app.py --port 8000

The app listens on 127.0.0.1 only. ``create_app()`` returns the ASGI app for running it in process.

A slow back end, for measuring what parallel capture buys on an app that waits on I/O: with
``--backend-delay-ms 300`` (or ``DEMO_BACKEND_DELAY_MS=300`` in its environment, or
``create_app(backend_delay_s=0.3)``) every page first waits 300 ms on its data call, as a page
backed by a slow database or API would. Off by default; static files and ``/health`` never wait.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import html
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["BACKEND_DELAY_ENV", "ONBOARDING_STEPS", "SESSION_COOKIE", "SESSION_VALUE", "create_app", "main"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
BACKEND_DELAY_ENV = "DEMO_BACKEND_DELAY_MS"
"""Milliseconds every page waits on its (simulated) back end when the app is started from the CLI."""

Endpoint = Callable[[Request], Awaitable[Response]]

NAV = (
    ("/", "Home"),
    ("/about", "About"),
    ("/pricing", "Pricing"),
    ("/blog", "Blog"),
    ("/contact", "Contact"),
    ("/gallery", "Gallery"),
    ("/checkout", "Checkout"),
    ("/team", "Team"),
    ("/onboarding", "Sign up"),
)

ONBOARDING_STEPS: tuple[str, ...] = (
    "Welcome",
    "Your name",
    "Your email",
    "Your role",
    "Your workspace",
    "Invite teammates",
    "Choose a plan",
    "Notifications",
    "Review and confirm",
)
"""The wizard's step titles; nine of them, which is the point."""

_STEP_INTROS = {
    1: "<p>Let us set up your workspace. It only takes a few steps.</p>",
    9: "<p>Check your answers, then finish to create your workspace.</p>",
}

_STEP_FIELDS = {
    2: '<label for="name">Full name</label><input id="name" name="name" autocomplete="name">',
    3: '<label for="email">Email address</label>'
    '<input id="email" name="email" type="email" autocomplete="email">',
    4: '<label for="role">Role</label><select id="role" name="role">'
    "<option>Engineering</option><option>Design</option><option>Product</option></select>",
    5: '<label for="workspace">Workspace name</label><input id="workspace" name="workspace">',
    6: '<label for="invite">Teammates\' emails (optional)</label><input id="invite" name="invite">',
    7: "<fieldset><legend>Plan</legend>"
    '<input type="radio" id="plan-free" name="plan" value="free" checked>'
    '<label for="plan-free">Free</label>'
    '<input type="radio" id="plan-team" name="plan" value="team"><label for="plan-team">Team</label>'
    "</fieldset>",
    8: '<input type="checkbox" id="digest" name="digest" checked>'
    '<label for="digest">Send me a weekly digest</label>',
}


def _page(title: str, body: str, *, scripts: Sequence[str] = ()) -> HTMLResponse:
    nav = "".join(f'<li><a href="{href}">{html.escape(label)}</a></li>' for href, label in NAV)
    script_tags = "".join(f'<script src="{src}"></script>' for src in scripts)
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # An empty data: icon, so the browser asks for no /favicon.ico (a 404 on every page).
        '<link rel="icon" href="data:,">'
        f'<link rel="stylesheet" href="/static/app.css"><title>{html.escape(title)} · Demo</title></head>'
        f'<body><header><nav aria-label="Main"><ul>{nav}</ul></nav></header>'
        f"<main><h1>{html.escape(title)}</h1>{body}</main>"
        "<footer><p>Demo app for orchestrate</p></footer>"
        f"{script_tags}</body></html>"
    )
    return HTMLResponse(document)


async def home(request: Request) -> Response:
    return _page(
        "Welcome to Demo",
        "<p>A tiny product site with a few known problems, for trying the UI gate.</p>"
        '<p><a href="/onboarding">Create your workspace</a></p>',
    )


async def about(request: Request) -> Response:
    return _page("About us", "<p>We make small tools for careful teams.</p>")


async def pricing(request: Request) -> Response:
    rows = "".join(
        f'<tr><th scope="row">{plan}</th><td>{price}</td></tr>'
        for plan, price in (("Free", "0 €"), ("Team", "8 € per seat"), ("Enterprise", "Ask us"))
    )
    return _page(
        "Pricing",
        f'<table><caption>Plans</caption><thead><tr><th scope="col">Plan</th><th scope="col">Price</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>",
    )


async def blog(request: Request) -> Response:
    posts = "".join(
        f"<article><h2>{title}</h2><p>{text}</p></article>"
        for title, text in (
            ("Release 1.2", "Faster exports and a dark theme."),
            ("How we test", "Every change runs through a UI gate before it ships."),
        )
    )
    return _page("Blog", posts)


async def contact(request: Request) -> Response:
    return _page(
        "Contact",
        '<form action="/contact" method="get">'
        '<label for="contact-email">Your email</label>'
        '<input id="contact-email" name="email" type="email" autocomplete="email">'
        '<label for="message">Message</label><textarea id="message" name="message"></textarea>'
        '<button type="submit">Send</button></form>',
    )


async def gallery(request: Request) -> Response:
    # Defects: the image has no alt attribute; the icon-only button has no accessible name.
    return _page(
        "Gallery",
        '<figure><img src="/static/sunset.svg" width="320" height="180"></figure>'
        '<button type="button" class="icon-button"><svg width="16" height="16" aria-hidden="true">'
        '<circle cx="8" cy="8" r="6"></circle></svg></button>',
    )


async def checkout(request: Request) -> Response:
    # Defect: /static/checkout.js throws an uncaught Error while the page loads.
    return _page(
        "Checkout",
        "<p>Review your order and pay.</p>",
        scripts=["/static/checkout.js"],
    )


async def team(request: Request) -> Response:
    # Defect: the photo does not exist, so the browser gets a 404 for it.
    return _page(
        "Our team",
        '<img src="/static/team-photo.jpg" alt="The whole team at the summer offsite" '
        'width="320" height="180"><p>Twelve people in four countries.</p>',
    )


async def onboarding_start(request: Request) -> Response:
    return RedirectResponse("/onboarding/1", status_code=302)


async def onboarding_step(request: Request) -> Response:
    number = int(request.path_params["step"])
    if not 1 <= number <= len(ONBOARDING_STEPS):
        return PlainTextResponse("Not Found", status_code=404)
    title = ONBOARDING_STEPS[number - 1]
    intro = _STEP_INTROS.get(number, "")
    last = number == len(ONBOARDING_STEPS)
    action = "/onboarding/done" if last else f"/onboarding/{number + 1}"
    button = "Finish" if last else "Next"
    return _page(
        title,
        f'<p class="progress">Step {number} of {len(ONBOARDING_STEPS)}</p>{intro}'
        f'<form action="{action}" method="get">{_STEP_FIELDS.get(number, "")}'
        f'<button type="submit">{button}</button></form>',
    )


SESSION_COOKIE = "demo_session"
SESSION_VALUE = "s3cr3t-demo-session-7f3a9c"
"""Finishing the wizard signs the user in; evidence of a run must never contain this value."""


async def onboarding_done(request: Request) -> Response:
    response = _page("You're all set", '<p>Your workspace is ready. <a href="/">Go to the home page</a>.</p>')
    response.set_cookie(SESSION_COOKIE, SESSION_VALUE, httponly=True, samesite="lax")
    return response


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


def _with_backend(endpoint: Endpoint, delay_s: float) -> Endpoint:
    """``endpoint`` after a data call that takes ``delay_s`` (nothing when 0)."""
    if delay_s <= 0:
        return endpoint

    @functools.wraps(endpoint)
    async def page(request: Request) -> Response:
        await asyncio.sleep(delay_s)  # the page's data call to a slow back end
        return await endpoint(request)

    return page


def create_app(*, backend_delay_s: float = 0.0) -> Starlette:
    """The demo app (an ASGI application); every page waits ``backend_delay_s`` on its back end."""

    def page(endpoint: Endpoint) -> Endpoint:
        return _with_backend(endpoint, backend_delay_s)

    return Starlette(
        routes=[
            Route("/", page(home)),
            Route("/about", page(about)),
            Route("/pricing", page(pricing)),
            Route("/blog", page(blog)),
            Route("/contact", page(contact)),
            Route("/gallery", page(gallery)),
            Route("/checkout", page(checkout)),
            Route("/team", page(team)),
            Route("/onboarding", page(onboarding_start)),
            Route("/onboarding/done", page(onboarding_done)),
            Route("/onboarding/{step:int}", page(onboarding_step)),
            Route("/health", health),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the app on 127.0.0.1 until interrupted; prints the URL once it listens."""
    parser = argparse.ArgumentParser(description="The orchestrate demo web app (with known defects).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "0")),
        help="port to listen on; 0 (the default unless $PORT is set) lets the OS pick one",
    )
    parser.add_argument(
        "--backend-delay-ms",
        type=int,
        default=int(os.environ.get(BACKEND_DELAY_ENV, "0")),
        help=f"every page first waits this long on a slow back end (default 0, or ${BACKEND_DELAY_ENV})",
    )
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    print(f"Demo web app on http://{args.host}:{port}", flush=True)
    app = create_app(backend_delay_s=max(0, args.backend_delay_ms) / 1000)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
