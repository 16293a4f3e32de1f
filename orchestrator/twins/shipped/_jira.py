"""The ``jira`` twin's behaviour: a small, stateful Jira REST API v2.

Projects (list, get), issues (create, get, edit), JQL search and workflow transitions
(``To Do`` -> ``In Progress`` -> ``Done``, each reachable from the others with the transition ids
Jira's default workflow uses: 11, 21, 31). The JQL understood is the common subset: clauses
``field = value``, ``!=``, ``~`` (contains), ``in (a, b)`` and ``not in (...)`` joined by ``AND``,
then an optional ``ORDER BY field [ASC|DESC]``; fields ``project``, ``status``, ``issuetype``,
``labels``, ``summary``, ``text``, ``key``, ``reporter`` and ``assignee``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from orchestrator.twins import TwinCall, TwinReply, TwinRoutes

routes = TwinRoutes()

_STATUSES = {"To Do": "10000", "In Progress": "3", "Done": "10001"}
_CATEGORY = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}
_TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}
_CLAUSE = re.compile(
    r"""\s*(?P<field>[A-Za-z]+)\s*(?P<op>!=|=|~|not\s+in|in)\s*
        (?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\([^)]*\)|[^\s()]+)\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_ORDER = re.compile(r"\s+ORDER\s+BY\s+(?P<field>\w+)(?:\s+(?P<dir>ASC|DESC))?\s*$", re.IGNORECASE)


