"""Fixtures for tests of the whole application: the aiohttp app on a real database,
the bundled AMI simulator on loopback, and logged-in users of every role."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from callcenter.users.models import Role
from config.settings import Settings
from web.app import create_app
from web.keys import SERVICES

PASSWORD = "correct-horse-1"

USERS = {
    "manager": ("Анна Смирнова", Role.MANAGER, ("101",)),
    "manager2": ("Борис Кузнецов", Role.MANAGER, ("102",)),
    "supervisor": ("Ольга Иванова", Role.SUPERVISOR, ("103",)),
    "head": ("Сергей Попов", Role.HEAD, ()),
    "admin": ("Администратор", Role.ADMIN, ()),
}


def test_settings(tmp_path: Path, **overrides: Any) -> Settings:
    recordings = tmp_path / "recordings"
    recordings.mkdir(exist_ok=True)
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "recordings_dir": recordings,
        "sim_port": 0,
        "ami_ping_interval": 1.0,
        "ami_ping_timeout": 1.0,
        "ami_reconnect_max_delay": 1.0,
        "originate_timeout_ms": 5000,
    }
    values.update(overrides)
    return dataclasses.replace(Settings(), **values)


test_settings.__test__ = False  # a helper, not a test


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[web.Application]:
    application = create_app(test_settings(tmp_path), database_url=database_url)
    yield application


@pytest.fixture
async def client(
    app: web.Application, aiohttp_client: Callable[..., Awaitable[TestClient]]
) -> TestClient:
    test_client = await aiohttp_client(app)
    services = app[SERVICES]
    for login, (name, role, extensions) in USERS.items():
        await services.users.create_user(
            login=login,
            full_name=name,
            role=role,
            password=PASSWORD,
            extensions=extensions,
        )
    await services.calls.refresh_extensions()
    assert services.link is not None
    await services.link.wait_connected(timeout=10)
    return test_client


async def log_in(client: TestClient, login: str) -> str:
    """Log in through the form; return the session's CSRF token (read from a page)."""
    response = await client.post(
        "/login", data={"login": login, "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 302, await response.text()
    page = await (await client.get("/calls")).text()
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the panel page carries a CSRF token"
    return match.group(1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
