"""Merging two companies or two contact persons on a real PostgreSQL, and undoing it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from callcenter.calls.models import Call
from callcenter.clients.errors import NoSuchClient
from callcenter.clients.merge import InvalidMergeChoice, MergeService, UndoRefused
from callcenter.clients.models import ChangeRecord, ClientShare, Company, Contact, Merge
from callcenter.clients.service import ClientService
from callcenter.db import SessionFactory
from callcenter.interactions.models import Interaction
from tests.clients.test_merge_support import (
    add_call,
    make_company,
    make_users,
    snapshot,
)


@pytest.fixture
async def world(sessions: SessionFactory) -> dict[str, object]:
    users = await make_users(sessions)
    clients = ClientService(sessions)
    manager = users["manager"]
    survivor = await make_company(
        clients,
        manager,
        'ООО "Ромашка"',
        inn="7707083893",
        phones=["+7 495 111-22-33"],
        region="Москва",
    )
    merged = await make_company(
        clients,
        manager,
        "Ромашка, ООО",
        phones=["+7 (916) 123-45-67"],
        emails=["info@romashka.ru"],
        industry="Розница",
        region="Тверь",
        contacts=[
            {"last_name": "Петров", "first_name": "Иван", "phones": ["89160001122"]}
        ],
    )
    await clients.add_equipment(merged, {"model": "Станок ЧПУ"}, user=manager)
    await clients.share_company(merged, users["manager2"].id, user=manager)
    async with sessions() as session:
        contact = await session.scalar(
            select(Contact.id).where(Contact.company_id == merged)
        )
    calls = [
        await add_call(sessions, company_id=merged, contact_id=contact),
        await add_call(sessions, company_id=merged),
        await add_call(sessions, company_id=survivor, number="74951112233"),
    ]
    return {
        "users": users,
        "survivor": survivor,
        "merged": merged,
        "contact": contact,
        "calls": calls,
    }


async def test_merge_moves_everything_and_undo_restores_it_exactly(
    sessions: SessionFactory, world: dict[str, object]
) -> None:
    users = world["users"]
    manager = users["manager"]  # type: ignore[index]
    survivor, merged = world["survivor"], world["merged"]
    service = MergeService(sessions)
    clients = ClientService(sessions)
    before = await snapshot(sessions)

    preview = await service.preview(
        "company",
        survivor,
        merged,
        user=manager,  # type: ignore[arg-type]
    )
    fields = {f["field"]: f for f in preview["fields"]}
    assert fields["region"]["differs"] and fields["region"]["suggested"] == "survivor"
    assert fields["industry"]["suggested"] == "merged"  # the survivor has none
    assert preview["merged"]["counts"]["calls"] == 2

    result = await service.merge(
        "company",
        survivor,  # type: ignore[arg-type]
        merged,  # type: ignore[arg-type]
        {"region": "merged", "notes": {"value": "Сливали дубли"}},
        user=manager,
    )
    assert set(result.changed_fields) == {"region", "industry", "notes"}
    assert result.moved["calls"] == 2 and result.moved["contacts"] == 1
    assert result.moved["equipment"] == 1 and result.moved["interactions"] == 2

    card = await clients.get_company(survivor, user=manager)  # type: ignore[arg-type]
    assert (card["region"], card["industry"], card["notes"]) == (
        "Тверь",
        "Розница",
        "Сливали дубли",
    )
    assert card["name"] == 'ООО "Ромашка"'
    assert [c["name"] for c in card["contacts"]] == ["Петров Иван"]
    assert {p["e164"] for p in card["phones"]} == {"74951112233", "79161234567"}
    assert card["emails"] == ["info@romashka.ru"]
    assert [e["model"] for e in card["equipment"]] == ["Станок ЧПУ"]
    assert len(card["interactions"]) == 3
    listed = await clients.list_companies(user=manager)
    assert [c["id"] for c in listed] == [survivor]
    with pytest.raises(NoSuchClient):
        await clients.get_company(merged, user=manager)  # type: ignore[arg-type]

    async with sessions() as session:
        calls = await session.scalar(
            select(func.count()).select_from(Call).where(Call.company_id == survivor)
        )
        manager2_id = users["manager2"].id  # type: ignore[index]
        shared = await session.get(ClientShare, (survivor, manager2_id))
        log = (
            await session.scalars(
                select(ChangeRecord.field).where(
                    ChangeRecord.batch_id == result.merge_id
                )
            )
        ).all()
        row = await session.get(Merge, result.merge_id)
    assert calls == 3
    assert shared is not None  # manager2 still sees the client they were given
    assert {"region", "industry", "notes", "merged_from", "merged_into_id"} <= set(log)
    assert row is not None and row.snapshot["moved"]["calls"]

    undone = await service.undo(result.merge_id, user=manager)
    assert set(undone.restored_fields) == {"region", "industry", "notes"}
    assert undone.kept_fields == ()
    assert await snapshot(sessions) == before

    with pytest.raises(UndoRefused):
        await service.undo(result.merge_id, user=manager)


async def test_undo_is_refused_once_the_survivor_was_merged_again(
    sessions: SessionFactory, world: dict[str, object]
) -> None:
    manager = world["users"]["manager"]  # type: ignore[index]
    clients = ClientService(sessions)
    service = MergeService(sessions)
    third = await make_company(clients, manager, "Ромашка-Трейд")
    first = await service.merge(
        "company", world["survivor"], world["merged"], {}, user=manager
    )  # type: ignore[arg-type]
    await service.merge(
        "company",
        third,
        world["survivor"],
        {},
        user=manager,  # type: ignore[arg-type]
    )

    with pytest.raises(UndoRefused) as refused:
        await service.undo(first.merge_id, user=manager)
    assert "сначала отмените" in refused.value.reason
    info = await service.get_merge(first.merge_id, user=manager)
    assert info["can_undo"] is False and info["undo_blocked_by"]


async def test_a_manager_cannot_merge_another_managers_client(
    sessions: SessionFactory, world: dict[str, object]
) -> None:
    users = world["users"]
    clients = ClientService(sessions)
    foreign = await make_company(clients, users["manager2"], "Ромашка М2")  # type: ignore[index]
    service = MergeService(sessions)

    with pytest.raises(NoSuchClient):
        await service.merge(
            "company", world["survivor"], foreign, {}, user=users["manager"]
        )  # type: ignore[arg-type,index]
    with pytest.raises(NoSuchClient):
        await service.preview(
            "company", foreign, world["survivor"], user=users["manager"]
        )  # type: ignore[arg-type,index]
    with pytest.raises(InvalidMergeChoice):
        await service.merge(
            "company",
            world["survivor"],  # type: ignore[arg-type]
            world["merged"],  # type: ignore[arg-type]
            {"inn": {"value": "1234567890"}},
            user=users["manager"],  # type: ignore[index]
        )
    async with sessions() as session:
        hidden = await session.scalar(
            select(func.count())
            .select_from(Company)
            .where(Company.merged_into_id.is_not(None))
        )
    assert hidden == 0  # nothing was merged by the refused attempts


async def test_merging_contact_persons_moves_their_phones_calls_and_history(
    sessions: SessionFactory,
) -> None:
    users = await make_users(sessions, ["manager"])
    manager = users["manager"]
    clients = ClientService(sessions)
    company = await make_company(
        clients,
        manager,
        "Вега",
        contacts=[
            {"last_name": "Иванов", "first_name": "Пётр", "position": "Директор"},
            {
                "last_name": "Иванов",
                "first_name": "Петр",
                "middle_name": "Ильич",
                "phones": ["+7 916 000-11-22"],
                "emails": ["ivanov@vega.ru"],
            },
        ],
    )
    async with sessions() as session:
        keep, gone = (
            await session.scalars(
                select(Contact.id)
                .where(Contact.company_id == company)
                .order_by(Contact.id)
            )
        ).all()
    await add_call(sessions, company_id=company, contact_id=gone, number="79160001122")
    before = await snapshot(sessions)
    service = MergeService(sessions)

    result = await service.merge(
        "contact", keep, gone, {"first_name": "merged"}, user=manager
    )
    assert set(result.changed_fields) == {"first_name", "middle_name", "email"}
    assert result.moved == {
        "phones": 1,
        "emails": 1,
        "equipment": 0,
        "calls": 1,
        "interactions": 1,
    }
    card = await clients.get_company(company, user=manager)
    (person,) = card["contacts"]
    assert person["id"] == keep and person["name"] == "Иванов Петр Ильич"
    assert [p["e164"] for p in person["phones"]] == ["79160001122"]
    async with sessions() as session:
        moved = await session.scalar(
            select(func.count())
            .select_from(Interaction)
            .where(Interaction.contact_id == keep)
        )
    assert moved == 1

    await service.undo(result.merge_id, user=manager)
    assert await snapshot(sessions) == before
