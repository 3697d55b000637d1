"""The client service on a real PostgreSQL: validation in Russian, the change log,
completeness, duplicate control and moving a person with their calls and history."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from callcenter.calls.models import Call, CallStatus, Direction
from callcenter.clients.errors import DuplicatesFound, InvalidClientInput
from callcenter.clients.models import Phone
from callcenter.clients.service import ClientService
from callcenter.db import SessionFactory, transaction
from callcenter.interactions.models import Interaction, InteractionKind
from callcenter.users.models import Role, User
from callcenter.users.service import UserView

SBERBANK_INN = "7707083893"
SBERBANK_OGRN = "1027700132195"
SBERBANK_KPP = "773601001"


async def add_user(sessions: SessionFactory, login: str, role: Role) -> UserView:
    # No password: these tests never log in, and Argon2 is slow.
    async with transaction(sessions) as session:
        user = User(login=login, full_name=login.title(), role=role, password_hash="-")
        session.add(user)
        await session.flush()
        return UserView(user.id, login, user.full_name, role, "ru", ())


@pytest.fixture
async def service(sessions: SessionFactory) -> ClientService:
    return ClientService(sessions)


@pytest.fixture
async def manager(sessions: SessionFactory) -> UserView:
    return await add_user(sessions, "anna", Role.MANAGER)


BAD_NUMBERS = [
    ("inn", "7707083894", "ИНН: неверная контрольная сумма"),
    ("inn", "500100732260", "ИНН: неверная контрольная сумма"),  # 12 digits
    ("inn", "77070838", "ИНН: нужно 10 или 12 цифр"),
    ("inn", "77070838AB", "ИНН: только цифры"),
    ("ogrn", "1027700132196", "ОГРН: неверная контрольная сумма"),
    ("ogrn", "10277001", "ОГРН: нужно 13 цифр (ОГРНИП — 15)"),
    ("kpp", "77360100", "КПП: 9 знаков, например 770101001"),
    ("kpp", "7736010X1", "КПП: 9 знаков, например 770101001"),
]


async def test_registry_numbers_are_checked_with_russian_reasons(
    service: ClientService, manager: UserView
) -> None:
    company_id = await service.create_company({"name": "ООО Ромашка"}, user=manager)

    for field, value, reason in BAD_NUMBERS:
        with pytest.raises(InvalidClientInput) as created:
            await service.create_company(
                {"name": "ООО Лютик", field: value}, user=manager
            )
        with pytest.raises(InvalidClientInput) as updated:
            await service.update_company(company_id, {field: value}, user=manager)

        assert (created.value.field, created.value.reason) == (field, reason), value
        assert (updated.value.field, updated.value.reason) == (field, reason), value
    assert (await service.list_companies(user=manager))[0]["inn"] is None


async def test_valid_details_are_kept_and_other_fields_are_checked(
    service: ClientService, manager: UserView
) -> None:
    company_id = await service.create_company(
        {
            "name": "ПАО Сбербанк",
            "inn": SBERBANK_INN,
            "kpp": SBERBANK_KPP.upper(),
            "ogrn": SBERBANK_OGRN,
            "phones": ["8 (495) 500-55-50"],
            "emails": ["Info@Sberbank.RU"],
        },
        user=manager,
    )
    card = await service.get_company(company_id, user=manager)

    assert (card["inn"], card["kpp"], card["ogrn"]) == (
        SBERBANK_INN,
        SBERBANK_KPP,
        SBERBANK_OGRN,
    )
    assert card["legal_form"] == "ПАО"
    assert card["phones"][0]["display"] == "+7 (495) 500-55-50"
    assert card["emails"] == ["info@sberbank.ru"]
    for bad, field, reason in (
        ({"emails": ["not-an-address"]}, "emails", "адрес эл. почты"),
        ({"phones": ["12"]}, "phones", "12: не номер телефона"),
        ({"name": "  "}, "name", "обязательное поле"),
        ({"name": "ООО"}, "name", "название без формы собственности пустое"),
        ({"responsible_id": "кто-то"}, "responsible_id", "выберите сотрудника"),
    ):
        with pytest.raises(InvalidClientInput) as caught:
            await service.update_company(company_id, bad, user=manager)
        assert caught.value.field == field
        assert reason in caught.value.reason
    with pytest.raises(InvalidClientInput) as caught:
        await service.add_contact(company_id, {"birthday": "31.02.1980"}, user=manager)
    assert caught.value.field == "last_name"
    with pytest.raises(InvalidClientInput) as caught:
        await service.add_contact(
            company_id, {"last_name": "Петров", "birthday": "31.02.1980"}, user=manager
        )
    assert (caught.value.field, caught.value.reason) == (
        "birthday",
        "дата вида 04.12.1980",
    )


async def test_create_update_and_move_are_in_the_change_log(
    service: ClientService, manager: UserView
) -> None:
    company_id = await service.create_company(
        {"name": "ООО Ромашка", "region": "Москва"}, user=manager
    )
    other_id = await service.create_company({"name": "АО Лютик"}, user=manager)
    contact_id = await service.add_contact(
        company_id, {"last_name": "Петров", "first_name": "Иван"}, user=manager
    )

    await service.update_company(
        company_id, {"region": "Казань", "industry": "Связь"}, user=manager
    )
    await service.move_contact(contact_id, other_id, user=manager)

    history = await service.history("company", company_id, user=manager)
    updates = {
        (h["field"], h["old"], h["new"]) for h in history if h["action"] == "update"
    }
    created = {h["field"]: h["new"] for h in history if h["action"] == "create"}
    assert updates == {("region", "Москва", "Казань"), ("industry", None, "Связь")}
    assert created["name"] == "ООО Ромашка"
    assert created["responsible_id"] == str(manager.id)
    assert {h["user"] for h in history} == {"Anna"}
    assert history[0]["action"] == "update", "newest first"

    moves = [
        h
        for h in await service.history("contact", contact_id, user=manager)
        if h["action"] == "move"
    ]
    assert [(m["field"], m["old"], m["new"]) for m in moves] == [
        ("company_id", str(company_id), str(other_id))
    ]


async def test_completeness_counts_the_required_fields(
    service: ClientService, manager: UserView
) -> None:
    company_id = await service.create_company({"name": "ООО Ромашка"}, user=manager)

    sparse = (await service.get_company(company_id, user=manager))["completeness"]
    await service.update_company(
        company_id,
        {
            "inn": SBERBANK_INN,
            "industry": "Связь",
            "region": "Москва",
            "phones": ["+7 495 123-45-67"],
        },
        user=manager,
        force=True,
    )
    full = (await service.get_company(company_id, user=manager))["completeness"]
    await service.set_required_fields("company", ["name", "kpp"])
    custom = (await service.get_company(company_id, user=manager))["completeness"]

    # Defaults: name, inn, phones, industry, region, responsible (2 of 6 filled).
    assert sparse["percent"] == 33
    assert [m["label"] for m in sparse["missing"]] == [
        "ИНН",
        "телефон",
        "отрасль",
        "регион",
    ]
    assert full == {"percent": 100, "missing": [], "invalid": []}
    assert custom["percent"] == 50
    assert custom["missing"] == [{"field": "kpp", "label": "КПП"}]


async def test_likely_duplicates_are_refused_without_force(
    service: ClientService, manager: UserView, sessions: SessionFactory
) -> None:
    other = await add_user(sessions, "boris", Role.MANAGER)
    first = await service.create_company(
        {
            "name": "ООО «Ромашка»",
            "inn": SBERBANK_INN,
            "phones": ["+7 (916) 123-45-67"],
            "emails": ["info@romashka.ru"],
        },
        user=manager,
    )

    for draft, reason in (
        ({"name": "Ромашка, ООО"}, "name"),
        ({"name": "АО Одуванчик", "inn": SBERBANK_INN}, "inn"),
        ({"name": "АО Одуванчик", "phones": ["8 916 123 45 67"]}, "phone"),
        ({"name": "АО Одуванчик", "emails": ["INFO@romashka.ru"]}, "email"),
    ):
        with pytest.raises(DuplicatesFound) as caught:
            # Another manager, who cannot see the first client, is warned too.
            await service.create_company(draft, user=other)
        assert [c["company_id"] for c in caught.value.candidates] == [first]
        assert caught.value.candidates[0]["reasons"] == [reason]

    forced = await service.create_company({"name": "Ромашка"}, user=other, force=True)
    assert forced != first
    assert await service.visible_company_ids([first, forced], user=other) == {forced}
    with pytest.raises(DuplicatesFound):
        await service.update_company(forced, {"inn": SBERBANK_INN}, user=other)


async def test_moving_a_contact_takes_their_calls_and_history_along(
    service: ClientService, manager: UserView, sessions: SessionFactory
) -> None:
    old_id = await service.create_company({"name": "ООО Ромашка"}, user=manager)
    new_id = await service.create_company({"name": "АО Лютик"}, user=manager)
    contact_id = await service.add_contact(
        old_id,
        {"last_name": "Петров", "phones": ["+7 916 765-43-21"]},
        user=manager,
    )
    call_id = uuid.uuid4()
    async with transaction(sessions) as session:
        session.add(
            Call(
                id=call_id,
                direction=Direction.INBOUND,
                status=CallStatus.ENDED,
                client_number="79167654321",
                company_id=old_id,
                contact_id=contact_id,
                manager_id=manager.id,
                started_at=dt.datetime.now(dt.UTC),
            )
        )
        await session.flush()
        session.add(
            Interaction(
                kind=InteractionKind.CALL,
                company_id=old_id,
                contact_id=contact_id,
                call_id=call_id,
                occurred_at=dt.datetime.now(dt.UTC),
                summary="Входящий звонок, 1:00",
            )
        )

    await service.move_contact(contact_id, new_id, user=manager)

    async with sessions() as session:
        call = await session.get(Call, call_id)
        interaction = await session.scalar(
            select(Interaction).where(Interaction.call_id == call_id)
        )
        phone = await session.scalar(
            select(Phone).where(Phone.contact_id == contact_id)
        )
    assert call is not None and call.company_id == new_id
    assert interaction is not None and interaction.company_id == new_id
    assert phone is not None and phone.company_id == new_id
    old_card = await service.get_company(old_id, user=manager)
    new_card = await service.get_company(new_id, user=manager)
    assert old_card["contacts"] == [] and old_card["interactions"] == []
    assert [c["id"] for c in new_card["contacts"]] == [contact_id]
    assert [i["call_id"] for i in new_card["interactions"]] == [str(call_id)]
    contact = await service.get_contact(contact_id, user=manager)
    assert (contact["company_id"], contact["company_name"]) == (new_id, "АО Лютик")
    moved = next(
        h
        for h in await service.history("contact", contact_id, user=manager)
        if h["action"] == "move"
    )
    assert (moved["old_title"], moved["new_title"]) == ("ООО Ромашка", "АО Лютик")


async def test_the_company_history_tells_what_happened_to_its_people_and_equipment(
    service: ClientService, manager: UserView
) -> None:
    company_id = await service.create_company(
        {"name": "Вектор", "contacts": [{"last_name": "Орлов", "first_name": "Антон"}]},
        user=manager,
        force=True,
    )
    (contact,) = (await service.get_company(company_id, user=manager))["contacts"]
    await service.update_contact(contact["id"], {"position": "Директор"}, user=manager)
    await service.add_equipment(
        company_id, {"vendor": "Yealink", "model": "T46U", "quantity": 3}, user=manager
    )

    history = await service.history("company", company_id, user=manager)

    position = next(h for h in history if h["field"] == "position")
    assert (position["action"], position["new"]) == ("update", "Директор")
    assert position["subject"] == {
        "kind": "contact",
        "name": "Орлов Антон",
        "url": f"/contacts/{contact['id']}",
    }
    quantity = next(h for h in history if h["field"] == "quantity")
    assert quantity["subject"] == {"kind": "equipment", "name": "Yealink T46U"}
    assert quantity["new"] == "3"
    # No serial numbers: nothing to log, not "[]".
    assert not [h for h in history if h["field"] == "serial_numbers"]
    name = next(h for h in history if h["field"] == "name")
    assert name["subject"] is None and name["new"] == "Вектор"
