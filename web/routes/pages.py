"""Server-rendered pages of the panel: calls, a call, clients, a client card, live calls."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from callcenter.calls.errors import InvalidCallRequest, NoSuchCall
from callcenter.calls.models import Direction, Outcome
from callcenter.clients.errors import InvalidClientInput, NoSuchClient
from callcenter.clients.service import NewClient
from web.auth import SUPERVISORS, current_user, roles
from web.keys import SERVICES
from web.routes.api import call_filters

logger = logging.getLogger(__name__)


@roles()
async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/calls")


@roles()
async def calls_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    user = current_user(request)
    error = None
    try:
        filters = call_filters(request.query, services.zone)
        calls = await services.calls.list_calls(user, filters)
    except InvalidCallRequest as problem:
        error, calls = str(problem), []
    managers = await services.users.list_users() if user.sees_all_calls else []
    context: dict[str, Any] = {
        "calls": calls,
        "query": request.query,
        "error": error,
        "managers": managers,
        "directions": [d.value for d in Direction],
        "outcomes": [o.value for o in Outcome],
    }
    return aiohttp_jinja2.render_template("calls.html", request, context)


@roles()
async def call_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    try:
        call_id = uuid.UUID(request.match_info["call_id"])
    except ValueError:
        raise NoSuchCall("no such call") from None
    user = current_user(request)
    call = await services.calls.get_call(user, call_id)
    events = await services.calls.call_events(user, call_id) if call["linkedid"] else []
    return aiohttp_jinja2.render_template(
        "call.html", request, {"call": call, "events": events}
    )


@roles()
async def clients_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    query = request.query.get("q", "")[:200]
    clients = await services.clients.list_companies(
        user=current_user(request), query=query
    )
    return aiohttp_jinja2.render_template(
        "clients.html", request, {"clients": clients, "q": query}
    )


@roles()
async def client_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    raw_id = request.match_info["company_id"]
    if not raw_id.isdigit() or len(raw_id) > 9:
        raise NoSuchClient(0)
    user = current_user(request)
    company = await services.clients.get_company(int(raw_id), user=user)
    return aiohttp_jinja2.render_template("client.html", request, {"company": company})


@roles()
async def new_client_form(request: web.Request) -> web.StreamResponse:
    form = {"phone": request.query.get("phone", "")[:64]}
    return aiohttp_jinja2.render_template(
        "client_new.html", request, {"form": form, "error": None}
    )


@roles()
async def new_client_submit(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    posted = await request.post()
    form = {
        name: str(posted.get(name, ""))[:500]
        for name in (
            "company_name",
            "phone",
            "contact_name",
            "position",
            "email",
            "inn",
        )
    }
    try:
        company_id = await services.clients.create_client(
            NewClient(**form), user=current_user(request)
        )
    except InvalidClientInput as error:
        context = {"form": form, "error": error}
        return aiohttp_jinja2.render_template(
            "client_new.html", request, context, status=422
        )
    raise web.HTTPFound(f"/clients/{company_id}")


@roles(*SUPERVISORS)
async def live_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    users = {u.id: u.full_name for u in await services.users.list_users()}
    calls = services.calls.live_calls(current_user(request))
    return aiohttp_jinja2.render_template(
        "live.html", request, {"calls": calls, "user_names": users}
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/calls", calls_page)
    app.router.add_get("/calls/{call_id}", call_page)
    app.router.add_get("/clients", clients_page)
    app.router.add_get("/clients/new", new_client_form)
    app.router.add_post("/clients/new", new_client_submit)
    app.router.add_get("/clients/{company_id}", client_page)
    app.router.add_get("/live", live_page)
