"""A small client of a twin's admin API, for the scenario runner and tests."""

from __future__ import annotations

from typing import Any

import httpx

from orchestrator.errors import OrchestrateError

__all__ = ["TwinAdmin"]


class TwinAdmin:
    """Calls ``/__twin/*`` of one twin over HTTP. Use as a context manager, or call :meth:`close`.

    ``origin`` is the twin's ``http://host:port`` (its admin API is at the root, whatever its
    base path). A refused or failed call raises :class:`~orchestrator.errors.OrchestrateError`.
    """

    def __init__(self, origin: str, *, timeout: float = 10.0) -> None:
        self._client = httpx.Client(base_url=origin.rstrip("/") + "/__twin", timeout=timeout)

    def __enter__(self) -> TwinAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def info(self) -> dict[str, Any]:
        return self._object("GET", "/")

    def reset(self, data: Any = None, *, seed: int | None = None) -> dict[str, Any]:
        """Reload the default seed plus ``data``, clear the journal, restart the RNG (from ``seed``)."""
        document: dict[str, Any] = {}
        if data is not None:
            document["data"] = data
        if seed is not None:
            document["seed"] = seed
        return self._object("POST", "/reset", json=document)

    def state(self, entity: str | None = None) -> Any:
        """The whole state (entity to records), or the records of ``entity``."""
        return self._call("GET", "/state", params={"entity": entity} if entity else None)

    def journal(
        self, *, since: int = 0, trajectory: str | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"since": since}
        if trajectory is not None:
            params["trajectory"] = trajectory
        if limit is not None:
            params["limit"] = limit
        return self._object("GET", "/journal", params=params)

    def chaos(self) -> dict[str, Any]:
        return self._object("GET", "/chaos")

    def set_chaos(
        self, *, profile: str | None = None, config: dict[str, Any] | None = None, seed: int | None = None
    ) -> dict[str, Any]:
        """Switch to ``profile``, or to ``config`` (both ``None``: chaos off); optionally reseed."""
        document: dict[str, Any] = {"profile": profile} if profile is not None else {"config": config}
        if seed is not None:
            document["seed"] = seed
        return self._object("PUT", "/chaos", json=document)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise OrchestrateError(f"twin admin {method} {path} failed: {exc}") from exc
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise OrchestrateError(f"twin admin {method} {path} answered {response.status_code}: {message}")
        return response.json()

    def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        document: dict[str, Any] = self._call(method, path, **kwargs)
        return document
