"""How a user's client connects to a running twin: the URL it takes, a valid token, one line of code.

Official clients disagree on what "the URL" is: python-gitlab wants the host and adds ``/api/v4``
itself, the OpenAI SDK wants ``.../v1``, slack_sdk joins method names onto a base URL that ends
with a slash. A twin's ``twin.json`` says which in its ``client`` section
(:class:`~orchestrator.twins._manifest.ClientSpec`); a twin without one gets its base URL and a
line of ``httpx`` that sends its auth header. ``orchestrate twin serve`` prints these.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.twins._manifest import TwinManifest

__all__ = ["ClientHint", "client_hint"]


@dataclass(frozen=True, slots=True)
class ClientHint:
    """What a client needs: ``url`` as the client takes it, a valid ``token``, a ``code`` line."""

    url: str
    token: str | None
    code: str
    package: str | None


def client_hint(manifest: TwinManifest, origin: str) -> ClientHint:
    """The hint for a twin with ``manifest`` served at ``origin`` (``http://127.0.0.1:<port>``)."""
    spec = manifest.client
    base = origin + manifest.base_path
    url = spec.url.format(origin=origin, url=base, token="")
    principals = manifest.auth.principals()
    token = spec.token or (next(iter(principals)) if principals else None)
    if manifest.auth.type == "none":
        token = None
    template = spec.code or _httpx_line(manifest)
    code = template.format(origin=origin, url=url, token=token or "")
    return ClientHint(url=url, token=token, code=code, package=spec.package if spec.code else "httpx")


def _httpx_line(manifest: TwinManifest) -> str:
    auth = manifest.auth
    if auth.type == "none":
        return 'httpx.Client(base_url="{url}")'
    if auth.type == "bearer":
        scheme = auth.schemes[0] if auth.schemes else "Bearer"
        return 'httpx.Client(base_url="{url}", headers={{"Authorization": "' + scheme + ' {token}"}})'
    return 'httpx.Client(base_url="{url}", headers={{"' + auth.header_name + '": "{token}"}})'
