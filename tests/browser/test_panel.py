"""The panel in a real browser: click-to-call from the client list, and the screen-pop.

Headless Chromium loads the pages and runs ``web/static/app.js`` against the app on
127.0.0.1; the AMI simulator plays the captured calls. Screenshots go to the test's
tmp dir and their paths are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from ami.simulator import AmiSimulator
from tests.browser.conftest import Screenshot, log_in_through_the_form
from web.keys import SERVICES

pytestmark = pytest.mark.browser

CLIENT_E164 = "79161234567"
COMPANY = "ООО Ромашка"
CONTACT = "Иван Петров"
UNKNOWN_E164 = "79035551234"
DID = "74950000000"
POP_TIMEOUT_MS = 5_000


def fast_simulator(app: web.Application, speed: float) -> AmiSimulator:
    # The settings have no simulator speed; the running simulator takes one.
    simulator = app[SERVICES].simulator
    assert simulator is not None
    simulator.speed = speed
    return simulator


async def wait_for_originate(
    simulator: AmiSimulator, timeout: float = 5.0
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for action in simulator.actions_received:
            if str(action.get("Action", "")).lower() == "originate":
                return action
        await asyncio.sleep(0.05)
    raise AssertionError("the PBX received no Originate")


async def wait_until_ended(tab: Page, call_id: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        response = await tab.request.get(f"/api/calls/{call_id}")
        if (await response.json())["status"] == "ended":
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"call {call_id} did not end")


async def create_client(tab: Page, csrf: str, phone: str) -> int:
    response = await tab.request.post(
        "/api/clients",
        data={"company_name": COMPANY, "phone": phone, "contact_name": CONTACT},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 201, await response.text()
    return int((await response.json())["id"])


async def test_click_to_call_from_the_client_list(
    app: web.Application, page: Page, screenshot: Screenshot
) -> None:
    simulator = fast_simulator(app, speed=4.0)
    csrf = await log_in_through_the_form(page, "manager")
    company_id = await create_client(page, csrf, "8 (916) 123-45-67")

    await page.goto("/clients")
    await expect(page.locator("body")).to_have_attribute("data-ws", "open")
    row = page.locator("tr", has_text=COMPANY)
    async with page.expect_response(
        lambda r: r.url.endswith("/api/calls") and r.request.method == "POST"
    ) as placed:
        await row.locator(".call-btn").first.click()
    call = await (await placed.value).json()
    originate = await wait_for_originate(simulator)
    toast = page.locator("#toasts .toast")
    await expect(toast).to_be_visible()
    await screenshot(page, "click-to-call-toast")
    await wait_until_ended(page, call["id"])
    await page.goto("/calls")
    await screenshot(page, "calls-after-click-to-call")

    assert originate["Channel"] == "PJSIP/101"
    assert originate["Exten"] == CLIENT_E164
    assert call["number"] == CLIENT_E164
    listed = page.locator(f'tr[data-call-id="{call["id"]}"]')
    await expect(listed).to_contain_text("Состоялся")
    await expect(listed).to_contain_text(COMPANY)
    await expect(listed.locator(f'a[href="/clients/{company_id}"]')).to_have_count(1)


async def test_inbound_call_from_a_client_pops_the_company_card(
    app: web.Application, page: Page, screenshot: Screenshot
) -> None:
    simulator = fast_simulator(app, speed=2.0)
    csrf = await log_in_through_the_form(page, "manager")
    company_id = await create_client(page, csrf, "+7 916 123-45-67")
    await expect(page.locator("body")).to_have_attribute("data-ws", "open")

    await simulator.start_inbound(
        caller=CLIENT_E164,
        caller_name=CONTACT,
        did=DID,
        extensions=("101",),
        scenario="answered",
    )
    pop = page.locator(".pop", has_text=COMPANY)
    await expect(pop).to_be_visible(timeout=POP_TIMEOUT_MS)
    await screenshot(page, "pop-known-client")

    await expect(pop.locator(".pop-company")).to_have_text(COMPANY)
    await expect(pop.locator(".pop-company")).to_have_attribute(
        "href", f"/clients/{company_id}"
    )
    await expect(pop.locator(".pop-number")).to_have_text("+7 (916) 123-45-67")
    await expect(pop.locator(".pop-state")).to_have_text("В разговоре")
    await expect(pop).to_have_class("pop talking")
    await screenshot(page, "pop-known-client-talking")


async def test_inbound_call_from_an_unknown_number_offers_to_create_a_client(
    app: web.Application, page: Page, screenshot: Screenshot
) -> None:
    simulator = fast_simulator(app, speed=2.0)
    await log_in_through_the_form(page, "manager")
    await expect(page.locator("body")).to_have_attribute("data-ws", "open")

    await simulator.start_inbound(
        caller=UNKNOWN_E164,
        caller_name="Пётр Сидоров",
        did=DID,
        extensions=("101",),
        scenario="answered",
    )
    pop = page.locator(".pop", has_text="Неизвестный номер")
    await expect(pop).to_be_visible(timeout=POP_TIMEOUT_MS)
    await screenshot(page, "pop-unknown-number")

    create = pop.get_by_role("link", name="Создать клиента")
    await expect(create).to_have_attribute("href", f"/clients/new?phone={UNKNOWN_E164}")
    await expect(pop.locator(".pop-number")).to_have_text("+7 (903) 555-12-34")
    await expect(pop.locator(".pop-contact")).to_have_text("Пётр Сидоров")
    await expect(pop.locator(".pop-state")).to_have_text("В разговоре")
    await screenshot(page, "pop-unknown-number-talking")
