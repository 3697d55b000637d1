"""Routes of the client base: the search box and saved selections.

JSON: ``/api/search`` (search as you type), ``/api/selections`` (saved selections:
list, create, change, delete; only the owner changes one), ``/api/selections/{id}/
clients`` (the clients it matches, paged) and ``/api/selections/preview`` (unsaved
filters). Pages: ``/search`` (the box; ``static/search.js`` queries the API as the user
types) and ``/selections`` (filter form, save as, result table; works without script).

Every answer is narrowed to what the user may see; a selection that is neither the
user's nor shared answers 404, one shared by someone else 403 on a change.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clients.errors import InvalidClientInput
from callcenter.clients.models import CompanyStatus
from callcenter.clients.search import MAX_LIMIT, ClientSearch
from callcenter.clients.selections import (
    FILTER_KEYS,
    LIST_FILTERS,
    ClientPage,
    NoSuchSelection,
    SelectionError,
    SelectionNotYours,
    SelectionService,
    check_filters,
)
from callcenter.db import create_engine, create_session_factory
from callcenter.users.service import UserView
from web.auth import current_user, roles
from web.keys import SERVICES, SETTINGS
from web.middleware import error_response
from web.openapi import ERROR, add_paths, body, path_id, query
from web.routes.api import read_json

logger = logging.getLogger(__name__)

SEARCH = web.AppKey("client_search", ClientSearch)
SELECTIONS = web.AppKey("selections", SelectionService)
_ENGINE = web.AppKey("search_engine", AsyncEngine)
PAGE_SIZE = 50
_GROUPS = (
    ("companies", "Компании"),
    ("contacts", "Контактные лица"),
    ("equipment", "Оборудование"),
)


async def _start_services(app: web.Application) -> None:
    """The search and selection services, on a small pool of their own.

    Runs on the startup signal, after create_app's cleanup contexts (aiohttp runs
    those first), so the database and its migrations are ready.

    TODO(once web.keys.Services carries the session factory): use the shared pool;
    the composition root keeps its factory to itself today.
    """
    services = app[SERVICES]
    engine = create_engine(services.database_url, pool_size=4)
    sessions = create_session_factory(engine)
    app[_ENGINE] = engine
    app[SEARCH] = ClientSearch(sessions, region=app[SETTINGS].phone_region)
    app[SELECTIONS] = SelectionService(sessions, zone=services.zone)


async def _stop_services(app: web.Application) -> None:
    engine = app.get(_ENGINE)
    if engine is not None:
        await engine.dispose()


def _selection_id(request: web.Request) -> int:
    raw = request.match_info["selection_id"]
    if not raw.isdigit() or len(raw) > 9:
        raise NoSuchSelection(0)
    return int(raw)


def _whole(value: str | None, default: int, *, high: int) -> int:
    if value is None or not value.isdigit() or len(value) > 9:
        return default
    return min(int(value), high)


def _selection_error(request: web.Request, error: SelectionError) -> web.Response:
    # Domain errors carry no status; these two belong to this module only.
    status = 403 if isinstance(error, SelectionNotYours) else 404
    return error_response(request, status, error.code, str(error))


# -- search ----------------------------------------------------------------------------


@roles()
async def search_api(request: web.Request) -> web.Response:
    results = await request.app[SEARCH].search(
        request.query.get("q", ""),
        current_user(request),
        limit=_whole(request.query.get("limit"), 10, high=MAX_LIMIT),
    )
    return web.json_response(results.as_dict())


@roles()
async def search_page(request: web.Request) -> web.StreamResponse:
    text = request.query.get("q", "")[:200]
    results, groups = None, []
    if text.strip():
        # Rendered on the server too: the page works before (and without) the script.
        found = await request.app[SEARCH].search(text, current_user(request))
        results = found.as_dict()
        # The group holding an exact identifier comes first, as search.js does it.
        groups = sorted(
            (g for g in _GROUPS if results[g[0]]),
            key=lambda g: min(h["rank"] for h in results[g[0]]),
        )
    return aiohttp_jinja2.render_template(
        "search.html", request, {"q": text, "results": results, "groups": groups}
    )


# -- selections: JSON ------------------------------------------------------------------


@roles()
async def list_selections(request: web.Request) -> web.Response:
    selections = await request.app[SELECTIONS].list_selections(current_user(request))
    return web.json_response({"selections": selections})


@roles()
async def create_selection(request: web.Request) -> web.Response:
    data = await read_json(request)
    selection_id = await request.app[SELECTIONS].create_selection(
        current_user(request),
        name=data.get("name"),
        filters=data.get("filters") or {},
        shared=data.get("shared") is True,
    )
    return web.json_response(
        {"id": selection_id, "url": f"/selections/{selection_id}"}, status=201
    )


@roles()
async def get_selection(request: web.Request) -> web.Response:
    try:
        selection = await request.app[SELECTIONS].get_selection(
            _selection_id(request), current_user(request)
        )
    except SelectionError as error:
        return _selection_error(request, error)
    return web.json_response(selection)


@roles()
async def update_selection(request: web.Request) -> web.Response:
    data = await read_json(request)
    changes = {k: v for k, v in data.items() if k in ("name", "filters", "shared")}
    try:
        selection_id = _selection_id(request)
        await request.app[SELECTIONS].update_selection(
            selection_id, current_user(request), changes
        )
    except SelectionError as error:
        return _selection_error(request, error)
    return web.json_response({"id": selection_id})


@roles()
async def delete_selection(request: web.Request) -> web.Response:
    try:
        selection_id = _selection_id(request)
        await request.app[SELECTIONS].delete_selection(
            selection_id, current_user(request)
        )
    except SelectionError as error:
        return _selection_error(request, error)
    return web.json_response({"deleted": selection_id})


@roles()
async def selection_clients(request: web.Request) -> web.Response:
    try:
        page = await request.app[SELECTIONS].selection_clients(
            _selection_id(request),
            current_user(request),
            limit=_whole(request.query.get("limit"), PAGE_SIZE, high=200),
            offset=_whole(request.query.get("offset"), 0, high=10**9),
        )
    except SelectionError as error:
        return _selection_error(request, error)
    return web.json_response(page.as_dict())


@roles()
async def preview_selection(request: web.Request) -> web.Response:
    data = await read_json(request)
    limit, offset = data.get("limit", PAGE_SIZE), data.get("offset", 0)
    if not isinstance(limit, int) or not isinstance(offset, int):
        raise InvalidClientInput("limit", "whole numbers: limit, offset")
    page = await request.app[SELECTIONS].preview(
        data.get("filters") or {}, current_user(request), limit=limit, offset=offset
    )
    return web.json_response(page.as_dict())


@roles()
async def selection_options(request: web.Request) -> web.Response:
    options = await request.app[SELECTIONS].filter_options(current_user(request))
    return web.json_response(options)


# -- selections: pages ----------------------------------------------------------------


def filters_from_form(form: MultiMapping[str]) -> dict[str, Any]:
    """The filter form's fields (repeated for lists) as raw filters, empty ones left out."""
    raw: dict[str, Any] = {}
    for key in FILTER_KEYS:
        if key in LIST_FILTERS:
            values = [str(v) for v in form.getall(key, []) if str(v).strip()]
            if values:
                raw[key] = values
        elif str(form.get(key, "")).strip():
            raw[key] = str(form[key])
    return raw


