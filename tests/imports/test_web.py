"""The import page and API, and the Excel exports, over HTTP with real logins."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import uuid
from typing import Any

from aiohttp import FormData, web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from callcenter.calls.models import Call, CallStatus, Direction, Outcome
from callcenter.clients.models import Company
from callcenter.db import transaction
from callcenter.users.service import UserView
from tests.imports.conftest import INN_A, INN_B, csv_bytes
from tests.web.conftest import log_in
from web.keys import SERVICES
from web.routes.imports import IMPORTS

FILE = csv_bytes(
    [
        "Компания;ИНН;ФИО;Телефон",
        f"ООО «Ромашка»;{INN_A};Иванов Иван;+7 916 123-45-67",
        f"ООО «Ромашка»;{INN_A};Петров Пётр;8 916 123-45-68",
        "Бета;123;;",
    ],
    encoding="cp1251",
)


def upload_form(data: bytes, name: str = "clients.csv") -> FormData:
    form = FormData()
    form.add_field("format", "auto")
    form.add_field("file", data, filename=name, content_type="text/csv")
    return form


async def wait_for_run(client: TestClient, url: str) -> dict[str, Any]:
    for _ in range(200):
        response = await client.get(url)
        assert response.status == 200
        run = await response.json()
        if run["status"] != "running":
            return run
        await asyncio.sleep(0.05)
    raise AssertionError("the import did not finish")


async def user(app: web.Application, login: str) -> UserView:
    found = await app[SERVICES].users.find_user_by_login(login)
    assert found is not None
    return found


async def test_a_manager_checks_then_imports_a_file_and_owns_the_result(
    app: web.Application,
    client: TestClient,
) -> None:
    anonymous = await client.post("/api/imports/files", data=upload_form(FILE))
    assert anonymous.status == 401

    token = await log_in(client, "manager")
    headers = {"X-CSRF-Token": token}
    no_csrf = await client.post("/api/imports/files", data=upload_form(FILE))
    assert no_csrf.status == 403
    assert (await no_csrf.json())["error"]["code"] == "csrf"

    page = await client.get("/imports")
    assert page.status == 200
    assert "Проверить" in await page.text()

    response = await client.post(
        "/api/imports/files", data=upload_form(FILE), headers=headers
    )
    assert response.status == 200, await response.text()
    upload = await response.json()
    assert upload["format"] == "csv" and upload["rows"] == 3
    assert upload["headers"] == ["Компания", "ИНН", "ФИО", "Телефон"]
    assert upload["mapping"]["ИНН"] == "inn"

    # What cannot be imported says why.
    empty = await client.post(
        "/api/imports/files", data=upload_form(b""), headers=headers
    )
    assert empty.status == 422
    assert (await empty.json())["error"] == {
        "code": "unreadable_file",
        "message": "файл пуст",
    }
    no_names = await client.post(
        "/api/imports/runs",
        json={"upload_id": upload["upload_id"], "mapping": {"Телефон": "phone"}},
        headers=headers,
    )
    assert no_names.status == 422
    assert (await no_names.json())["error"]["code"] == "invalid_mapping"
    unknown = await client.post(
        "/api/imports/runs", json={"upload_id": "nope", "mapping": {}}, headers=headers
    )
    assert unknown.status == 404

    # A preset saved from the page is offered for the next file of that format.
    saved = await client.post(
        "/api/imports/presets",
        json={"name": "Наш CSV", "format": "csv", "mapping": upload["mapping"]},
        headers=headers,
    )
    assert saved.status == 201
    preset_id = (await saved.json())["id"]

    started = await client.post(
        "/api/imports/runs",
        json={"upload_id": upload["upload_id"], "preset_id": preset_id},
        headers=headers,
    )
    assert started.status == 202, await started.text()
    dry = await wait_for_run(client, (await started.json())["status_url"])
    assert dry["dry_run"] and dry["status"] == "done"
    assert dry["counts"]["created"] == 2 and dry["counts"]["rejected"] == 1
    assert dry["processed_rows"] == dry["total_rows"] == 3
    assert [(e["line"], e["status"]) for e in dry["report"]] == [
        (2, "created"),
        (3, "created"),
        (4, "rejected"),
    ]
    sessions = app[IMPORTS].sessions
    async with sessions() as session:
        assert (await session.scalars(select(Company))).all() == []

    started = await client.post(
        "/api/imports/runs",
        json={
            "upload_id": upload["upload_id"],
            "mapping": upload["mapping"],
            "dry_run": False,
        },
        headers=headers,
    )
    run = await wait_for_run(client, (await started.json())["status_url"])
    assert run["status"] == "done" and not run["dry_run"]
    manager = await user(app, "manager")
    async with sessions() as session:
        made = (await session.scalars(select(Company))).all()
    assert [(c.name, c.responsible_id) for c in made] == [("ООО «Ромашка»", manager.id)]
    listed = await (await client.get("/api/imports/runs")).json()
    assert len(listed["runs"]) == 2
    page = await (await client.get("/imports")).text()
    assert "завершён" in page and "создано: 2 · отклонено: 1" in page

    # The upload and the runs are the manager's own.
    other_token = await log_in(client, "manager2")
    other = await client.get(f"/api/imports/runs/{run['id']}")
    assert other.status == 404
    assert (await (await client.get("/api/imports/runs")).json())["runs"] == []
    taken = await client.post(
        "/api/imports/runs",
        json={"upload_id": upload["upload_id"], "mapping": upload["mapping"]},
        headers={"X-CSRF-Token": other_token},
    )
    assert taken.status == 404

    spec = await (await client.get("/api/openapi.json")).json()
    paths = {"/api/imports/files", "/api/imports/runs", "/api/export/calls.xlsx"}
    assert paths <= set(spec["paths"])


def sheet_rows(content: bytes) -> list[tuple[Any, ...]]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    return rows


async def test_exports_contain_what_the_user_may_see(
    app: web.Application, client: TestClient
) -> None:
    services = app[SERVICES]
    manager, manager2 = await user(app, "manager"), await user(app, "manager2")
    mine = await services.clients.create_company(
        {
            "name": '=HYPERLINK("http://evil")',
            "inn": INN_A,
            "phones": ["8 916 123-45-67"],
            "contacts": [
                {"last_name": "Иванов", "first_name": "Иван", "position": "Директор"}
            ],
        },
        user=manager,
    )
    await services.clients.create_company(
        {"name": "Чужая", "inn": INN_B}, user=manager2
    )
    started = dt.datetime(2026, 12, 4, 11, 5, tzinfo=dt.UTC)
    async with transaction(app[IMPORTS].sessions) as session:
        for company_id, owner in ((mine, manager), (None, manager2)):
            session.add(
                Call(
                    id=uuid.uuid4(),
                    direction=Direction.OUTBOUND,
                    status=CallStatus.ENDED,
                    outcome=Outcome.ANSWERED,
                    client_number="79161234567",
                    company_id=company_id,
                    manager_id=owner.id,
                    started_at=started,
                    ring_seconds=4,
                    talk_seconds=61,
                )
            )

    await log_in(client, "manager")
    response = await client.get("/api/export/clients.xlsx")
    assert response.status == 200
    assert response.content_type.endswith("spreadsheetml.sheet")
    rows = sheet_rows(await response.read())
    assert rows[0][:3] == ("Название", "Полное наименование", "ИНН")
    assert len(rows) == 2  # the header and the manager's own client only
    name, _, inn = rows[1][:3]
    assert name == '=HYPERLINK("http://evil")' and inn == INN_A  # text, not a formula
    assert rows[1][10] == "+7 (916) 123-45-67"
    assert rows[1][12] == "Иванов Иван (Директор)"
    filtered = sheet_rows(
        await (await client.get("/api/export/clients.xlsx?q=zzz")).read()
    )
    assert len(filtered) == 1

    calls = sheet_rows(await (await client.get("/api/export/calls.xlsx")).read())
    assert calls[0][0] == "Дата и время"
    assert calls[1:] == [
        (
            dt.datetime(2026, 12, 4, 14, 5),  # Moscow time
            "Исходящий",
            '=HYPERLINK("http://evil")',
            "+7 (916) 123-45-67",
            "Анна Смирнова",
            "Состоялся",
            4,
            61,
        )  # no recording: the empty last cell is not stored
    ]
    bad = await client.get("/api/export/calls.xlsx?direction=sideways")
    assert bad.status == 422

    await log_in(client, "head")
    everything = sheet_rows(await (await client.get("/api/export/clients.xlsx")).read())
    assert sorted(r[0] for r in everything[1:]) == [
        '=HYPERLINK("http://evil")',
        "Чужая",
    ]
    all_calls = sheet_rows(await (await client.get("/api/export/calls.xlsx")).read())
    assert len(all_calls) == 3
    page = await (await client.get("/clients?q=Чуж")).text()
    assert "/api/export/clients.xlsx?q=%D0%A7%D1%83%D0%B6" in page


async def test_a_selection_exports_its_companies_with_their_equipment(
    app: web.Application, client: TestClient
) -> None:
    services = app[SERVICES]
    manager = await user(app, "manager")
    moscow = await services.clients.create_company(
        {"name": "Вектор", "region": "Москва"}, user=manager
    )
    await services.clients.add_equipment(
        moscow, {"vendor": "Yealink", "model": "T46U", "quantity": 3}, user=manager
    )
    await services.clients.add_equipment(
        moscow,
        {"kind": "IP-АТС", "vendor": "Panasonic", "model": "", "status": "planned"},
        user=manager,
    )
    await services.clients.create_company(
        {"name": "Лютик", "region": "Казань"}, user=manager
    )
    csrf = await log_in(client, "manager")
    saved = await client.post(
        "/api/selections",
        json={"name": "Москва", "filters": {"region": "Москва"}},
        headers={"X-CSRF-Token": csrf},
    )
    assert saved.status == 201, await saved.text()
    selection_id = (await saved.json())["id"]

    response = await client.get(f"/api/export/clients.xlsx?selection={selection_id}")

    assert response.status == 200
    assert (
        "filename*=UTF-8''%D0%92%D1%8B%D0%B1%D0%BE%D1%80%D0%BA%D0%B0"
        in (response.headers["Content-Disposition"])
    )
    rows = sheet_rows(await response.read())
    assert [r[0] for r in rows[1:]] == ["Вектор"]
    assert rows[0][13] == "Оборудование"
    assert rows[1][13] == "Yealink T46U × 3\nPanasonic IP-АТС (планируется)"
    page = await (await client.get(f"/selections/{selection_id}")).text()
    assert f'href="/api/export/clients.xlsx?selection={selection_id}"' in page

    await log_in(client, "manager2")
    hidden = await client.get(f"/api/export/clients.xlsx?selection={selection_id}")
    assert hidden.status == 404
    bad = await client.get("/api/export/clients.xlsx?selection=abc")
    assert bad.status == 422
