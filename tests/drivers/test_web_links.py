"""The link rules of ``routes: auto`` and the origin rules of profiles, without a browser."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from orchestrator.drivers.web import WebCaptureOptions, capture_web
from orchestrator.drivers.web._links import LinkScope, is_html_content_type, parse_sitemap
from orchestrator.errors import ConfigError
from orchestrator.gate import CaptureManifest
from orchestrator.policy.test_profiles import JourneySpec, foreign_routes, origin_of

SCOPE = LinkScope("http://127.0.0.1:8000")


@pytest.mark.parametrize(
    ("href", "route"),
    [
        ("/about", "/about"),
        ("about", "/about"),
        ("http://127.0.0.1:8000/pricing", "/pricing"),
        ("/about#team", "/about"),
        ("/products?page=2#top", "/products?page=2"),
        ("/blog-offers", "/blog-offers"),
        ("/catalog/turn-off-the-lights", "/catalog/turn-off-the-lights"),
        ("/v1.2/notes", "/v1.2/notes"),
        ("", "/"),
    ],
)
def test_links_on_the_site_become_routes(href: str, route: str) -> None:
    assert SCOPE.route_of(href, page_url="http://127.0.0.1:8000/").route == route


@pytest.mark.parametrize(
    ("href", "text", "reason"),
    [
        ("https://example.org/x", "", "another origin (https://example.org)"),
        ("http://127.0.0.1:8001/", "", "another origin (http://127.0.0.1:8001)"),
        ("https://127.0.0.1:8000/", "", "another origin (https://127.0.0.1:8000)"),
        ("mailto:ada@example.org", "", "not a web link (mailto scheme)"),
        ("javascript:void(0)", "", "not a web link (javascript scheme)"),
        ("/logout", "", "a logout link"),
        ("/account/Log-Out?next=/", "", "a logout link"),
        ("/auth/sign_out", "", "a logout link"),
        ("/session/signout", "", "a logout link"),
        ("/session/end", "Sign out", "a logout link"),
        ("/files/guide.PDF", "", "not a page (.pdf)"),
        ("/static/app.css", "", "not a page (.css)"),
        ("/feed.xml", "", "not a page (.xml)"),
    ],
)
def test_links_that_are_not_followed_say_why(href: str, text: str, reason: str) -> None:
    verdict = SCOPE.route_of(href, page_url="http://127.0.0.1:8000/", text=text)
    assert (verdict.route, verdict.skipped) == (None, reason)


def test_a_base_url_with_a_path_keeps_the_crawl_under_it() -> None:
    scope = LinkScope("http://127.0.0.1:8000/app/")
    assert scope.route_of("/app/settings").route == "/settings"
    assert scope.route_of("/app").route == "/"
    assert scope.route_of("/application").skipped == "outside the base path /app"
    assert scope.route_of("/docs").skipped == "outside the base path /app"


@pytest.mark.parametrize(
    "href",
    [
        "/app/doLogout",
        "/app/LogoutServlet",
        "/app/logoutAction.do",
        "/app/userSignOut",
        "/app/session?do=logoutNow",
        "/app/account/log%6Fut",
    ],
)
def test_logout_links_in_any_spelling_are_not_followed(href: str) -> None:
    assert LinkScope("http://h/app").route_of(f"http://h{href}").skipped == "a logout link"


def test_words_that_only_contain_log_out_are_pages() -> None:
    assert LinkScope("http://h/").route_of("http://h/blog-outreach").route == "/blog-outreach"


def test_dot_segments_are_resolved_before_the_base_path_is_checked() -> None:
    scope = LinkScope("http://h/app")
    assert scope.route_of("http://h/app/../admin").skipped == "outside the base path /app"
    assert scope.route_of("http://h/app/x/../y").route == "/y"
    assert scope.route_of("http://h/app/a/./b/").route == "/a/b/"


def test_query_only_variants_are_one_route() -> None:
    assert LinkScope.key_of("/products?page=2") == LinkScope.key_of("/products") == "/products"


def test_content_types_that_are_pages() -> None:
    assert is_html_content_type("text/html; charset=utf-8")
    assert is_html_content_type("application/xhtml+xml")
    assert is_html_content_type(None)
    assert not is_html_content_type("application/pdf")
    assert not is_html_content_type("application/json")


def test_sitemaps_and_sitemap_indexes_are_read_and_hostile_ones_are_not() -> None:
    urlset = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc> http://h/a </loc></url><url><loc>http://h/b</loc><lastmod>2024</lastmod></url></urlset>"
    )
    assert parse_sitemap(urlset) == (["http://h/a", "http://h/b"], [])
    index = b"<sitemapindex><sitemap><loc>http://h/pages.xml</loc></sitemap></sitemapindex>"
    assert parse_sitemap(index) == ([], ["http://h/pages.xml"])
    bomb = b'<!DOCTYPE u [<!ENTITY a "aaaa">]><urlset><url><loc>&a;</loc></url></urlset>'
    assert parse_sitemap(bomb) == ([], [])
    assert parse_sitemap(b"<html><body>not found</body></html>") == ([], [])
    assert parse_sitemap(b"<urlset><url>") == ([], [])


def test_origins_ignore_case_and_default_ports() -> None:
    assert origin_of("HTTPS://Docs.Example.com:443/x?y") == "https://docs.example.com"
    assert origin_of("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert origin_of("http://[::1]:80/") == "http://[::1]"


def test_foreign_routes_and_gotos_are_found_unless_allowed() -> None:
    journey = JourneySpec.model_validate(
        {"name": "j", "steps": [{"goto": "/start"}, {"goto": "https://auth.example.com/login"}]}
    )
    routes = ["/", "http://127.0.0.1:8000/same", "https://docs.example.com/guide"]
    found = foreign_routes(routes, [journey], base_url="http://127.0.0.1:8000")
    assert [(f.field, f.origin) for f in found] == [
        ("routes[2]", "https://docs.example.com"),
        ("journeys[0].steps[1].path", "https://auth.example.com"),
    ]
    allowed = ["https://docs.example.com", "https://AUTH.example.com:443"]
    assert foreign_routes(routes, [journey], base_url="http://127.0.0.1:8000", allowed_origins=allowed) == []
    assert foreign_routes("auto", [], base_url="http://127.0.0.1:8000") == []


def test_a_route_on_another_origin_is_refused_before_any_browser_starts(tmp_path: Path) -> None:
    profile_file = tmp_path / ".orchestrator" / "policy" / "test-profiles.yaml"
    outcome = capture_web(
        WebCaptureOptions(
            run_dir=tmp_path / "run",
            base_url="http://127.0.0.1:9",
            routes=["/", "https://docs.example.com/guide"],
            profile_name="smoke",
            profile_file=profile_file,
            # No browser may be needed: a launch would fail on this one.
            env={"ORCHESTRATE_CHROMIUM": str(tmp_path / "no-such-browser"), "PATH": ""},
        )
    )
    manifest = CaptureManifest.model_validate_json((tmp_path / "run" / "captures" / "web.json").read_text())
    assert manifest == outcome.manifest
    assert manifest.exit_code == 2 and manifest.captures == []
    expected = ConfigError(
        profile_file,
        "profiles.smoke.routes[1]",
        "'https://docs.example.com/guide' is on https://docs.example.com, not on the target's origin "
        "http://127.0.0.1:9",
        'use a path on the target, or allow that origin in the profile: allowed_origins: ["https://docs.example.com"]',
    )
    assert manifest.error == str(expected)
    assert str(profile_file) in manifest.error


@pytest.mark.browser
@pytest.mark.timeout(60)
def test_a_target_that_does_not_answer_is_a_framework_error_not_findings(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    outcome = capture_web(
        WebCaptureOptions(
            run_dir=tmp_path / "run", base_url=f"http://127.0.0.1:{closed}", routes=["/", "/about"]
        )
    )
    # Exit 2 with the cause, and no failed captures for the evaluator to file as product defects.
    assert outcome.manifest.exit_code == 2
    assert outcome.manifest.captures == []
    assert outcome.manifest.error == (
        f"the target did not answer at http://127.0.0.1:{closed}: net::ERR_CONNECTION_REFUSED"
    )
