"""Who may read and change a manager's client, route by route.

Every route of the client base (``web/routes/clients.py`` and ``web/routes/pages.py``)
is listed in ``CASES``; ``test_every_client_route_has_an_access_case`` fails when a
route is added without one. Each role then walks all cases against the same client:
``manager`` owns it, ``manager2`` must get 404 (403 where the route is closed to the
role) and change nothing, the manager's ``supervisor``, ``head`` and ``admin`` succeed.
The card's telephony (its calls and their recordings) follows the same rule.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from callcenter.calls.models import (
    Call,
    CallStatus,
    Direction,
    Outcome,
    Recording,
    RecordingStatus,
)
from callcenter.clients.models import Company, Equipment
from callcenter.db import SessionFactory, transaction
from callcenter.users.models import User
from callcenter.users.service import UserView
from tests.web import conftest as web_fixtures
from tests.web.conftest import log_in, test_settings
from web.app import create_app
from web.keys import SERVICES, SETTINGS
from web.routes import clients as client_routes
from web.routes import pages as page_routes

CLIENT_PHONE = "+7 (916) 123-45-67"
RECORDING = "1764860000.101.wav"

# The application and its users, exactly as the web tests build them.
app = web_fixtures.app
client = web_fixtures.client
OWNER_ROLES = ("manager", "supervisor", "head", "admin")
FRESH_MODEL = "Grandstream"


@dataclass
class World:
    """Manager's client A (contact, equipment, a recorded call), a private client P,
    a second company B of the same manager, and a company of manager2."""

    users: dict[str, UserView]
    company_id: int
    other_company_id: int
    foreign_company_id: int
    contact_id: int
    private_id: int
    equipment_id: int
    call_id: str
    csrf: str = ""
    counter: int = 0

    def unique(self) -> str:
        self.counter += 1
        return f"{self.counter:03d}"


async def build_world(app: web.Application, sessions: SessionFactory) -> World:
    services = app[SERVICES]
    users = {u.login: u for u in await services.users.list_users()}
    manager = users["manager"]
    async with transaction(sessions) as session:
        await session.execute(
            update(User)
            .where(User.id == manager.id)
            .values(supervisor_id=users["supervisor"].id)
        )

    clients = services.clients
    company_id = await clients.create_company(
        {
            "name": "ООО «Ромашка»",
            "inn": "7707083893",
            "phones": [CLIENT_PHONE],
            "emails": ["info@romashka.ru"],
            "contacts": [
                {
                    "last_name": "Петров",
                    "first_name": "Иван",
                    "phones": ["+7 (916) 765-43-21"],
                }
            ],
        },
        user=manager,
    )
    other = await clients.create_company({"name": "ООО Лютик"}, user=manager)
    foreign = await clients.create_company(
        {"name": "АО Василёк"}, user=users["manager2"]
    )
    card = await clients.get_company(company_id, user=manager)
    private_id = await clients.add_contact(
        None, {"last_name": "Сидоров", "first_name": "Пётр"}, user=manager
    )
    equipment_id = await clients.add_equipment(
        company_id, {"kind": "АТС", "model": "Yeastar S50"}, user=manager
    )

    call_id = uuid.uuid4()
    started = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    async with transaction(sessions) as session:
        session.add(
            Call(
                id=call_id,
                linkedid=None,
                direction=Direction.ORIGINATED,
                status=CallStatus.ENDED,
                outcome=Outcome.ANSWERED,
                client_number="79161234567",
                company_id=company_id,
                contact_id=None,
                manager_id=manager.id,
                manager_extension="101",
                requested_by_id=manager.id,
                started_at=started,
                answered_at=started + dt.timedelta(seconds=5),
                ended_at=started + dt.timedelta(seconds=65),
                ring_seconds=5,
                talk_seconds=60,
            )
        )
        await session.flush()
        session.add(
            Recording(
                call_id=call_id,
                file_name=RECORDING,
                status=RecordingStatus.READY,
                duration_seconds=60.0,
                size_bytes=44,
            )
        )
    folder: Path = app[SETTINGS].recordings_dir
    await asyncio.to_thread((folder / RECORDING).write_bytes, b"RIFF" + b"\0" * 40)

    return World(
        users=users,
        company_id=company_id,
        other_company_id=other,
        foreign_company_id=foreign,
        contact_id=card["contacts"][0]["id"],
        private_id=private_id,
        equipment_id=equipment_id,
        call_id=str(call_id),
    )


# -- the cases: one per (method, route) ----------------------------------------------------

Request = Callable[[TestClient, World], Awaitable[Any]]


@dataclass(frozen=True)
class Case:
    """How to call a route, and what each role gets.

    ``kind``: ``read``/``write`` touch manager's client (others: 404); ``open`` is any
    logged-in user on their own data; ``admin`` and ``supervisors`` are role-restricted
    (others: 403).
    """

    kind: str
    call: Request
    ok: tuple[int, ...] = (200,)


def _form(world: World, **fields: str) -> dict[str, str]:
    return {"csrf_token": world.csrf, **fields}


def _json_headers(world: World) -> dict[str, str]:
    return {"X-CSRF-Token": world.csrf}


def _get(path: str) -> Request:
    async def call(client: TestClient, world: World) -> Any:
        return await client.get(path.format(w=world), allow_redirects=False)

    return call


def _post_form(path: str, **fields: str) -> Request:
    async def call(client: TestClient, world: World) -> Any:
        values = {k: v.format(w=world, n=world.unique()) for k, v in fields.items()}
        return await client.post(
            path.format(w=world), data=_form(world, **values), allow_redirects=False
        )

    return call


def _send(method: str, path: str, body: dict[str, Any] | None = None) -> Request:
    async def call(client: TestClient, world: World) -> Any:
        payload = {
            k: v.format(w=world, n=world.unique()) if isinstance(v, str) else v
            for k, v in (body or {}).items()
        }
        if "user_id" in payload:
            payload["user_id"] = world.users["head"].id
        return await client.request(
            method,
            path.format(w=world),
            json=payload if body is not None else None,
            headers=_json_headers(world),
            allow_redirects=False,
        )

    return call


def _fresh_equipment(method: str, path: str, body: dict[str, Any] | None) -> Request:
    """Deleting needs a new item each time: the manager adds one first."""

    async def call(client: TestClient, world: World) -> Any:
        services = client.app[SERVICES]
        item = await services.clients.add_equipment(
            world.company_id, {"model": FRESH_MODEL}, user=world.users["manager"]
        )
        target = path.replace("{w.equipment_id}", str(item))
        if method == "FORM":
            return await client.post(
                target.format(w=world), data=_form(world), allow_redirects=False
            )
        return await _send(method, target, body)(client, world)

    return call


CASES: dict[tuple[str, str], list[Case]] = {
    # pages: the panel (calls pages are the card's telephony)
    ("GET", "/"): [Case("open", _get("/"), (302,))],
    ("GET", "/calls"): [Case("open", _get("/calls"))],
    ("GET", "/calls/{call_id}"): [Case("read", _get("/calls/{w.call_id}"))],
    ("GET", "/live"): [Case("supervisors", _get("/live"))],
    # pages: the client base
    ("GET", "/clients"): [Case("open", _get("/clients"))],
    ("GET", "/clients/new"): [Case("open", _get("/clients/new?phone=79035551234"))],
    ("POST", "/clients/new"): [
        Case(
            "open",
            _post_form(
                "/clients/new",
                company_name="ООО Новый клиент {n}",
                phone="+7 (903) 555-0{n}",
                force="1",  # the names are alike on purpose: no duplicate prompt
            ),
            (302,),
        )
    ],
    ("GET", "/clients/{company_id}"): [Case("read", _get("/clients/{w.company_id}"))],
    ("GET", "/clients/{company_id}/edit"): [
        Case("read", _get("/clients/{w.company_id}/edit"))
    ],
    ("POST", "/clients/{company_id}/edit"): [
        Case(
            "write",
            _post_form("/clients/{w.company_id}/edit", region="Регион {n}"),
            (302,),
        )
    ],
    ("GET", "/clients/{company_id}/contacts/new"): [
        Case("read", _get("/clients/{w.company_id}/contacts/new"))
    ],
    ("POST", "/clients/{company_id}/contacts/new"): [
        Case(
            "write",
            _post_form(
                "/clients/{w.company_id}/contacts/new",
                last_name="Новиков {n}",
                first_name="Олег",
            ),
            (302,),
        )
    ],
    ("GET", "/clients/{company_id}/equipment/new"): [
        Case("read", _get("/clients/{w.company_id}/equipment/new"))
    ],
    ("POST", "/clients/{company_id}/equipment/new"): [
        Case(
            "write",
            _post_form("/clients/{w.company_id}/equipment/new", model="IP-телефон {n}"),
            (302,),
        )
    ],
    ("GET", "/clients/{company_id}/equipment/{equipment_id}/edit"): [
        Case("read", _get("/clients/{w.company_id}/equipment/{w.equipment_id}/edit"))
    ],
    ("POST", "/clients/{company_id}/equipment/{equipment_id}/edit"): [
        Case(
            "write",
            _post_form(
                "/clients/{w.company_id}/equipment/{w.equipment_id}/edit",
                quantity="{n}",
            ),
            (302,),
        )
    ],
    ("POST", "/clients/{company_id}/equipment/{equipment_id}/delete"): [
        Case(
            "write",
            _fresh_equipment(
                "FORM",
                "/clients/{w.company_id}/equipment/{w.equipment_id}/delete",
                None,
            ),
            (302,),
        )
    ],
    ("GET", "/contacts/new"): [Case("open", _get("/contacts/new"))],
    ("POST", "/contacts/new"): [
        Case(
            "open",
            _post_form(
                "/contacts/new", last_name="Частный {n}", phones="+7 903 100-0{n}"
            ),
            (302,),
        )
    ],
    ("GET", "/contacts/{contact_id}"): [
        Case("read", _get("/contacts/{w.contact_id}")),
        Case("read", _get("/contacts/{w.private_id}")),
    ],
    ("GET", "/contacts/{contact_id}/edit"): [
        Case("read", _get("/contacts/{w.contact_id}/edit")),
        Case("read", _get("/contacts/{w.private_id}/edit")),
    ],
    ("POST", "/contacts/{contact_id}/edit"): [
        Case(
            "write",
            _post_form("/contacts/{w.contact_id}/edit", position="Директор {n}"),
            (302,),
        ),
        Case(
            "write",
            _post_form("/contacts/{w.private_id}/edit", notes="Заметка {n}"),
            (302,),
        ),
    ],
    # the JSON API
    ("GET", "/api/clients"): [Case("open", _get("/api/clients"))],
    ("POST", "/api/clients"): [
        Case(
            "open",
            _send("POST", "/api/clients", {"name": "ООО API {n}", "force": True}),
            (201,),
        )
    ],
    ("POST", "/api/clients/duplicates"): [
        Case("open", _send("POST", "/api/clients/duplicates", {"name": "Ромашка"}))
    ],
    ("GET", "/api/clients/{company_id}"): [
        Case("read", _get("/api/clients/{w.company_id}"))
    ],
    ("PATCH", "/api/clients/{company_id}"): [
        Case(
            "write",
            _send("PATCH", "/api/clients/{w.company_id}", {"industry": "Связь {n}"}),
        )
    ],
    ("GET", "/api/clients/{company_id}/history"): [
        Case("read", _get("/api/clients/{w.company_id}/history"))
    ],
    ("POST", "/api/clients/{company_id}/share"): [
        Case(
            "write", _send("POST", "/api/clients/{w.company_id}/share", {"user_id": 0})
        )
    ],
    ("POST", "/api/clients/{company_id}/contacts"): [
        Case(
            "write",
            _send(
                "POST",
                "/api/clients/{w.company_id}/contacts",
                {"last_name": "Орлов {n}"},
            ),
            (201,),
        )
    ],
    ("POST", "/api/clients/{company_id}/equipment"): [
        Case(
            "write",
            _send(
                "POST", "/api/clients/{w.company_id}/equipment", {"model": "Шлюз {n}"}
            ),
            (201,),
        )
    ],
    ("POST", "/api/contacts"): [
        Case(
            "open", _send("POST", "/api/contacts", {"last_name": "Лесков {n}"}), (201,)
        )
    ],
    ("PATCH", "/api/contacts/{contact_id}"): [
        Case(
            "write",
            _send("PATCH", "/api/contacts/{w.contact_id}", {"position": "Инженер {n}"}),
        ),
        Case(
            "write",
            _send("PATCH", "/api/contacts/{w.private_id}", {"notes": "Звонить {n}"}),
        ),
        # Moving a person between two companies of the manager.
        Case(
            "write",
            _send(
                "PATCH",
                "/api/contacts/{w.contact_id}",
                {"move_to_company_id": 0},
            ),
        ),
    ],
    ("GET", "/api/contacts/{contact_id}/history"): [
        Case("read", _get("/api/contacts/{w.contact_id}/history")),
        Case("read", _get("/api/contacts/{w.private_id}/history")),
    ],
    ("PATCH", "/api/equipment/{equipment_id}"): [
        Case(
            "write",
            _send(
                "PATCH", "/api/equipment/{w.equipment_id}", {"vendor": "Yeastar {n}"}
            ),
        )
    ],
    ("DELETE", "/api/equipment/{equipment_id}"): [
        Case(
            "write",
            _fresh_equipment("DELETE", "/api/equipment/{w.equipment_id}", None),
        )
    ],
    ("PUT", "/api/field-rules/{entity}"): [
        Case(
            "admin",
            _send(
                "PUT",
                "/api/field-rules/company",
                {"required": ["name", "inn", "phones", "region"]},
            ),
        )
    ],
}


def client_base_routes(app: web.Application) -> set[tuple[str, str]]:
    modules = {client_routes.__name__, page_routes.__name__}
    found = set()
    for route in app.router.routes():
        handler = getattr(route.handler, "__wrapped__", route.handler)
        if route.method == "HEAD" or handler.__module__ not in modules:
            continue
        found.add((route.method, route.resource.canonical))
    return found


def test_every_client_route_has_an_access_case(tmp_path: Path) -> None:
    # Routes are registered when the app is built; nothing connects before startup.
    unstarted = create_app(test_settings(tmp_path), database_url="postgresql://unused")

    routes = client_base_routes(unstarted)

    assert len(routes) > 20, "the client routes are registered"
    missing = sorted(routes - set(CASES))
    assert not missing, f"routes without an access case in CASES: {missing}"
    assert not sorted(set(CASES) - routes), "CASES lists routes that no longer exist"


def expected(case: Case, role: str) -> tuple[int, ...]:
    if case.kind == "admin":
        return case.ok if role == "admin" else (403,)
    if case.kind == "supervisors":
        return case.ok if role in ("supervisor", "head", "admin") else (403,)
    if case.kind == "open" or role in OWNER_ROLES:
        return case.ok
    return (404,)


async def snapshot(client: TestClient, world: World) -> Any:
    """Everything about manager's records, read through the service as the owner."""
    clients = client.app[SERVICES].clients
    manager = world.users["manager"]
    company = await clients.get_company(world.company_id, user=manager)
    # Items the manager adds for the delete cases are not manager2's doing.
    company["equipment"] = [
        e for e in company["equipment"] if e["model"] != FRESH_MODEL
    ]
    history = await clients.history("company", world.company_id, user=manager)
    history = [
        h for h in history if not (h["subject"] and FRESH_MODEL in h["subject"]["name"])
    ]
    return (
        company,
        await clients.get_contact(world.contact_id, user=manager),
        await clients.get_contact(world.private_id, user=manager),
        history,
        await clients.history("contact", world.contact_id, user=manager),
        await clients.history("contact", world.private_id, user=manager),
    )


