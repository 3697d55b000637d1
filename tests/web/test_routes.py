"""Every route declares who may call it; the middleware refuses the rest."""

from pathlib import Path

from tests.web.conftest import test_settings
from web.app import create_app
from web.auth import allowed_roles, is_public

PUBLIC = {"/login", "/api/health", "/api/openapi.json"}


def test_every_route_is_public_by_intent_or_names_its_roles(tmp_path: Path) -> None:
    app = create_app(test_settings(tmp_path), database_url="postgresql://unused/db")
    undeclared, public = [], set()

    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/static"):
            continue
        if is_public(route.handler):
            public.add(path)
        elif not allowed_roles(route.handler):
            undeclared.append(f"{route.method} {path}")

    assert undeclared == []
    assert public == PUBLIC
