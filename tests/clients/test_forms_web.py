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


async def test_a_private_client_route_refuses_a_company_id(
    client: TestClient,  # noqa: F811
) -> None:
    csrf = await log_in(client, "manager")

    response = await client.post(
        "/api/contacts",
        json={"last_name": "Орлов", "company_id": 1},
        headers={"X-CSRF-Token": csrf},
    )

    assert response.status == 422
    assert (await response.json())["error"]["field"] == "company_id"


async def test_phone_kinds_are_read_shown_and_kept(
    client: TestClient,  # noqa: F811
) -> None:
    csrf = await log_in(client, "manager")
    created = await client.post(
        "/api/contacts",
        json={
            "last_name": "Жуков",
            "phones": [
                "8 (495) 123-45-67 (моб.)",  # a city number the client calls mobile
                "+7 916 000-00-01",  # a mobile range: mobile without a word
                "+7 916 000-00-02 рабочий",
                "+7 812 765-43-21",
            ],
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert created.status == 201, await created.text()
    contact_id = (await created.json())["id"]

    form = await (await client.get(f"/contacts/{contact_id}/edit")).text()
    lines = re.search(r'<textarea[^>]*name="phones"[^>]*>([^<]*)</textarea>', form)
    assert lines is not None
    assert lines.group(1).strip().splitlines() == [
        "+7 (495) 123-45-67 (моб.)",
        "+7 (916) 000-00-01",
        "+7 (916) 000-00-02 (раб.)",
        "+7 (812) 765-43-21",
    ]
    card = await (await client.get(f"/contacts/{contact_id}")).text()
    assert card.count('class="phone-kind') == 2  # моб. twice; work numbers unmarked