def _move_case(world: World, role: str) -> Case:
    # manager2 tries to pull the person into a company of their own.
    target = world.foreign_company_id if role == "manager2" else world.other_company_id

    async def call(client: TestClient, world: World) -> Any:
        return await client.patch(
            f"/api/contacts/{world.contact_id}",
            json={"move_to_company_id": target},
            headers=_json_headers(world),
        )

    return Case("write", call)


async def walk_all_cases(client: TestClient, world: World, role: str) -> list[str]:
    """Call every case as ``role``; return what went wrong."""
    failures = []
    for key, cases in CASES.items():
        for index, case in enumerate(cases):
            if key == ("PATCH", "/api/contacts/{contact_id}") and index == 2:
                case = _move_case(world, role)
            response = await case.call(client, world)
            want = expected(case, role)
            if response.status in want:
                continue
            body = (await response.text())[:200]
            failures.append(
                f"{role} {key} #{index}: {response.status} not {want}: {body}"
            )
    return failures


async def check_lists_and_telephony(
    client: TestClient, world: World, role: str
) -> None:
    """The client list, and the card's calls and recordings, follow the same rule."""
    sees = role != "manager2"
    recording = f"/api/calls/{world.call_id}/recording"

    listed = await (await client.get("/api/clients")).json()
    page = await (await client.get("/clients")).text()
    card = await client.get(f"/clients/{world.company_id}")
    calls = await (await client.get(f"/api/calls?company_id={world.company_id}")).json()
    call = await client.get(f"/api/calls/{world.call_id}")
    audio = await client.get(recording)

    assert (world.company_id in {c["id"] for c in listed["clients"]}) == sees, role
    assert (f'href="/clients/{world.company_id}"' in page) == sees, role
    if not sees:
        assert card.status == 404
        assert calls["calls"] == []
        assert (call.status, audio.status) == (404, 404)
        return
    text = await card.text()
    assert card.status == 200, role
    assert f'data-call-id="{world.call_id}"' in text, role
    assert f'src="{recording}"' in text, role
    assert [c["id"] for c in calls["calls"]] == [world.call_id], role
    assert (call.status, audio.status) == (200, 200), role