async def _form_context(
    request: web.Request, user: UserView, filters: dict[str, Any]
) -> dict[str, Any]:
    services = request.app[SERVICES]
    selections = request.app[SELECTIONS]
    users = await services.users.list_users() if user.sees_all_calls else [user]
    return {
        "filters": filters,
        "options": await selections.filter_options(user),
        "statuses": [s.value for s in CompanyStatus],
        "users": users,
        "selections": await selections.list_selections(user),
        "selection": None,
        "page": None,
        "error": None,
        "pages": [],
    }


async def _render_results(
    request: web.Request,
    context: dict[str, Any],
    from_query: bool,
) -> web.StreamResponse:
    """Run the context's filters (if any) and render the selections page."""
    user = current_user(request)
    page_number = _whole(request.query.get("page"), 1, high=10**6) or 1
    status = 200
    try:
        filters = check_filters(context["filters"])
        context["filters"] = filters
        if filters or not from_query:
            page = await request.app[SELECTIONS].preview(
                filters,
                user,
                limit=PAGE_SIZE,
                offset=(page_number - 1) * PAGE_SIZE,
            )
            context["page"] = page
            context["pages"] = _page_links(request, page)
    except InvalidClientInput as problem:
        context["error"] = problem
        status = 422
    return aiohttp_jinja2.render_template(
        "selections.html", request, context, status=status
    )


