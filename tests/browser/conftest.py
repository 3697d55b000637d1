"""Fixtures for browser tests: the whole application from ``tests/web`` served on
127.0.0.1 by aiohttp's TestServer, and Debian's Chromium driven headless by Playwright.

Playwright's own browser downloads are never used: the tests run the system
``/usr/bin/chromium`` and are skipped when it is not installed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, async_playwright

# The application and its users, exactly as the web tests build them.
from tests.web.conftest import PASSWORD, app, client  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

Screenshot = Callable[[Page, str], Awaitable[Path]]


@pytest.fixture
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian package 'chromium')")
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(
    browser: Browser,
    client: TestClient,  # noqa: F811 - the fixture imported above, requested by name
) -> AsyncIterator[Page]:
    """A fresh browser profile pointed at the test server (relative URLs work)."""
    context = await browser.new_context(
        base_url=str(client.make_url("/")).rstrip("/"),
        locale="ru-RU",
        timezone_id="Europe/Moscow",
        viewport={"width": 1280, "height": 800},
    )
    context.set_default_timeout(10_000)
    tab = await context.new_page()
    yield tab
    await context.close()


@pytest.fixture
def screenshot(tmp_path: Path) -> Screenshot:
    """Save a full-page screenshot under the test's tmp dir and print where it is."""
    folder = tmp_path / "screenshots"
    folder.mkdir()

    async def take(tab: Page, name: str) -> Path:
        path = folder / f"{re.sub(r'[^0-9A-Za-z_-]+', '-', name)}.png"
        await tab.screenshot(path=str(path), full_page=True)
        print(f"screenshot {name}: {path}")
        return path

    return take


async def log_in_through_the_form(tab: Page, login: str) -> str:
    """Sign in with the login form; return the page's CSRF token."""
    await tab.goto("/login")
    form = tab.locator('form[action="/login"]')
    await form.locator("input[name=login]").fill(login)
    await form.locator("input[name=password]").fill(PASSWORD)
    await form.locator("button[type=submit]").click()
    await tab.wait_for_url("**/calls")
    token = await tab.evaluate(
        "JSON.parse(document.getElementById('boot').textContent).csrf"
    )
    assert isinstance(token, str) and token
    return token
