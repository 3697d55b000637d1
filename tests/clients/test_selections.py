"""Selections on a real PostgreSQL: every filter, "not called since", saved and shared
selections, and the visibility rules applied to whoever looks at the result."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from callcenter.calls.models import Call, CallStatus, Direction, Outcome
from callcenter.clients.errors import InvalidClientInput
from callcenter.clients.models import Company
from callcenter.clients.selections import (
    NoSuchSelection,
    SelectionNotYours,
    SelectionService,
    resolve_selection,
)
from callcenter.clients.service import ClientService
from callcenter.db import SessionFactory, transaction
from callcenter.interactions.models import Interaction, InteractionKind
from tests.clients.test_search import add_users

NOW = dt.datetime.now(dt.UTC)


def ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def day(days_ago: int) -> str:
    return ago(days_ago).date().isoformat()


async def seed(sessions: SessionFactory) -> dict[str, Any]:
    anna, boris, head = await add_users(sessions)
    clients = ClientService(sessions)

    async def company(user: Any, **fields: Any) -> int:
        return await clients.create_company(fields, user=user, force=True)

    full = await company(
        anna,
        name="Альфа",
        inn="7707083893",
        phones=["+7 495 111-11-11"],
        emails=["a@alfa.ru"],
        industry="Строительство",
        region="Москва",
        segment="A",
        status="client",
    )
    bare = await company(anna, name="Бета", region="Москва", status="prospect")
    far = await company(
        anna,
        name="Гамма",
        phones=["+7 383 222-22-22"],
        industry="Логистика",
        region="Новосибирская обл.",
        segment="B",
        status="former",
    )
    nobody = await company(anna, name="Дельта", region="Москва", responsible_id=None)
    others = await company(
        boris, name="Омега", phones=["+7 812 333-33-33"], region="Москва"
    )
    await clients.add_equipment(
        full, {"kind": "МФУ", "vendor": "Xerox", "model": "WorkCentre 3025"}, user=anna
    )
    await clients.add_equipment(
        far,
        {
            "kind": "Принтер",
            "vendor": "HP",
            "model": "LaserJet M428",
            "status": "planned",
        },
        user=anna,
    )

    async with transaction(sessions) as session:
        await session.execute(
            update(Company).where(Company.id == far).values(created_at=ago(400))
        )
        session.add_all(
            [
                _call(full, Direction.OUTBOUND, ago(3)),
                _call(far, Direction.ORIGINATED, ago(60)),
                _call(bare, Direction.INBOUND, ago(5)),  # they called us
                _call(others, Direction.OUTBOUND, ago(1)),
            ]
        )
        session.add(
            Interaction(
                kind=InteractionKind.MEETING,
                company_id=far,
                occurred_at=ago(20),
                summary="Встреча",
            )
        )
    return {
        "anna": anna,
        "boris": boris,
        "head": head,
        "full": full,
        "bare": bare,
        "far": far,
        "nobody": nobody,
        "others": others,
        "service": SelectionService(sessions),
        "sessions": sessions,
    }


def _call(company_id: int, direction: Direction, at: dt.datetime) -> Call:
    return Call(
        direction=direction,
        status=CallStatus.ENDED,
        outcome=Outcome.ANSWERED,
        company_id=company_id,
        started_at=at,
        ended_at=at + dt.timedelta(minutes=2),
    )


@pytest.fixture
async def base(sessions: SessionFactory) -> dict[str, Any]:
    return await seed(sessions)


async def matching(
    base: dict[str, Any], filters: dict[str, Any], who: str = "anna"
) -> set[int]:
    async with base["sessions"]() as session:
        ids = await resolve_selection(session, filters, base[who])
        return set((await session.scalars(ids)).all())


async def test_selections_filter_by_each_client_parameter(base: dict[str, Any]) -> None:
    b = base
    mine = {b["full"], b["bare"], b["far"]}  # "nobody" has no responsible: hidden

    cases: list[tuple[dict[str, Any], set[int]]] = [
        ({}, mine),
        ({"name": "альф"}, {b["full"]}),
        ({"industry": ["Строительство", "Логистика"]}, {b["full"], b["far"]}),
        ({"region": "Москва"}, {b["full"], b["bare"]}),
        ({"segment": ["B"]}, {b["far"]}),
        ({"status": ["client", "former"]}, {b["full"], b["far"]}),
        ({"responsible_id": [b["anna"].id]}, mine),
        ({"equipment_kind": "мфу"}, {b["full"]}),
        ({"equipment_vendor": "HP", "equipment_status": "planned"}, {b["far"]}),
        ({"equipment_model": "centre 30"}, {b["full"]}),
        ({"created_to": day(300)}, {b["far"]}),
        ({"created_from": "01.01.2000", "created_to": day(-1)}, mine),
        ({"has_phone": True}, {b["full"], b["far"]}),
        ({"has_email": "false"}, {b["bare"], b["far"]}),
        ({"completeness_min": 100}, {b["full"]}),
        # Бета: name, region, responsible = 3 of the 6 default required fields.
        ({"completeness_max": 50}, {b["bare"]}),
    ]
    for filters, expected in cases:
        assert await matching(b, filters) == expected, filters

    # The head sees everyone's; "no responsible" selects unassigned clients.
    assert await matching(b, {"responsible_id": [None]}, "head") == {b["nobody"]}
    assert await matching(b, {"region": ["Москва"]}, "head") == {
        b["full"],
        b["bare"],
        b["nobody"],
        b["others"],
    }


async def test_selections_by_calls_and_last_contact(base: dict[str, Any]) -> None:
    b = base

    cases: list[tuple[dict[str, Any], set[int]]] = [
        # "Not called for 30 days": Гамма's call is 60 days old, Бета only called us.
        ({"called": "no", "called_days": 30}, {b["bare"], b["far"]}),
        ({"called": "yes", "called_days": 30}, {b["full"]}),
        ({"called": "yes"}, {b["full"], b["far"]}),
        (
            {"called": "no", "called_from": day(90), "called_to": day(30)},
            {b["full"], b["bare"]},
        ),
        # Last contact: calls either way and history entries (Гамма's meeting, 20 days).
        ({"last_contact_from": day(7)}, {b["full"], b["bare"]}),
        ({"last_contact_to": day(10)}, {b["far"]}),
        ({"last_contact_from": day(30), "last_contact_to": day(10)}, {b["far"]}),
        ({"never_contacted": True}, set()),
    ]
    for filters, expected in cases:
        assert await matching(b, filters) == expected, filters
    assert await matching(b, {"never_contacted": True}, "head") == {b["nobody"]}


async def test_bad_filters_are_refused_with_the_filter_named(
    base: dict[str, Any],
) -> None:
    for filters in (
        {"colour": "red"},
        {"status": ["lost"]},
        {"created_from": "31.02.2026"},
        {"completeness_min": 101},
        {"responsible_id": ["anna"]},
        {"called": "maybe"},
    ):
        with pytest.raises(InvalidClientInput):
            await matching(base, filters)


async def test_saved_selections_are_private_unless_shared(base: dict[str, Any]) -> None:
    service, anna, boris = base["service"], base["anna"], base["boris"]

    private = await service.create_selection(
        anna, name="Мои московские", filters={"region": "Москва"}
    )
    shared = await service.create_selection(
        anna,
        name="Не звонили месяц",
        filters={"called": "no", "called_days": 30},
        shared=True,
    )

    assert [s["name"] for s in await service.list_selections(anna)] == [
        "Мои московские",
        "Не звонили месяц",
    ]
    listed = await service.list_selections(boris)
    assert [(s["id"], s["editable"]) for s in listed] == [(shared, False)]

    with pytest.raises(NoSuchSelection):
        await service.get_selection(private, boris)
    with pytest.raises(NoSuchSelection):
        await service.selection_clients(private, boris)
    with pytest.raises(NoSuchSelection):
        await service.update_selection(private, boris, {"name": "x"})
    with pytest.raises(SelectionNotYours):
        await service.update_selection(shared, boris, {"shared": False})
    with pytest.raises(SelectionNotYours):
        await service.delete_selection(shared, boris)

    # A shared selection shows each viewer only the clients they may see.
    page = await service.selection_clients(shared, boris)
    assert [c["id"] for c in page.clients] == []  # Омега was called yesterday
    page = await service.selection_clients(shared, anna)
    assert {c["id"] for c in page.clients} == {base["bare"], base["far"]}
    far = next(c for c in page.clients if c["id"] == base["far"])
    assert far["phones"][0]["e164"] == "73832222222"
    assert far["last_contact_at"] is not None

    await service.update_selection(shared, anna, {"shared": False, "name": "Мои"})
    assert await service.list_selections(boris) == []
    await service.delete_selection(private, anna)
    with pytest.raises(NoSuchSelection):
        await service.get_selection(private, anna)


async def test_a_page_of_clients_is_ordered_and_counted(base: dict[str, Any]) -> None:
    service = base["service"]

    first = await service.preview({}, base["head"], limit=2)
    second = await service.preview({}, base["head"], limit=2, offset=2)

    assert first.total == second.total == 5
    names = [c["name"] for c in first.clients + second.clients]
    assert names == ["Альфа", "Бета", "Гамма", "Дельта"]
    async with base["sessions"]() as session:
        assert (
            await session.scalar(
                select(Company.name).where(Company.id == base["others"])
            )
            == "Омега"
        )