def _page_links(request: web.Request, page: ClientPage) -> list[dict[str, Any]]:
    count = (page.total + PAGE_SIZE - 1) // PAGE_SIZE
    if count <= 1:
        return []
    current = page.offset // PAGE_SIZE + 1
    shown = sorted({1, count, *range(max(1, current - 3), min(count, current + 3) + 1)})
    base = [(k, v) for k, v in request.query.items() if k != "page"]
    return [
        {
            "number": n,
            "current": n == current,
            "url": f"{request.path}?{urlencode([*base, ('page', str(n))])}",
        }
        for n in shown
    ]


@roles()
async def selections_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    context = await _form_context(request, user, filters_from_form(request.query))
    return await _render_results(request, context, from_query=True)


@roles()
async def selection_page(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    try:
        selection = await request.app[SELECTIONS].get_selection(
            _selection_id(request), user
        )
    except SelectionError as error:
        return _selection_error(request, error)

    # Filters in the address override the saved ones: the owner tries a change,
    # then saves it with the "update" button.
    edited = filters_from_form(request.query)
    context = await _form_context(request, user, edited or selection["filters"])
    context["selection"] = selection
    return await _render_results(request, context, from_query=False)


async def _posted(request: web.Request) -> tuple[str, bool, dict[str, Any]]:
    form = await request.post()
    try:
        filters = json.loads(str(form.get("filters_json") or "{}"))
    except json.JSONDecodeError:
        raise InvalidClientInput("filters", "an object of filters") from None
    return str(form.get("name", "")), form.get("shared") == "on", filters


@roles()
async def save_selection_form(request: web.Request) -> web.StreamResponse:
    name, shared, filters = await _posted(request)
    selection_id = await request.app[SELECTIONS].create_selection(
        current_user(request), name=name, filters=filters, shared=shared
    )
    raise web.HTTPFound(f"/selections/{selection_id}")


@roles()
async def update_selection_form(request: web.Request) -> web.StreamResponse:
    name, shared, filters = await _posted(request)
    try:
        selection_id = _selection_id(request)
        await request.app[SELECTIONS].update_selection(
            selection_id,
            current_user(request),
            {"name": name, "shared": shared, "filters": filters},
        )
    except SelectionError as error:
        return _selection_error(request, error)
    raise web.HTTPFound(f"/selections/{selection_id}")


@roles()
async def delete_selection_form(request: web.Request) -> web.StreamResponse:
    try:
        await request.app[SELECTIONS].delete_selection(
            _selection_id(request), current_user(request)
        )
    except SelectionError as error:
        return _selection_error(request, error)
    raise web.HTTPFound("/selections")


# -- OpenAPI ---------------------------------------------------------------------------

_FILTERS = {
    "type": "object",
    "description": (
        "All optional, combined with AND: name, industry[], region[], segment[], "
        "status[], responsible_id[] (null: unassigned), equipment_kind, "
        "equipment_vendor, equipment_model, equipment_status, last_contact_from, "
        "last_contact_to, never_contacted, called (yes/no), called_from, called_to, "
        "called_days, created_from, created_to, completeness_min, completeness_max, "
        "has_phone, has_email. Days: 2026-12-04 or 04.12.2026."
    ),
    "example": {"region": ["Москва"], "called": "no", "called_days": 30},
}
_SELECTION = {
    "name": {"type": "string", "example": "Москва, не звонили 30 дней"},
    "filters": _FILTERS,
    "shared": {"type": "boolean", "description": "visible to every user"},
}
_SELECTION_ID = path_id("selection_id")
_PAGE = {
    "description": "Matching clients, by name: total, limit, offset, clients[]",
}

PATHS: dict[str, Any] = {
    "/api/search": {
        "get": {
            "summary": (
                "Search as you type: names (typos tolerated), INN, phone, e-mail, equipment"
            ),
            "parameters": [
                query(
                    "q", {"type": "string"}, "Anything: «ромашка», 7707083893, 8 916 …"
                ),
                query(
                    "limit",
                    {"type": "integer", "maximum": MAX_LIMIT},
                    "Hits per group (10)",
                ),
            ],
            "responses": {
                "200": {
                    "description": (
                        "companies[], contacts[], equipment[]; each hit has match "
                        "(inn, ogrn, phone, email, name, equipment), rank (0 exact "
                        "identifier … 3 similar name) and phones[] to call"
                    )
                }
            },
        }
    },
    "/api/selections": {
        "get": {
            "summary": "Saved selections: the user's own and the shared ones",
            "responses": {"200": {"description": "Selections"}},
        },
        "post": {
            "summary": "Save a selection",
            "requestBody": body(_SELECTION, ["name", "filters"]),
            "responses": {"201": {"description": "Saved"}, "422": ERROR},
        },
    },
    "/api/selections/preview": {
        "post": {
            "summary": "The clients unsaved filters match (paged)",
            "requestBody": body(
                {
                    "filters": _FILTERS,
                    "limit": {"type": "integer", "maximum": 200},
                    "offset": {"type": "integer"},
                },
                ["filters"],
            ),
            "responses": {"200": _PAGE, "422": ERROR},
        }
    },
    "/api/selections/options": {
        "get": {
            "summary": "Values the filter form offers (industries, regions, segments)",
            "responses": {"200": {"description": "Options"}},
        }
    },
    "/api/selections/{selection_id}": {
        "get": {
            "summary": "One selection",
            "parameters": [_SELECTION_ID],
            "responses": {"200": {"description": "The selection"}, "404": ERROR},
        },
        "patch": {
            "summary": "Change name, filters or sharing (owner only)",
            "parameters": [_SELECTION_ID],
            "requestBody": body(_SELECTION),
            "responses": {
                "200": {"description": "Saved"},
                "403": ERROR,
                "404": ERROR,
                "422": ERROR,
            },
        },
        "delete": {
            "summary": "Delete a selection (owner only)",
            "parameters": [_SELECTION_ID],
            "responses": {
                "200": {"description": "Deleted"},
                "403": ERROR,
                "404": ERROR,
            },
        },
    },
    "/api/selections/{selection_id}/clients": {
        "get": {
            "summary": "The clients the selection matches now (as the user may see them)",
            "parameters": [
                _SELECTION_ID,
                query("limit", {"type": "integer", "maximum": 200}, "Page size (50)"),
                query("offset", {"type": "integer"}, "Rows to skip"),
            ],
            "responses": {"200": _PAGE, "404": ERROR},
        }
    },
}


def setup(app: web.Application) -> None:
    app.router.add_get("/api/search", search_api)
    app.router.add_get("/search", search_page)

    app.router.add_get("/api/selections", list_selections)
    app.router.add_post("/api/selections", create_selection)
    app.router.add_post("/api/selections/preview", preview_selection)
    app.router.add_get("/api/selections/options", selection_options)
    app.router.add_get("/api/selections/{selection_id}", get_selection)
    app.router.add_patch("/api/selections/{selection_id}", update_selection)
    app.router.add_delete("/api/selections/{selection_id}", delete_selection)
    app.router.add_get("/api/selections/{selection_id}/clients", selection_clients)

    app.router.add_get("/selections", selections_page)
    app.router.add_post("/selections", save_selection_form)
    app.router.add_get("/selections/{selection_id}", selection_page)
    app.router.add_post("/selections/{selection_id}", update_selection_form)
    app.router.add_post("/selections/{selection_id}/delete", delete_selection_form)
    add_paths(app, PATHS)

    app.on_startup.append(_start_services)
    app.on_cleanup.append(_stop_services)
