"""The panel's client forms over HTTP: what a form shows is what it saves back."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from tests.web.conftest import app, client, log_in  # noqa: F401 - fixtures


async def test_saving_a_contact_form_unchanged_keeps_the_extension(
    client: TestClient,  # noqa: F811
) -> None:
    csrf = await log_in(client, "manager")
    created = await client.post(
        "/api/contacts",
        json={"last_name": "Орлов", "phones": ["8 (495) 123-45-67 доб. 45"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert created.status == 201, await created.text()
    contact_id = (await created.json())["id"]

    form = await (await client.get(f"/contacts/{contact_id}/edit")).text()
    phones = re.search(r'<textarea[^>]*name="phones"[^>]*>([^<]*)</textarea>', form)
    assert phones is not None
    assert phones.group(1).strip() == "+7 (495) 123-45-67 доб. 45"
    saved = await client.post(
        f"/contacts/{contact_id}/edit",
        data={
            "csrf_token": csrf,
            "last_name": "Орлов",
            "phones": phones.group(1),
        },
        allow_redirects=False,
    )
    assert saved.status == 302, await saved.text()

    again = await (await client.get(f"/contacts/{contact_id}/edit")).text()
    assert phones.group(0) in again


async def test_the_new_client_form_shows_every_problem_at_its_own_field(
    client: TestClient,  # noqa: F811
) -> None:
    csrf = await log_in(client, "manager")

    response = await client.post(
        "/clients/new",
        data={
            "csrf_token": csrf,
            "company_name": "Ромашка",
            "kpp": "12345",
            "ogrn": "1027700132190",
            "email": "не-почта",
            "phone": "+7 916 123-45-67",
            "contact_name": "Петров Иван",
            "contact_phone": "абв",
        },
    )
    page = await response.text()

    assert response.status == 422
    errors = dict(re.findall(r'data-error-for="(\w+)"[^>]*>([^<]+)<', page))
    assert set(errors) == {"kpp", "ogrn", "email", "contact_phone"}, errors
    assert errors["contact_phone"].startswith("абв: не номер телефона")
    assert "phone" not in errors  # the company's own number is fine
