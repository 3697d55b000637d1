"""Routes of the client base: the duplicates list, merging two records, undoing it.

JSON API under ``/api/duplicates`` and ``/api/merges``; panel pages ``/duplicates``,
``/merge`` (pick each field's value) and ``/merges/{id}`` (the result, with undo).
Every route is open to every role: what a user may list and merge is decided by
``callcenter.clients.merge`` (managers: their own clients only; a record they may not
see answers 404, like a missing one).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from callcenter.clients.merge import (
    COMPANY_FIELDS,
    CONTACT_FIELDS,
    CannotMerge,
    InvalidMergeChoice,
    MergeService,
    NoSuchMerge,
    UndoRefused,
)
from web.auth import current_user, roles
from web.keys import SERVICES
from web.middleware import error_response
from web.openapi import ERROR, add_paths, body, query
from web.routes.api import read_json

logger = logging.getLogger(__name__)

PAGE_SIZE = 50


def _merges(request: web.Request) -> MergeService:
    sessions = request.app[SERVICES].sessions
    assert sessions is not None
    return MergeService(sessions)


def _entity(value: str | None) -> str:
    return "contact" if value == "contact" else "company"


def _number(raw: Any, field: str, default: int | None = None) -> int:
    if (raw is None or raw == "") and default is not None:
        return default
    if isinstance(raw, bool):
        raise web.HTTPUnprocessableEntity(reason=f"{field}: a whole number")
    try:
        number = int(raw)
    except (TypeError, ValueError):
        raise web.HTTPUnprocessableEntity(reason=f"{field}: a whole number") from None
    if not 0 <= number < 2**31:
        raise web.HTTPUnprocessableEntity(reason=f"{field}: out of range")
    return number


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def _merge_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["merge_id"])
    except ValueError:
        raise NoSuchMerge(request.match_info["merge_id"]) from None


def _refused(request: web.Request, error: UndoRefused) -> web.Response:
    # TODO(middleware maps UndoRefused to 409; diff in the merge report).
    return error_response(request, 409, error.code, error.reason)


# -- JSON API ------------------------------------------------------------------------


@roles()
async def api_duplicates(request: web.Request) -> web.Response:
    page = await _merges(request).duplicates(
        _entity(request.query.get("entity")),
        user=current_user(request),
        limit=_number(request.query.get("limit"), "limit", PAGE_SIZE),
        offset=_number(request.query.get("offset"), "offset", 0),
        refresh=_flag(request.query.get("refresh")),
    )
    return web.json_response(page.as_dict())


@roles()
async def api_preview(request: web.Request) -> web.Response:
    preview = await _merges(request).preview(
        _entity(request.query.get("entity")),
        _number(request.query.get("survivor_id"), "survivor_id"),
        _number(request.query.get("merged_id"), "merged_id"),
        user=current_user(request),
    )
    return web.json_response(preview)


@roles()
async def api_merge(request: web.Request) -> web.Response:
    data = await read_json(request)
    choices = data.get("choices") or {}
    if not isinstance(choices, dict):
        raise web.HTTPUnprocessableEntity(reason="choices: an object")
    result = await _merges(request).merge(
        _entity(data.get("entity")),
        _number(data.get("survivor_id"), "survivor_id"),
        _number(data.get("merged_id"), "merged_id"),
        choices,
        user=current_user(request),
    )
    return web.json_response(result.as_dict(), status=201)


@roles()
async def api_get_merge(request: web.Request) -> web.Response:
    merge = await _merges(request).get_merge(
        _merge_id(request), user=current_user(request)
    )
    return web.json_response(merge)


@roles()
async def api_undo(request: web.Request) -> web.Response:
    try:
        result = await _merges(request).undo(
            _merge_id(request), user=current_user(request)
        )
    except UndoRefused as error:
        return _refused(request, error)
    return web.json_response(result.as_dict())


# -- panel pages ---------------------------------------------------------------------


@roles()
async def duplicates_page(request: web.Request) -> web.StreamResponse:
    entity = _entity(request.query.get("entity"))
    page_number = max(_number(request.query.get("page"), "page", 1), 1)
    page = await _merges(request).duplicates(
        entity,
        user=current_user(request),
        limit=PAGE_SIZE,
        offset=(page_number - 1) * PAGE_SIZE,
        refresh=_flag(request.query.get("refresh")),
    )
    pages = max((page.total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    context = {
        "page": page.as_dict(),
        "entity": entity,
        "number": page_number,
        "pages": pages,
    }
    return aiohttp_jinja2.render_template("duplicates.html", request, context)


@roles()
async def merge_page(request: web.Request) -> web.StreamResponse:
    entity = _entity(request.query.get("entity"))
    preview = await _merges(request).preview(
        entity,
        _number(request.query.get("survivor_id"), "survivor_id"),
        _number(request.query.get("merged_id"), "merged_id"),
        user=current_user(request),
    )
    return aiohttp_jinja2.render_template(
        "merge.html", request, {"preview": preview, "error": None}
    )


def _form_choices(entity: str, posted: Mapping[str, Any]) -> dict[str, Any]:
    """Radio ``choice_<field>`` = survivor | merged | custom (+ ``custom_<field>``)."""
    choices: dict[str, Any] = {}
    for field in COMPANY_FIELDS if entity == "company" else CONTACT_FIELDS:
        picked = str(posted.get(f"choice_{field}", "") or "")
        if picked in ("survivor", "merged"):
            choices[field] = picked
        elif picked == "custom" and field != "channels":
            choices[field] = {"value": str(posted.get(f"custom_{field}", ""))[:10000]}
    return choices


@roles()
async def merge_submit(request: web.Request) -> web.StreamResponse:
    posted = await request.post()
    entity = _entity(str(posted.get("entity", "")))
    survivor_id = _number(posted.get("survivor_id"), "survivor_id")
    merged_id = _number(posted.get("merged_id"), "merged_id")
    merges = _merges(request)
    user = current_user(request)
    try:
        result = await merges.merge(
            entity, survivor_id, merged_id, _form_choices(entity, posted), user=user
        )
    except (InvalidMergeChoice, CannotMerge) as error:
        # Show the form again with the reason next to the choices.
        preview = await merges.preview(entity, survivor_id, merged_id, user=user)
        context = {"preview": preview, "error": str(error)}
        return aiohttp_jinja2.render_template(
            "merge.html", request, context, status=422
        )
    raise web.HTTPFound(f"/merges/{result.merge_id}")


@roles()
async def merge_result_page(request: web.Request) -> web.StreamResponse:
    merge = await _merges(request).get_merge(
        _merge_id(request), user=current_user(request)
    )
    return aiohttp_jinja2.render_template(
        "merge_result.html", request, {"merge": merge, "error": None}
    )


@roles()
async def undo_submit(request: web.Request) -> web.StreamResponse:
    merges = _merges(request)
    merge_id = _merge_id(request)
    user = current_user(request)
    try:
        await merges.undo(merge_id, user=user)
    except UndoRefused as error:
        merge = await merges.get_merge(merge_id, user=user)
        context = {"merge": merge, "error": error.reason}
        return aiohttp_jinja2.render_template(
            "merge_result.html", request, context, status=409
        )
    raise web.HTTPFound(f"/merges/{merge_id}")


# -- OpenAPI -------------------------------------------------------------------------

_ENTITY = query("entity", {"enum": ["company", "contact"]}, "company (default)")
_MERGE_ID = {
    "name": "merge_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
_CHOICE = {
    "description": (
        '"survivor", "merged", or a value of your own ({"value": ...}); '
        "fields left out keep the survivor's value unless it is empty"
    ),
    "oneOf": [
        {"enum": ["survivor", "merged"]},
        {"type": "object", "properties": {"value": {}}, "required": ["value"]},
    ],
}

PATHS: dict[str, Any] = {
    "/api/duplicates": {
        "get": {
            "summary": "Likely duplicate pairs in the client base, best first",
            "description": (
                "Companies: same INN, phone or e-mail, or a similar name (typos "
                "tolerated). Contacts: the same within one company. Supervisors, "
                "head and admins see the whole base; managers, pairs of their own."
            ),
            "parameters": [
                _ENTITY,
                query("limit", {"type": "integer", "maximum": 500}, "Page size (50)"),
                query("offset", {"type": "integer"}, "Pairs to skip"),
                query(
                    "refresh",
                    {"type": "boolean"},
                    "Scan the base again instead of paging the last scan "
                    "(kept up to 10 minutes)",
                ),
            ],
            "responses": {"200": {"description": "total and a page of pairs"}},
        }
    },
    "/api/merges/preview": {
        "get": {
            "summary": "Two records side by side, field by field, before a merge",
            "parameters": [
                _ENTITY,
                query("survivor_id", {"type": "integer"}, "The record that stays"),
                query("merged_id", {"type": "integer"}, "The record merged into it"),
            ],
            "responses": {"200": {"description": "Preview"}, "404": ERROR},
        }
    },
    "/api/merges": {
        "post": {
            "summary": "Merge two records; rows move to the survivor (undoable)",
            "requestBody": body(
                {
                    "entity": {"enum": ["company", "contact"]},
                    "survivor_id": {"type": "integer"},
                    "merged_id": {"type": "integer"},
                    "choices": {"type": "object", "additionalProperties": _CHOICE},
                },
                ["survivor_id", "merged_id"],
            ),
            "responses": {
                "201": {"description": "Merged: id of the merge, moved row counts"},
                "400": ERROR,
                "404": ERROR,
                "422": ERROR,
            },
        }
    },
    "/api/merges/{merge_id}": {
        "get": {
            "summary": "A merge: what changed and moved, and whether it can be undone",
            "parameters": [_MERGE_ID],
            "responses": {"200": {"description": "The merge"}, "404": ERROR},
        }
    },
    "/api/merges/{merge_id}/undo": {
        "post": {
            "summary": "Undo a merge: rows move back, fields are restored",
            "parameters": [_MERGE_ID],
            "responses": {
                "200": {"description": "Undone"},
                "404": ERROR,
                "409": ERROR,
            },
        }
    },
}


def setup(app: web.Application) -> None:
    app.router.add_get("/api/duplicates", api_duplicates)
    app.router.add_get("/api/merges/preview", api_preview)
    app.router.add_post("/api/merges", api_merge)
    app.router.add_get("/api/merges/{merge_id}", api_get_merge)
    app.router.add_post("/api/merges/{merge_id}/undo", api_undo)
    app.router.add_get("/duplicates", duplicates_page)
    app.router.add_get("/merge", merge_page)
    app.router.add_post("/merge", merge_submit)
    app.router.add_get("/merges/{merge_id}", merge_result_page)
    app.router.add_post("/merges/{merge_id}/undo", undo_submit)
    add_paths(app, PATHS)
