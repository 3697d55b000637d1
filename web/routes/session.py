"""Logging in and out of the panel."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from callcenter.users.errors import AuthenticationFailed
from web.auth import SESSION_COOKIE, current_user, public, roles
from web.keys import SERVICES, SETTINGS

logger = logging.getLogger(__name__)


def _safe_next(value: str | None) -> str:
    """Only local paths: an open redirect would help phishing."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/calls"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value:
        return "/calls"
    return value


@public
async def login_form(request: web.Request) -> web.StreamResponse:
    context = {
        "next": _safe_next(request.query.get("next")),
        "error": None,
        "login": "",
    }
    return aiohttp_jinja2.render_template("login.html", request, context)


@public
async def login_submit(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    form = await request.post()
    login = str(form.get("login", ""))[:200]
    password = str(form.get("password", ""))
    next_path = _safe_next(str(form.get("next", "")))
    address = request.remote or "?"

    if services.throttle.blocked(login, address):
        context = {"next": next_path, "error": "too_many_logins", "login": login}
        return aiohttp_jinja2.render_template(
            "login.html", request, context, status=429
        )

    try:
        user = await services.users.authenticate(login, password)
    except AuthenticationFailed:
        services.throttle.failed(login, address)
        context = {"next": next_path, "error": "bad_login", "login": login}
        return aiohttp_jinja2.render_template(
            "login.html", request, context, status=401
        )

    services.throttle.succeeded(login)
    token, _ = await services.users.open_session(user.id)
    response = web.HTTPFound(next_path)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=request.secure,
        max_age=request.app[SETTINGS].session_max_age_hours * 3600,
        path="/",
    )
    raise response


@roles()
async def logout(request: web.Request) -> web.StreamResponse:
    current_user(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await request.app[SERVICES].users.close_session(token)
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


@roles()
async def set_language(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    form = await request.post()
    await request.app[SERVICES].users.set_language(
        user.id, str(form.get("language", ""))
    )
    raise web.HTTPFound(
        _safe_next(request.headers.get("Referer", "").partition(request.host)[2])
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_post("/language", set_language)
