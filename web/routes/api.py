"""The JSON API (described by ``/api/openapi.json``) and the panel's websocket.

Every route accepts the panel's session cookie or ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

from aiohttp import web

from callcenter.calls.errors import InvalidCallRequest, NoSuchCall
from callcenter.calls.models import Direction, Outcome
from callcenter.calls.service import CallFilters
from web.auth import SUPERVISORS, current_user, public, roles
from web.keys import SERVICES
from web.openapi import document

logger = logging.getLogger(__name__)

MAX_JSON = 64 * 1024


async def read_json(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_JSON:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_JSON, actual_size=request.content_length
        )
    try:
        body = json.loads(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(reason="body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidCallRequest("body", "нужен JSON-объект")
    return body


def _optional_int(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidCallRequest(field, "нужно целое число")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidCallRequest(field, "нужно целое число") from None
    if not 0 < number < 2**31:
        raise InvalidCallRequest(field, "вне допустимого диапазона")
    return number


def _string(value: Any, field: str, *, required: bool = True, limit: int = 200) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidCallRequest(field, "обязательное текстовое поле")
    if len(value) > limit:
        raise InvalidCallRequest(field, "слишком длинно")
    return value


def _call_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["call_id"])
    except ValueError:
        raise NoSuchCall("no such call") from None


def parse_moment(
    value: str | None, field: str, zone: dt.tzinfo, *, end: bool = False
) -> dt.datetime | None:
    """``2026-12-04``, ``04.12.2026`` or an ISO date-time; dates are whole local days."""
    if not value:
        return None
    try:
        if "." in value and len(value) == 10:
            day = dt.datetime.strptime(value, "%d.%m.%Y").date()
        elif len(value) == 10:
            day = dt.date.fromisoformat(value)
        else:
            moment = dt.datetime.fromisoformat(value)
            return moment if moment.tzinfo else moment.replace(tzinfo=zone)
    except ValueError:
        raise InvalidCallRequest(field, "дата вида 04.12.2026") from None
    if end:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)


def call_filters(query: Any, zone: dt.tzinfo) -> CallFilters:
    def enum_value(kind: Any, name: str) -> Any:
        value = query.get(name)
        if not value:
            return None
        try:
            return kind(value)
        except ValueError:
            raise InvalidCallRequest(
                name, f"одно из: {', '.join(m.value for m in kind)}"
            ) from None

    return CallFilters(
        since=parse_moment(query.get("since"), "since", zone),
        until=parse_moment(query.get("until"), "until", zone, end=True),
        manager_id=_optional_int(query.get("manager_id"), "manager_id"),
        company_id=_optional_int(query.get("company_id"), "company_id"),
        direction=enum_value(Direction, "direction"),
        outcome=enum_value(Outcome, "outcome"),
        number=query.get("number") or None,
        limit=_optional_int(query.get("limit"), "limit") or 100,
        offset=int(query.get("offset", "0"))
        if query.get("offset", "0").isdigit()
        else 0,
    )


@roles()
async def me(request: web.Request) -> web.Response:
    user = current_user(request)
    services = request.app[SERVICES]
    return web.json_response(
        {
            "id": user.id,
            "login": user.login,
            "full_name": user.full_name,
            "role": user.role.value,
            "extensions": list(user.extensions),
            "pbx_connected": services.pbx_connected,
        }
    )


@roles()
async def list_calls(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    filters = call_filters(request.query, services.zone)
    calls = await services.calls.list_calls(current_user(request), filters)
    return web.json_response({"calls": calls})


@roles()
async def get_call(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    call = await services.calls.get_call(current_user(request), _call_id(request))
    return web.json_response(call)


@roles()
async def call_events(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    events = await services.calls.call_events(current_user(request), _call_id(request))
    return web.json_response({"events": events})


@roles()
async def call_recording(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    file_name = await services.calls.recording_file(
        current_user(request), _call_id(request)
    )
    path = await services.calls.recording_path(file_name)
    if path is None:
        raise NoSuchCall("the recording file is not in the recordings folder")
    # FileResponse answers Range requests (206), so the player can seek.
    response = web.FileResponse(
        path, headers={"Cache-Control": "private, max-age=3600"}
    )
    response.content_type = (
        "audio/wav" if path.suffix.lower() == ".wav" else "audio/mpeg"
    )
    return response


@roles()
async def place_call(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body = await read_json(request)
    result = await services.calls.click_to_call(
        current_user(request),
        _string(body.get("number"), "number", limit=64),
        extension=_string(body.get("extension"), "extension", required=False, limit=20)
        or None,
        company_id=_optional_int(body.get("company_id"), "company_id"),
        contact_id=_optional_int(body.get("contact_id"), "contact_id"),
    )
    return web.json_response(result, status=202)


@roles(*SUPERVISORS)
async def listen_call(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    result = await services.calls.listen(current_user(request), _call_id(request))
    return web.json_response(result, status=202)


@roles()
async def live_calls(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    return web.json_response(
        {"calls": services.calls.live_calls(current_user(request))}
    )


@public
async def health(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    writer = services.calls.writer
    return web.json_response(
        {
            "pbx_connected": services.pbx_connected,
            "database_writes_failing": writer.failing_since is not None,
            "call_log_backlog": writer.backlog,
        }
    )


@public
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(request.app))


@roles()
async def websocket(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        # A page on another site must not ride the manager's cookie.
        raise web.HTTPForbidden(reason="cross-origin websocket refused")
    services = request.app[SERVICES]

    def snapshot(viewer: Any) -> list[dict[str, Any]]:
        return [
            *services.calls.ringing_for(viewer),
            {"type": "live", "calls": services.calls.live_calls(viewer)},
        ]

    return await services.hub.serve(request, user, snapshot)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/calls", list_calls)
    app.router.add_post("/api/calls", place_call)
    app.router.add_get("/api/calls/live", live_calls)
    app.router.add_get("/api/calls/{call_id}", get_call)
    app.router.add_get("/api/calls/{call_id}/events", call_events)
    app.router.add_get("/api/calls/{call_id}/recording", call_recording)
    app.router.add_post("/api/calls/{call_id}/listen", listen_call)
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/openapi.json", openapi)
    app.router.add_get("/ws", websocket)
