"""The ``okta`` twin's behaviour: primary authentication, sessions and users, with lockout.

``POST /api/v1/authn`` (no API token needed) checks a username and password: an active user
gets ``SUCCESS`` and a one-time session token; a user whose password expired gets
``PASSWORD_EXPIRED``; a locked-out user gets ``LOCKED_OUT``; a wrong password gets Okta's
``E0000004`` 401, and after ``max_failed_attempts`` (default 3) of them the user is locked out.
The session token opens a session with ``POST /api/v1/sessions`` (API token, ``SSWS`` scheme);
sessions can be read, refreshed and closed. Users can be listed, read (by id or login) and
unlocked. Seed users carry their ``password`` beside ``status`` and ``profile``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.twins import TwinCall, TwinReply, TwinRoutes

routes = TwinRoutes()

_MAX_FAILED_ATTEMPTS = 3
_SESSION_HOURS = 2


def _when(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _okta_error(status: int, code: str, summary: str) -> TwinReply:
    return TwinReply(
        status=status,
        body={
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": "oaetwin",
            "errorCauses": [],
        },
    )


def _auth_failed() -> TwinReply:
    return _okta_error(401, "E0000004", "Authentication failed")


def _user_view(user: Mapping[str, Any]) -> dict[str, Any]:
    hidden = {"password", "failed_attempts", "max_failed_attempts"}
    return {key: value for key, value in user.items() if key not in hidden}


def _find_user(call: TwinCall, ref: Any) -> dict[str, Any] | None:
    if not isinstance(ref, str) or not ref:
        return None
    found = call.state.get("users", ref)
    if found is not None:
        return found
    for user in call.state.list("users"):
        profile = user.get("profile") or {}
        if ref.casefold() in (
            str(profile.get("login", "")).casefold(),
            str(profile.get("email", "")).casefold(),
        ):
            return user
    return None


def _embedded_user(user: Mapping[str, Any]) -> dict[str, Any]:
    profile = user.get("profile") or {}
    return {
        "user": {
            "id": user["id"],
            "profile": {
                key: profile.get(key) for key in ("login", "firstName", "lastName", "locale", "timeZone")
            },
        }
    }


@routes.post("/authn", public=True)
def authn(call: TwinCall) -> TwinReply:
    body = call.body if isinstance(call.body, Mapping) else {}
    user = _find_user(call, body.get("username"))
    if user is None:
        return _auth_failed()
    status = user.get("status", "ACTIVE")
    if status == "LOCKED_OUT":
        return TwinReply(body={"status": "LOCKED_OUT"})
    if status not in ("ACTIVE", "PASSWORD_EXPIRED"):
        return _auth_failed()
    if body.get("password") != user.get("password"):
        failures = int(user.get("failed_attempts", 0)) + 1
        limit = int(user.get("max_failed_attempts", _MAX_FAILED_ATTEMPTS))
        changes: dict[str, Any] = {"failed_attempts": failures}
        if failures >= limit:
            changes["status"] = "LOCKED_OUT"
        call.state.update("users", user["id"], changes)
        return _auth_failed()
    call.state.update("users", user["id"], {"failed_attempts": 0, "lastLogin": _when()})
    expires = _when(timedelta(minutes=5))
    if status == "PASSWORD_EXPIRED":
        state_token = _transaction(call, "state", user["id"], expires)
        return TwinReply(
            body={
                "stateToken": state_token,
                "expiresAt": expires,
                "status": "PASSWORD_EXPIRED",
                "_embedded": _embedded_user(user),
            }
        )
    session_token = _transaction(call, "session", user["id"], expires)
    return TwinReply(
        body={
            "expiresAt": expires,
            "status": "SUCCESS",
            "sessionToken": session_token,
            "_embedded": _embedded_user(user),
        }
    )


@routes.post("/sessions")
def create_session(call: TwinCall) -> TwinReply:
    body = call.body if isinstance(call.body, Mapping) else {}
    token = body.get("sessionToken")
    transaction = call.state.get("transactions", token) if isinstance(token, str) else None
    if transaction is None or transaction.get("kind") != "session":
        return _okta_error(401, "E0000005", "Invalid session")
    call.state.delete("transactions", token)  # a session token is good for one session
    user = call.state.get("users", transaction["userId"]) or {}
    number = call.state.next_id("sessions")
    session = call.state.insert(
        "sessions",
        {
            "id": f"102twinsession{number:06d}",
            "userId": transaction["userId"],
            "login": (user.get("profile") or {}).get("login"),
            "createdAt": _when(),
            "expiresAt": _when(timedelta(hours=_SESSION_HOURS)),
            "status": "ACTIVE",
            "lastPasswordVerification": _when(),
            "amr": ["pwd"],
            "idp": {"id": "00otwinidp", "type": "OKTA"},
            "mfaActive": False,
        },
    )
    return TwinReply(body=session)


def _session(call: TwinCall) -> dict[str, Any] | None:
    return call.state.get("sessions", call.path_params["session_id"])


def _no_session(call: TwinCall) -> TwinReply:
    return _okta_error(
        404, "E0000007", f"Not found: Resource not found: {call.path_params['session_id']} (Session)"
    )


@routes.get("/sessions/{session_id}")
def get_session(call: TwinCall) -> TwinReply:
    session = _session(call)
    return TwinReply(body=session) if session is not None else _no_session(call)


@routes.post("/sessions/{session_id}/lifecycle/refresh")
def refresh_session(call: TwinCall) -> TwinReply:
    session = _session(call)
    if session is None:
        return _no_session(call)
    updated = call.state.update(
        "sessions", session["id"], {"expiresAt": _when(timedelta(hours=_SESSION_HOURS))}
    )
    return TwinReply(body=updated)


@routes.delete("/sessions/{session_id}")
def close_session(call: TwinCall) -> TwinReply:
    session = _session(call)
    if session is None:
        return _no_session(call)
    call.state.delete("sessions", session["id"])
    return TwinReply(status=204)


@routes.get("/users")
def list_users(call: TwinCall) -> TwinReply:
    return TwinReply(body=[_user_view(user) for user in call.state.list("users")])


@routes.get("/users/{user_ref}")
def get_user(call: TwinCall) -> TwinReply:
    user = _find_user(call, call.path_params["user_ref"])
    if user is None:
        return _okta_error(
            404, "E0000007", f"Not found: Resource not found: {call.path_params['user_ref']} (User)"
        )
    return TwinReply(body=_user_view(user))


@routes.post("/users/{user_ref}/lifecycle/unlock")
def unlock_user(call: TwinCall) -> TwinReply:
    user = _find_user(call, call.path_params["user_ref"])
    if user is None:
        return _okta_error(
            404, "E0000007", f"Not found: Resource not found: {call.path_params['user_ref']} (User)"
        )
    if user.get("status") != "LOCKED_OUT":
        return _okta_error(403, "E0000032", "Unlock is not allowed for this user.")
    call.state.update("users", user["id"], {"status": "ACTIVE", "failed_attempts": 0})
    return TwinReply(body={})


def _transaction(call: TwinCall, kind: str, user_id: str, expires: str) -> str:
    """Record a state or session transaction for ``user_id``; return its token."""
    token = f"twin-{kind}-token-{call.state.next_id('transactions')}"
    call.state.insert("transactions", {"token": token, "kind": kind, "userId": user_id, "expiresAt": expires})
    return token