async def test_each_role_reads_and_changes_the_managers_client_as_the_rules_say(
    app: web.Application, client: TestClient, sessions: SessionFactory
) -> None:
    world = await build_world(app, sessions)
    before = await snapshot(client, world)

    # manager2 goes first, so "changed nothing" compares with the untouched records.
    failures = []
    for role in ("manager2", "manager", "supervisor", "head", "admin"):
        world.csrf = await log_in(client, role)
        await check_lists_and_telephony(client, world, role)
        failures += await walk_all_cases(client, world, role)
        if role == "manager2":
            assert await snapshot(client, world) == before, "manager2 changed nothing"

    assert not failures, "\n".join(failures)


async def test_sharing_teams_and_foreign_equipment(
    app: web.Application, client: TestClient, sessions: SessionFactory
) -> None:
    world = await build_world(app, sessions)
    clients = app[SERVICES].clients
    manager, manager2 = world.users["manager"], world.users["manager2"]

    # A supervisor whose team the manager is not in sees none of the manager's clients...
    async with transaction(sessions) as session:
        await session.execute(
            update(User).where(User.id == manager.id).values(supervisor_id=None)
        )
    await log_in(client, "supervisor")
    assert (await client.get(f"/clients/{world.company_id}")).status == 404
    assert (await client.get(f"/api/clients/{world.company_id}")).status == 404
    assert (await client.get(f"/contacts/{world.private_id}")).status == 404
    # ... but an unassigned client is the supervisor's to hand out.
    async with transaction(sessions) as session:
        await session.execute(
            update(Company)
            .where(Company.id == world.other_company_id)
            .values(responsible_id=None)
        )
    assert (await client.get(f"/clients/{world.other_company_id}")).status == 200

    # A client shared with manager2 opens for them, and they may edit it.
    await clients.share_company(world.company_id, manager2.id, user=manager)
    world.csrf = await log_in(client, "manager2")
    shared_card = await client.get(f"/clients/{world.company_id}")
    assert shared_card.status == 200
    shared_audio = await client.get(f"/api/calls/{world.call_id}/recording")
    edited = await client.patch(
        f"/api/clients/{world.company_id}",
        json={"segment": "VIP"},
        headers=_json_headers(world),
    )
    assert edited.status == 200

    # An equipment id of another company is not reached through a visible company.
    foreign_item = await clients.add_equipment(
        world.foreign_company_id, {"model": "Чужое"}, user=manager2
    )
    world.csrf = await log_in(client, "manager")
    page = await client.get(
        f"/clients/{world.company_id}/equipment/{foreign_item}/edit"
    )
    deleted = await client.post(
        f"/clients/{world.company_id}/equipment/{foreign_item}/delete",
        data=_form(world),
        allow_redirects=False,
    )
    assert (page.status, deleted.status) == (404, 404)
    async with sessions() as session:
        assert await session.scalar(
            select(Equipment.id).where(Equipment.id == foreign_item)
        )

    # The shared card lists the client's calls and plays their recordings, as it
    # does for the owner.
    assert f'data-call-id="{world.call_id}"' in await shared_card.text()
    assert shared_audio.status == 200
