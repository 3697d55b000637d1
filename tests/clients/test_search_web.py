"""The search box and selections over HTTP: JSON API, panel pages, OpenAPI, and a
second manager trying to read the first one's clients through each of them."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from tests.web.conftest import app as app  # noqa: F401 - fixtures used below
from tests.web.conftest import client as client  # noqa: F401
from tests.web.conftest import log_in

INN = "7707083893"


async def create_client(http: TestClient, csrf: str, **fields: Any) -> int:
    response = await http.post(
        "/api/clients?force=1", json=fields, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 201, await response.text()
    return int((await response.json())["id"])


async def test_search_api_and_page_find_a_client_as_you_type(
    client: TestClient,  # noqa: F811
) -> None:
    csrf = await log_in(client, "manager")
    company = await create_client(
        client,
        csrf,
        name='ООО "Ромашка"',
        inn=INN,
        phones=["+7 495 123-45-67"],
        emails=["info@romashka.ru"],
    )

    response = await client.get("/api/search", params={"q": "Ромошка"})
    assert response.status == 200
    data = await response.json()
    assert [h["id"] for h in data["companies"]] == [company]
    assert data["companies"][0]["phones"][0]["e164"] == "74951234567"

    data = await (await client.get("/api/search", params={"q": "8495 1234567"})).json()
    assert (data["companies"][0]["match"], data["companies"][0]["rank"]) == ("phone", 0)

    page = await client.get("/search", params={"q": INN})
    html = await page.text()
    assert page.status == 200
    assert f'href="/clients/{company}"' in html
    assert 'class="call-btn" data-number="74951234567"' in html
    assert 'src="/static/search.js"' in html
    assert (await client.get("/static/search.js")).status == 200

    spec = await (await client.get("/api/openapi.json")).json()
    assert {
        "/api/search",
        "/api/selections",
        "/api/selections/{selection_id}/clients",
    } <= set(spec["paths"])


async def test_selections_api_save_share_and_page_results(
    client: TestClient,  # noqa: F811
) -> None:
    csrf = await log_in(client, "manager")
    moscow = await create_client(client, csrf, name="Альфа", region="Москва")
    await create_client(client, csrf, name="Бета", region="Тула")
    headers = {"X-CSRF-Token": csrf}

    response = await client.post(
        "/api/selections",
        json={"name": "Москва", "filters": {"region": ["Москва"]}, "shared": True},
        headers=headers,
    )
    assert response.status == 201
    selection = (await response.json())["id"]

    page = await (await client.get(f"/api/selections/{selection}/clients")).json()
    assert (page["total"], [c["id"] for c in page["clients"]]) == (1, [moscow])

    bad = await client.post(
        "/api/selections", json={"name": "x", "filters": {"colour": 1}}, headers=headers
    )
    assert bad.status == 422
    assert (await bad.json())["error"]["field"] == "filters"

    response = await client.patch(
        f"/api/selections/{selection}",
        json={"filters": {"region": "Тула"}},
        headers=headers,
    )
    assert response.status == 200
    page = await (await client.get(f"/api/selections/{selection}/clients")).json()
    assert [c["name"] for c in page["clients"]] == ["Бета"]

    html = await (await client.get(f"/selections/{selection}")).text()
    assert 'id="update-selection"' in html and ">Бета<" in html
    # Filter values read as on the card.
    assert '<option value="prospect">Потенциальный</option>' in html

    # The form path: "save as" posts the filters shown, then redirects to the new one.
    form = await client.post(
        "/selections",
        data={
            "csrf_token": csrf,
            "name": "Копия",
            "filters_json": '{"region": "Москва"}',
        },
        allow_redirects=False,
    )
    assert form.status == 302
    copy_id = int(form.headers["Location"].rsplit("/", 1)[1])
    names = [
        s["name"]
        for s in (await (await client.get("/api/selections")).json())["selections"]
    ]
    assert names == ["Копия", "Москва"]

    response = await client.delete(f"/api/selections/{copy_id}", headers=headers)
    assert response.status == 200
    assert (await client.get(f"/api/selections/{copy_id}")).status == 404


async def test_another_manager_reads_nothing_of_the_first_ones_clients(
    client: TestClient,  # noqa: F811
) -> None:
    csrf = await log_in(client, "manager")
    company = await create_client(
        client,
        csrf,
        name='ООО "Ромашка"',
        inn=INN,
        region="Москва",
        phones=["+7 495 123-45-67"],
        emails=["info@romashka.ru"],
    )
    headers = {"X-CSRF-Token": csrf}
    private = (
        await (
            await client.post(
                "/api/selections",
                json={"name": "Мои", "filters": {"region": "Москва"}},
                headers=headers,
            )
        ).json()
    )["id"]
    shared = (
        await (
            await client.post(
                "/api/selections",
                json={
                    "name": "Москва",
                    "filters": {"region": "Москва"},
                    "shared": True,
                },
                headers=headers,
            )
        ).json()
    )["id"]

    csrf2 = await log_in(client, "manager2")
    headers2 = {"X-CSRF-Token": csrf2}

    for typed in ("Ромашка", "Ромошка", INN, "8 495 123-45-67", "info@romashka.ru"):
        data = await (await client.get("/api/search", params={"q": typed})).json()
        assert data["companies"] == [] and data["contacts"] == [], typed
        html = await (await client.get("/search", params={"q": typed})).text()
        assert f"/clients/{company}" not in html and "Ромашка</a>" not in html

    # A private selection does not exist for them; a shared one shows none of it.
    for path in (f"/api/selections/{private}", f"/api/selections/{private}/clients"):
        response = await client.get(path)
        assert response.status == 404, path
        assert (await response.json())["error"]["code"] == "no_such_selection"
    assert (await client.get(f"/selections/{private}")).status == 404
    listed = (await (await client.get("/api/selections")).json())["selections"]
    assert [(s["id"], s["editable"]) for s in listed] == [(shared, False)]
    page = await (await client.get(f"/api/selections/{shared}/clients")).json()
    assert (page["total"], page["clients"]) == (0, [])
    html = await (await client.get(f"/selections/{shared}")).text()
    assert "Ромашка" not in html
    preview = await client.post(
        "/api/selections/preview", json={"filters": {}}, headers=headers2
    )
    assert (await preview.json())["total"] == 0
    options = await (await client.get("/api/selections/options")).json()
    assert options["region"] == []

    # Only the owner changes a shared selection.
    response = await client.patch(
        f"/api/selections/{shared}", json={"name": "Моя"}, headers=headers2
    )
    assert response.status == 403
    response = await client.delete(f"/api/selections/{private}", headers=headers2)
    assert response.status == 404
    form = await client.post(
        f"/selections/{shared}/delete",
        data={"csrf_token": csrf2},
        allow_redirects=False,
    )
    assert form.status == 403

    html = await (await client.get("/selections?region=Москва")).text()
    assert re.search(r'id="selection-total">Найдено клиентов: 0<', html)
