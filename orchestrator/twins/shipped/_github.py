"""The ``github`` twin's issue search: ``GET /search/issues?q=...``, as ``Github.search_issues`` calls it.

The query is GitHub's search syntax, the part of it that issue tooling uses: words and
``"quoted phrases"`` (each must appear, case-insensitively, in the fields ``in:`` names: title
and body by default, ``comments`` too), and the qualifiers ``repo:owner/name``, ``user:``/``org:``
(the repository's owner), ``is:issue|pr|open|closed``, ``type:issue|pr``, ``state:open|closed``,
``label:name`` (several are all required; ``label:a,b`` wants either), ``author:``,
``assignee:``, ``no:label`` and ``no:assignee``; a leading ``-`` negates a qualifier or a word.
Qualifiers the twin does not model (``created:``, ``milestone:``...) are a 422 that names them, not
a silently empty result. The twin holds no pull requests, so ``is:pr`` finds nothing.

Results are sorted by ``sort`` (``created``, ``updated``, ``comments``; default: newest number
first) in ``order`` (default ``desc``) and paged with ``Link`` headers; the answer is
``{"total_count", "incomplete_results", "items"}``, items as the issue routes send them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.twins import PaginationSpec, TwinCall, TwinReply, TwinRoutes, paginate

routes = TwinRoutes()

Record = Mapping[str, Any]
_PAGES = PaginationSpec(style="link_header", default_per_page=30, max_per_page=100)
_TOKEN = re.compile(r'-?[A-Za-z_]+:"[^"]*"|-?"[^"]*"?|\S+')
_UNMODELLED = frozenset(
    {
        "archived", "base", "closed", "commenter", "comments", "created", "draft", "head", "interactions",
        "involves", "language", "linked", "mentions", "merged", "milestone", "project", "reactions",
        "reason", "review", "reviewed-by", "review-requested", "status", "team", "team-review-requested",
        "updated",
    }
)  # fmt: skip
_SORTS = {"created": "created_at", "updated": "updated_at", "comments": "comments"}


class _QueryError(ValueError):
    pass


@dataclass
class _Query:
    """A parsed query: predicates on an issue, and the words with the fields they are searched in."""

    predicates: list[Callable[[Record], bool]] = field(default_factory=list)
    words: list[tuple[str, bool]] = field(default_factory=list)
    scopes: set[str] = field(default_factory=set)
    issues_wanted: bool = True


def _text(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value.startswith('"') and value.endswith('"') else value


def _names(items: Any, key: str) -> set[str]:
    return {
        str(item.get(key) if isinstance(item, Mapping) else item).casefold()
        for item in items or []
        if item is not None
    }


def _qualifier(query: _Query, name: str, value: str) -> Callable[[Record], bool] | None:
    wanted = value.casefold()
    if name == "repo":
        return lambda issue: str(issue.get("repository", "")).casefold() == wanted
    if name in ("user", "org"):
        return lambda issue: str(issue.get("repository", "")).casefold().split("/")[0] == wanted
    if name in ("is", "type", "state"):
        if wanted in ("open", "closed") and name != "type":
            return lambda issue: str(issue.get("state", "")).casefold() == wanted
        if wanted in ("issue", "pr", "pull-request") and name != "state":
            query.issues_wanted = query.issues_wanted and wanted == "issue"
            return None
        raise _QueryError(f"{name}:{value} is not something the github twin can search by")
    if name == "label":
        parts = {part.strip().casefold() for part in wanted.split(",") if part.strip()}
        return lambda issue: bool(parts & _names(issue.get("labels"), "name"))
    if name == "author":
        return lambda issue: str((issue.get("user") or {}).get("login", "")).casefold() == wanted
    if name == "assignee":
        return lambda issue: wanted in _names(issue.get("assignees"), "login")
    if name == "no":
        key = {"label": ("labels", "name"), "assignee": ("assignees", "login")}.get(wanted)
        if key is None:
            raise _QueryError(f"no:{value} is not something the github twin can search by")
        return lambda issue: not issue.get(key[0])
    if name == "in":
        scopes = {part.strip() for part in wanted.split(",") if part.strip()}
        unknown = scopes - {"title", "body", "comments"}
        if unknown:
            raise _QueryError(f"in:{value}: the places to search are title, body and comments")
        query.scopes |= scopes
        return None
    raise _QueryError(
        f"the github twin does not model the qualifier {name}: (it knows repo, user, org, is, type, "
        "state, label, author, assignee, no, in)"
    )


def _negated(predicate: Callable[[Record], bool]) -> Callable[[Record], bool]:
    return lambda issue: not predicate(issue)


def _parse(text: str) -> _Query:
    query = _Query()
    for token in _TOKEN.findall(text):
        negated = token.startswith("-") and len(token) > 1
        bare = token[1:] if negated else token
        name, colon, value = bare.partition(":")
        if colon and not bare.startswith('"') and re.fullmatch(r"[A-Za-z_-]+", name):
            lowered = name.casefold()
            known = lowered in {"repo", "user", "org", "is", "type", "state", "label", "author"}
            known = known or lowered in {"assignee", "no", "in"}
            if lowered in _UNMODELLED:
                raise _QueryError(f"the github twin does not model the qualifier {name}:")
            if known:
                predicate = _qualifier(query, lowered, _text(value))
                if predicate is not None:
                    query.predicates.append(_negated(predicate) if negated else predicate)
                continue
        word = _text(bare).strip()
        if word:
            query.words.append((word.casefold(), negated))
    return query


def _haystack(call: TwinCall, issue: Record, scopes: set[str]) -> str:
    parts: list[str] = []
    if "title" in scopes:
        parts.append(str(issue.get("title") or ""))
    if "body" in scopes:
        parts.append(str(issue.get("body") or ""))
    if "comments" in scopes:
        parts.extend(
            str(comment.get("body") or "")
            for comment in call.state.list("comments")
            if comment.get("repository") == issue.get("repository")
            and comment.get("issue_number") == issue.get("number")
        )
    return "\n".join(parts).casefold()


def _invalid(message: str) -> TwinReply:
    return TwinReply(
        status=422,
        body={
            "message": "Validation Failed",
            "errors": [{"resource": "Search", "field": "q", "code": "invalid", "message": message}],
            "documentation_url": "https://docs.github.com/rest/search/search#search-issues-and-pull-requests",
            "status": "422",
        },
    )


@routes.get("/search/issues")
def search_issues(call: TwinCall) -> TwinReply:
    text = call.query.get("q", "").strip()
    if not text:
        return _invalid("q is required, for example q=repo:octo-org/hello-world is:issue is:open")
    try:
        query = _parse(text)
    except _QueryError as exc:
        return _invalid(str(exc))
    scopes = query.scopes or {"title", "body"}
    found: list[dict[str, Any]] = []
    if query.issues_wanted:
        for issue in call.state.list("issues"):
            if not all(predicate(issue) for predicate in query.predicates):
                continue
            if query.words:
                haystack = _haystack(call, issue, scopes)
                if not all((word in haystack) != negated for word, negated in query.words):
                    continue
            found.append(issue)
    order = call.query.get("order", "desc").casefold()
    key = _SORTS.get(call.query.get("sort", "").casefold(), "number")
    found.sort(key=lambda issue: (issue.get(key) is None, issue.get(key) or 0), reverse=order != "asc")
    page, headers = paginate(found, _PAGES, call)
    items = [{**call.present("issues", issue), "score": 1.0} for issue in page]
    return TwinReply(
        body={"total_count": len(found), "incomplete_results": False, "items": items}, headers=headers
    )
