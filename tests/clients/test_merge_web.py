"""The duplicates and merge routes over HTTP: roles, CSRF, the API and the pages."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from tests.web.conftest import app, client, log_in  # noqa: F401 - fixtures
from web.keys import SERVICES


async def _companies(client: TestClient) -> dict[str, int]:  # noqa: F811
    services = client.app[SERVICES]
    users = {u.login: u for u in await services.users.list_users()}
    create = services.clients.create_company
    manager, other = users["manager"], users["manager2"]
    return {
        "a": await create({"name": 'ООО "Ромашка"'}, user=manager, force=True),
        "b": await create({"name": "Ромашка, ООО"}, user=manager, force=True),
        "foreign": await create({"name": "Ромашкa"}, user=other, force=True),
    }


async def test_api_checks_roles_csrf_and_merges_and_undoes(
    client: TestClient,  # noqa: F811
) -> None:
    ids = await _companies(client)
    assert (await client.get("/api/duplicates")).status == 401

    token = await log_in(client, "manager")
    listed = await (await client.get("/api/duplicates?limit=10")).json()
    assert [(p["first_id"], p["second_id"]) for p in listed["pairs"]] == [
        (ids["a"], ids["b"])
    ]
    body = {"survivor_id": ids["a"], "merged_id": ids["b"], "choices": {}}
    assert (await client.post("/api/merges", json=body)).status == 403  # no CSRF
    headers = {"X-CSRF-Token": token}
    foreign = {**body, "merged_id": ids["foreign"]}
    refused = await client.post("/api/merges", json=foreign, headers=headers)
    assert refused.status == 404

    preview = await client.get(
        f"/api/merges/preview?survivor_id={ids['a']}&merged_id={ids['b']}"
    )
    assert preview.status == 200
    assert (await preview.json())["merged"]["title"] == "Ромашка, ООО"
    done = await client.post(
        "/api/merges", json={**body, "choices": {"name": "merged"}}, headers=headers
    )
    assert done.status == 201, await done.text()
    merge_id = (await done.json())["id"]
    card = await (await client.get(f"/api/clients/{ids['a']}")).json()
    assert card["name"] == "Ромашка, ООО"
    assert (await client.get(f"/api/clients/{ids['b']}")).status == 404

    undo = f"/api/merges/{merge_id}/undo"
    assert (await client.post(undo)).status == 403  # no CSRF
    assert (await client.post(undo, headers=headers)).status == 200
    again = await client.post(undo, headers=headers)
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "undo_refused"
    assert (await client.get(f"/api/clients/{ids['b']}")).status == 200

    # The supervisor reviews the whole base: manager2's look-alike shows up too.
    await client.post("/logout", data={"csrf_token": token})
    await log_in(client, "supervisor")
    whole = await (await client.get("/api/duplicates")).json()
    assert whole["total"] == 3
    spec = await (await client.get("/api/openapi.json")).json()
    assert "/api/merges/{merge_id}/undo" in spec["paths"]


async def test_pages_merge_with_radios_and_undo(client: TestClient) -> None:  # noqa: F811
    ids = await _companies(client)
    token = await log_in(client, "manager")

    response = await client.get("/duplicates")
    page = await response.text()
    assert response.status == 200, page[page.find("<main>") :][:1500]
    assert "Объединить" in page, page[page.find("<main>") :][:3000]
    assert "похожее название" in page
    url = f"/merge?entity=company&survivor_id={ids['a']}&merged_id={ids['b']}"
    form = await (await client.get(url)).text()
    assert 'name="choice_name" value="merged"' in form

    fields = {
        "csrf_token": token,
        "entity": "company",
        "survivor_id": str(ids["a"]),
        "merged_id": str(ids["b"]),
        "choice_name": "custom",
        "custom_name": "ООО «Ромашка-Юг»",
    }
    without_csrf = {k: v for k, v in fields.items() if k != "csrf_token"}
    refused = await client.post("/merge", data=without_csrf, allow_redirects=False)
    assert refused.status == 403
    assert (await client.get(f"/api/clients/{ids['b']}")).status == 200
    posted = await client.post("/merge", data=fields, allow_redirects=False)
    assert posted.status == 302, await posted.text()
    result_url = posted.headers["Location"]
    result = await (await client.get(result_url)).text()
    assert "Отменить объединение" in result and "Ромашка-Юг" in result
    # An old link to the merged-away card leads to the one that holds it now.
    old_link = await client.get(f"/clients/{ids['b']}", allow_redirects=False)
    assert old_link.headers["Location"] == f"/clients/{ids['a']}?merged={ids['b']}"
    survivor = await (await client.get(old_link.headers["Location"])).text()
    assert f"Здесь теперь карточка объединённой записи №{ids['b']}" in survivor
    # Someone else's client: a 404 that says why, in the users' language.
    hidden = await client.get(f"/clients/{ids['foreign']}")
    assert hidden.status == 404
    assert "нет к ней доступа" in await hidden.text()

    undone = await client.post(
        f"{result_url}/undo", data={"csrf_token": token}, allow_redirects=False
    )
    assert undone.status == 302
    after = await (await client.get(result_url)).text()
    assert "Объединение отменено" in after
    assert not re.search(r"<button[^>]*>Отменить объединение", after)
