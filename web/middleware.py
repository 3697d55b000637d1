"""Request middlewares: authentication and role checks, and domain errors -> HTTP.

Domain errors carry a machine-readable ``code`` and no HTTP status; the mapping to a
status lives only here. API paths answer JSON ``{"error": {"code", "message", ...}}``;
pages answer a small HTML page (or a redirect to the login form).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from callcenter.calls.errors import (
    CallError,
    InvalidCallRequest,
    NoExtension,
    NoSuchCall,
    OriginateInProgress,
    PbxUnavailable,
)
from callcenter.clients.errors import (
    ClientError,
    DuplicatesFound,
    InvalidClientInput,
    NoSuchClient,
)
from callcenter.clients.merge import CannotMerge, UndoRefused
from callcenter.users.errors import AuthenticationFailed, InvalidUserInput, UserError
from web.auth import (
    AUTH_KIND,
    CSRF_TOKEN,
    SESSION_COOKIE,
    USER,
    allowed_roles,
    check_csrf,
    is_public,
)
from web.context import page_context
from web.keys import SERVICES

logger = logging.getLogger(__name__)

_STATUS: dict[type[Exception], int] = {
    NoSuchCall: 404,
    NoSuchClient: 404,
    InvalidCallRequest: 422,
    InvalidClientInput: 422,
    InvalidUserInput: 422,
    OriginateInProgress: 409,
    NoExtension: 409,
    PbxUnavailable: 503,
    DuplicatesFound: 409,
    UndoRefused: 409,
    CannotMerge: 409,
    AuthenticationFailed: 401,
}
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path == "/ws"


def error_response(
    request: web.Request, status: int, code: str, message: str, **fields: Any
) -> web.Response:
    if wants_json(request):
        return web.json_response(
            {"error": {"code": code, "message": message, **fields}}, status=status
        )
    # Rendered outside the handler chain, so the template context is built here.
    context = {**page_context(request), "status": status, "message": message}
    return aiohttp_jinja2.render_template("error.html", request, context, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except (CallError, ClientError, UserError) as error:
        status = next((s for cls, s in _STATUS.items() if isinstance(error, cls)), 400)
        fields = {}
        if hasattr(error, "field"):
            fields["field"] = error.field
        if isinstance(error, DuplicatesFound):
            fields["candidates"] = error.candidates
        return error_response(request, status, error.code, str(error), **fields)
    except web.HTTPException as error:
        if error.status >= 400 and error.content_type != "application/json":
            return error_response(request, error.status, "http_error", error.reason)
        raise


@web.middleware
async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    services = request.app[SERVICES]
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        user = await services.users.find_user_by_api_token(authorization[7:].strip())
        if user is None:
            return error_response(request, 401, "bad_token", "invalid API token")
        request[USER], request[AUTH_KIND] = user, "token"
    else:
        token = request.cookies.get(SESSION_COOKIE, "")
        session = await services.users.find_session(token) if token else None
        if session is not None:
            request[USER], request[AUTH_KIND] = session.user, "session"
            request[CSRF_TOKEN] = session.csrf_token

    if request.match_info.http_exception is not None:
        # No route matched (404, 405): nothing to authorize.
        raise request.match_info.http_exception
    if is_public(handler) or request.path.startswith("/static/"):
        return await handler(request)

    allowed = allowed_roles(handler)
    if allowed is None:
        logger.error("route without a role declaration refused path=%s", request.path)
        return error_response(request, 403, "forbidden", "this route is not open")

    user = request.get(USER)
    if user is None:
        if wants_json(request):
            return error_response(
                request, 401, "unauthenticated", "log in or send a token"
            )
        if request.method != "GET":
            raise web.HTTPFound("/login")
        raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='/')}")
    if user.role not in allowed:
        logger.info(
            "role refused user_id=%s role=%s path=%s", user.id, user.role, request.path
        )
        return error_response(request, 403, "forbidden", "your role may not do this")

    if request.method not in _SAFE_METHODS:
        form_token = None
        if request.content_type == "application/x-www-form-urlencoded":
            form_token = (await request.post()).get("csrf_token")
        try:
            check_csrf(request, form_token if isinstance(form_token, str) else None)
        except web.HTTPForbidden:
            return error_response(request, 403, "csrf", "CSRF token missing or wrong")
    return await handler(request)