def utc_now() -> str:
    """Now, the way Jira writes times (``2024-05-01T12:00:00.000+0000``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _errors(status: int, *messages: str, **field_errors: str) -> TwinReply:
    return TwinReply(status=status, body={"errorMessages": list(messages), "errors": field_errors})


def _project_view(record: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    return {
        "id": str(record.get("id", "")),
        "key": record["key"],
        "name": record.get("name", record["key"]),
        "self": f"{base_url}/project/{record['key']}",
        "projectTypeKey": record.get("projectTypeKey", "software"),
    }


def _issue_view(call: TwinCall, record: Mapping[str, Any]) -> dict[str, Any]:
    project = call.state.get("projects", record["project"]) or {"key": record["project"]}
    status = record.get("status", "To Do")
    person = record.get("reporter")
    return {
        "id": str(record["id"]),
        "key": record["key"],
        "self": f"{call.base_url}/issue/{record['id']}",
        "fields": {
            "summary": record.get("summary"),
            "description": record.get("description"),
            "issuetype": {"name": record.get("issuetype", "Task")},
            "project": _project_view(project, call.base_url),
            "status": {
                "name": status,
                "id": _STATUSES.get(status, "10000"),
                "statusCategory": {"key": _CATEGORY.get(status, "new")},
            },
            "labels": list(record.get("labels", [])),
            "reporter": {"name": person, "displayName": person} if person else None,
            "assignee": {"name": record["assignee"]} if record.get("assignee") else None,
            "created": record.get("created"),
            "updated": record.get("updated"),
        },
    }


def _issue(call: TwinCall) -> dict[str, Any] | None:
    ref = str(call.path_params["key"])
    found = call.state.get("issues", ref.upper())
    return found if found is not None else call.state.find("issues", id=ref)


_MISSING_ISSUE = "Issue does not exist or you do not have permission to see it."


@routes.get("/project")
def list_projects(call: TwinCall) -> TwinReply:
    return TwinReply(body=[_project_view(record, call.base_url) for record in call.state.list("projects")])


@routes.get("/project/{key}")
def get_project(call: TwinCall) -> TwinReply:
    record = call.state.get("projects", str(call.path_params["key"]).upper())
    if record is None:
        return _errors(404, f"No project could be found with key '{call.path_params['key']}'.")
    return TwinReply(body=_project_view(record, call.base_url))


@routes.post("/issue")
def create_issue(call: TwinCall) -> TwinReply:
    fields = call.body.get("fields") if isinstance(call.body, Mapping) else None
    if not isinstance(fields, Mapping):
        return _errors(400, "The request body must have a `fields` object.")
    project_ref = fields.get("project") or {}
    key = project_ref.get("key") if isinstance(project_ref, Mapping) else None
    project = call.state.get("projects", str(key).upper()) if key else None
    if project is None:
        return _errors(400, project="valid project is required")
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        return _errors(400, summary="You must specify a summary of the issue.")
    issuetype = fields.get("issuetype")
    numbers = [
        int(record["key"].rsplit("-", 1)[1])
        for record in call.state.list("issues")
        if record.get("project") == project["key"] and record["key"].rsplit("-", 1)[-1].isdigit()
    ]
    now = utc_now()
    record = call.state.insert(
        "issues",
        {
            "key": f"{project['key']}-{max(numbers, default=0) + 1}",
            "id": max((int(r.get("id", 0)) for r in call.state.list("issues")), default=10000) + 1,
            "project": project["key"],
            "summary": summary,
            "description": fields.get("description"),
            "issuetype": issuetype.get("name", "Task") if isinstance(issuetype, Mapping) else "Task",
            "labels": list(fields.get("labels") or []),
            "status": "To Do",
            "reporter": call.principal,
            "created": now,
            "updated": now,
        },
    )
    return TwinReply(
        status=201,
        body={"id": str(record["id"]), "key": record["key"], "self": f"{call.base_url}/issue/{record['id']}"},
    )


@routes.get("/issue/{key}")
def get_issue(call: TwinCall) -> TwinReply:
    record = _issue(call)
    return TwinReply(body=_issue_view(call, record)) if record is not None else _errors(404, _MISSING_ISSUE)


@routes.put("/issue/{key}")
def edit_issue(call: TwinCall) -> TwinReply:
    record = _issue(call)
    if record is None:
        return _errors(404, _MISSING_ISSUE)
    fields = call.body.get("fields") if isinstance(call.body, Mapping) else None
    if not isinstance(fields, Mapping):
        return _errors(400, "The request body must have a `fields` object.")
    changes = {
        name: fields[name] for name in ("summary", "description", "labels", "assignee") if name in fields
    }
    call.state.update("issues", record["key"], {**changes, "updated": utc_now()})
    return TwinReply(status=204)


@routes.get("/issue/{key}/transitions")
def list_transitions(call: TwinCall) -> TwinReply:
    record = _issue(call)
    if record is None:
        return _errors(404, _MISSING_ISSUE)
    available = [
        {"id": tid, "name": name, "to": {"name": name, "id": _STATUSES[name]}}
        for tid, name in _TRANSITIONS.items()
        if name != record.get("status")
    ]
    return TwinReply(body={"expand": "transitions", "transitions": available})


@routes.post("/issue/{key}/transitions")
def do_transition(call: TwinCall) -> TwinReply:
    record = _issue(call)
    if record is None:
        return _errors(404, _MISSING_ISSUE)
    transition = call.body.get("transition") if isinstance(call.body, Mapping) else None
    tid = str(transition.get("id")) if isinstance(transition, Mapping) else ""
    target = _TRANSITIONS.get(tid)
    if target is None or target == record.get("status"):
        return _errors(400, f"Transition id '{tid}' is not valid for this issue.")
    call.state.update("issues", record["key"], {"status": target, "updated": utc_now()})
    return TwinReply(status=204)


@routes.route(("GET", "POST"), "/search", read_only=True)
def search(call: TwinCall) -> TwinReply:
    args: dict[str, Any] = dict(call.query)
    if isinstance(call.body, Mapping):
        args.update(call.body)
    try:
        start = max(int(args.get("startAt", 0)), 0)
        limit = min(max(int(args.get("maxResults", 50)), 0), 100)
    except (TypeError, ValueError):
        return _errors(400, "startAt and maxResults must be numbers.")
    try:
        keep, order = _parse_jql(str(args.get("jql") or ""))
    except ValueError as exc:
        return _errors(400, f"Error in the JQL Query: {exc}")
    found = [record for record in call.state.list("issues") if keep(record)]
    if order is not None:
        field, descending = order
        found.sort(key=lambda record: str(record.get(field) or ""), reverse=descending)
    page = found[start : start + limit]
    return TwinReply(
        body={
            "expand": "names,schema",
            "startAt": start,
            "maxResults": limit,
            "total": len(found),
            "issues": [_issue_view(call, record) for record in page],
        }
    )


# ------------------------------------------------------------------------------------------- JQL

_FIELDS = {
    "project": "project",
    "status": "status",
    "issuetype": "issuetype",
    "type": "issuetype",
    "labels": "labels",
    "summary": "summary",
    "text": "text",
    "key": "key",
    "issuekey": "key",
    "reporter": "reporter",
    "assignee": "assignee",
    "created": "created",
    "updated": "updated",
}

Predicate = Callable[[Mapping[str, Any]], bool]


def _parse_jql(jql: str) -> tuple[Predicate, tuple[str, bool] | None]:
    order: tuple[str, bool] | None = None
    ordered = _ORDER.search(jql)
    if ordered is not None:
        field = _FIELDS.get(ordered["field"].lower())
        if field is None:
            raise ValueError(f"cannot order by {ordered['field']!r}")
        order = (field, (ordered["dir"] or "ASC").upper() == "DESC")
        jql = jql[: ordered.start()]
    predicates: list[Predicate] = []
    rest = jql.strip()
    while rest:
        clause = _CLAUSE.match(rest)
        if clause is None:
            raise ValueError(f"cannot read {rest!r}")
        predicates.append(_predicate(clause["field"], clause["op"], clause["value"]))
        rest = rest[clause.end() :].strip()
        if rest:
            joiner = re.match(r"AND\s+", rest, re.IGNORECASE)
            if joiner is None:
                raise ValueError(f"expected AND before {rest!r} (OR is not supported by the twin)")
            rest = rest[joiner.end() :]
    return (lambda record: all(predicate(record) for predicate in predicates)), order


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].replace('\\"', '"').replace("\\'", "'")
    return value


def _predicate(name: str, op: str, raw: str) -> Predicate:
    field = _FIELDS.get(name.lower())
    if field is None:
        raise ValueError(f"the field {name!r} does not exist or is not supported")
    op = " ".join(op.lower().split())
    if op in ("in", "not in"):
        if not raw.startswith("("):
            raise ValueError(f"{op} needs a list, for example {name} {op} (a, b)")
        wanted = {_unquote(part).casefold() for part in raw[1:-1].split(",") if part.strip()}
        negate = op == "not in"
        return lambda record: bool(_values(record, field) & wanted) != negate
    value = _unquote(raw).casefold()
    if op == "~":
        return lambda record: any(value in text for text in _values(record, field))
    negate = op == "!="
    return lambda record: (value in _values(record, field)) != negate


def _values(record: Mapping[str, Any], field: str) -> set[str]:
    if field == "text":
        return {
            str(record.get("summary") or "").casefold()
            + " "
            + str(record.get("description") or "").casefold()
        }
    value = record.get(field)
    if isinstance(value, list):
        return {str(item).casefold() for item in value}
    return {str(value).casefold()} if value is not None else set()
