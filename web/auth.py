"""Who is asking, and may they: sessions, API tokens, roles, CSRF, login throttling.

Every route declares who may call it with :func:`roles` (or :func:`public`); a route
that declares nothing is refused, so a forgotten check fails closed. Browser sessions
are a random cookie (HttpOnly, SameSite=Lax) plus a per-session CSRF token that every
state-changing request from the panel must echo; integrations send
``Authorization: Bearer <token>`` and need no CSRF token.
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from callcenter.users.models import Role
from callcenter.users.service import UserView

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_COOKIE = "cc_session"
CSRF_HEADER = "X-CSRF-Token"
ALL_ROLES = frozenset(Role)
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.HEAD, Role.ADMIN})

USER = web.RequestKey("user", UserView)
AUTH_KIND = web.RequestKey("auth_kind", str)  # "session" or "token"
CSRF_TOKEN = web.RequestKey("csrf_token", str)

_ROLES_ATTR = "__callcenter_roles__"
_PUBLIC_ATTR = "__callcenter_public__"


def roles(*allowed: Role) -> Callable[[Handler], Handler]:
    """Allow a route to these roles (no arguments: every logged-in user)."""
    allowed_set = frozenset(allowed) or ALL_ROLES

    def mark(handler: Handler) -> Handler:
        setattr(handler, _ROLES_ATTR, allowed_set)
        return handler

    return mark


def public(handler: Handler) -> Handler:
    setattr(handler, _PUBLIC_ATTR, True)
    return handler


def allowed_roles(handler: Any) -> frozenset[Role] | None:
    target = getattr(handler, "__wrapped__", handler)
    return getattr(handler, _ROLES_ATTR, None) or getattr(target, _ROLES_ATTR, None)


def is_public(handler: Any) -> bool:
    target = getattr(handler, "__wrapped__", handler)
    return bool(
        getattr(handler, _PUBLIC_ATTR, False) or getattr(target, _PUBLIC_ATTR, False)
    )


def current_user(request: web.Request) -> UserView:
    user = request.get(USER)
    if user is None:
        raise web.HTTPUnauthorized()
    return user


def check_csrf(request: web.Request, form_token: str | None = None) -> None:
    """Cookie-authenticated writes must carry the session's CSRF token."""
    if request.get(AUTH_KIND) != "session":
        return
    expected = request.get(CSRF_TOKEN) or ""
    sent = request.headers.get(CSRF_HEADER) or form_token or ""
    if not expected or not secrets.compare_digest(expected, sent):
        raise web.HTTPForbidden(reason="CSRF token missing or wrong")


class LoginThrottle:
    """At most ``limit`` failed logins per login name, and ``address_limit`` per client
    address (higher: a whole office may sit behind one NAT), per window."""

    def __init__(
        self, limit: int = 10, window: float = 600.0, address_limit: int = 50
    ) -> None:
        self._limit = limit
        self._address_limit = address_limit
        self._window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        stamps = self._failures[key]
        cutoff = time.monotonic() - self._window
        while stamps and stamps[0] < cutoff:
            stamps.popleft()
        return stamps

    def blocked(self, login: str, address: str) -> bool:
        return (
            len(self._recent(f"login:{login.lower()[:64]}")) >= self._limit
            or len(self._recent(f"addr:{address}")) >= self._address_limit
        )

    def failed(self, login: str, address: str) -> None:
        now = time.monotonic()
        for key in (f"login:{login.lower()[:64]}", f"addr:{address}"):
            self._recent(key).append(now)
        if len(self._failures) > 100_000:
            self._failures.clear()

    def succeeded(self, login: str) -> None:
        self._failures.pop(f"login:{login.lower()[:64]}", None)
