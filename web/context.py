"""What every page template gets: the user, the language and its strings, CSRF token."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from web import i18n
from web.auth import CSRF_TOKEN, USER
from web.keys import SERVICES, SETTINGS


def page_context(request: web.Request) -> dict[str, Any]:
    settings = request.app[SETTINGS]
    user = request.get(USER)
    language = user.language if user is not None else settings.language
    services = request.app.get(SERVICES)
    return {
        "user": user,
        "lang": language,
        "zone": settings.timezone,
        "t": lambda key: i18n.translate(key, language),
        "js_strings": i18n.js_strings(language),
        "csrf_token": request.get(CSRF_TOKEN, ""),
        "pbx_connected": services.pbx_connected if services else False,
        "simulator": services is not None and services.simulator is not None,
        "path": request.path,
        "cause_text": lambda code, text=None: i18n.cause_text(code, text, language),
    }
