"""The search box on a real PostgreSQL: typos, identifiers in any format, ranking,
and the visibility rules (a manager never finds another manager's clients)."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.clients.search import (
    EXACT_ID,
    EXACT_NAME,
    FUZZY,
    NAME_PREFIX,
    ClientSearch,
    read_query,
)
from callcenter.clients.service import ClientService
from callcenter.db import SessionFactory, transaction
from callcenter.users.models import Role, User
from callcenter.users.service import UserView

ROMASHKA_INN = "7707083893"
OTHER_INN = "7736207543"


def view(user_id: int, role: Role = Role.MANAGER) -> UserView:
    return UserView(
        id=user_id,
        login=f"u{user_id}",
        full_name=f"User {user_id}",
        role=role,
        language="ru",
        extensions=(),
    )


async def add_users(sessions: SessionFactory) -> tuple[UserView, UserView, UserView]:
    async with transaction(sessions) as session:
        rows = [
            User(login=login, full_name=login, role=role, password_hash="-")
            for login, role in (
                ("anna", Role.MANAGER),
                ("boris", Role.MANAGER),
                ("head", Role.HEAD),
            )
        ]
        session.add_all(rows)
        await session.flush()
        ids = [u.id for u in rows]
    return view(ids[0]), view(ids[1]), view(ids[2], Role.HEAD)


async def seed(sessions: SessionFactory) -> dict[str, Any]:
    anna, boris, head = await add_users(sessions)
    clients = ClientService(sessions)
    romashka = await clients.create_company(
        {
            "name": 'ООО "Ромашка"',
            "inn": ROMASHKA_INN,
            "phones": ["+7 (495) 123-45-67"],
            "emails": ["info@romashka.ru"],
            "region": "Москва",
            "contacts": [
                {
                    "last_name": "Петров",
                    "first_name": "Иван",
                    "middle_name": "Сергеевич",
                    "phones": ["8 916 555-44-33"],
                    "emails": ["petrov@romashka.ru"],
                }
            ],
        },
        user=anna,
        force=True,
    )
    await clients.add_equipment(
        romashka,
        {"kind": "МФУ", "vendor": "Xerox", "model": "WorkCentre 3025"},
        user=anna,
    )
    # Its name resembles Romashka and its number starts like Romashka's: ranking.
    lookalike = await clients.create_company(
        {
            "name": "Ромашка-Сервис",
            "inn": OTHER_INN,
            "phones": ["+7 495 123-45-00"],
        },
        user=anna,
        force=True,
    )
    hidden = await clients.create_company(
        {
            "name": "АО Василёк",
            "phones": ["+7 812 765-43-21"],
            "emails": ["office@vasilek.ru"],
            "contacts": [{"last_name": "Сидорова", "first_name": "Мария"}],
        },
        user=boris,
        force=True,
    )
    await clients.add_equipment(
        hidden,
        {"kind": "Плоттер", "vendor": "HP", "model": "DesignJet T650"},
        user=boris,
    )
    return {
        "anna": anna,
        "boris": boris,
        "head": head,
        "romashka": romashka,
        "lookalike": lookalike,
        "hidden": hidden,
        "search": ClientSearch(sessions),
    }


@pytest.fixture
async def base(sessions: SessionFactory) -> dict[str, Any]:
    return await seed(sessions)


def ids(hits: list[Any]) -> list[int]:
    return [h.id for h in hits]


def test_a_query_is_read_every_way_it_can_mean() -> None:
    assert read_query("8 (916) 555-44-33").phone == "79165554433"
    assert read_query("8 916 55").phone_prefix == "791655"
    assert read_query(ROMASHKA_INN).digits == ROMASHKA_INN
    assert read_query(" Info@Romashka.RU ").email == "info@romashka.ru"
    assert read_query('ООО "Ромашка"').key == "ромашка"
    assert read_query("Ромашка").phone is None


async def test_names_are_found_with_typos_and_as_you_type(
    base: dict[str, Any],
) -> None:
    search, anna = base["search"], base["anna"]

    found = await search.search("Ромошка", anna)
    assert found.companies[0].id == base["romashka"]
    assert found.companies[0].match == "name"
    assert base["lookalike"] in ids(found.companies)

    assert base["romashka"] in ids((await search.search("ром", anna)).companies)

    found = await search.search("Петроф Иван", anna)
    assert [h.fields["name"] for h in found.contacts] == ["Петров Иван Сергеевич"]
    assert found.contacts[0].fields["company_id"] == base["romashka"]
    assert found.contacts[0].phones[0]["e164"] == "79165554433"


async def test_names_are_found_by_the_start_of_any_word_before_typos(
    base: dict[str, Any],
) -> None:
    search, anna = base["search"], base["anna"]

    # "серв" starts the second word of «Ромашка-Сервис»; 4 letters are too few for
    # typos, so nothing else comes.
    found = await search.search("серв", anna)
    assert [(h.id, h.rank) for h in found.companies] == [
        (base["lookalike"], NAME_PREFIX)
    ]

    # Every typed word is a prefix, in any order.
    found = await search.search("ив петр", anna)
    assert [h.fields["name"] for h in found.contacts] == ["Петров Иван Сергеевич"]
    assert found.contacts[0].rank == NAME_PREFIX

    # A word with a typo is found by similarity, ranked below the prefixes.
    found = await search.search("Ромашко", anna)
    assert found.companies[0].id == base["romashka"]
    assert found.companies[0].rank == FUZZY

    # Search syntax in the text is only text.
    for text in ("ром:* | !a", "'ром'", "ром & (", "\\ром"):
        found = await search.search(text, anna)
        assert not found.partial, text
        assert base["romashka"] in ids(found.companies), text


async def test_a_phone_in_any_format_finds_its_owner_first(
    base: dict[str, Any],
) -> None:
    search, anna = base["search"], base["anna"]

    for typed in (
        "84951234567",
        "+7 (495) 123-45-67",
        "495 123 45 67",
        "7-495-1234567",
    ):
        found = await search.search(typed, anna)
        top = found.companies[0]
        assert (top.id, top.match, top.rank) == (base["romashka"], "phone", 0), typed
        assert top.phones[0]["e164"] == "74951234567"  # the matched number first

    # A contact person's number finds the person and their company.
    found = await search.search("+79165554433", anna)
    assert found.contacts[0].match == "phone"
    assert found.companies[0].id == base["romashka"]

    # While typing, numbers that start alike come as prefixes (rank 1); the whole
    # number leaves only its owner.
    partial = await search.search("8 495 123 45", anna)
    assert set(ids(partial.companies)) == {base["romashka"], base["lookalike"]}
    assert {h.rank for h in partial.companies} == {1}
    exact = await search.search("8 495 123 45 67", anna)
    assert ids(exact.companies) == [base["romashka"]]


async def test_inn_and_e_mail_are_exact_and_outrank_similar_names(
    base: dict[str, Any],
) -> None:
    search, anna = base["search"], base["anna"]

    found = await search.search(ROMASHKA_INN, anna)
    assert ids(found.companies) == [base["romashka"]]
    assert (found.companies[0].match, found.companies[0].rank) == ("inn", 0)
    found = await search.search(ROMASHKA_INN[:7], anna)
    assert {h.id: h.rank for h in found.companies} == {base["romashka"]: 1}

    # "Ромашка-Сервис" resembles the text too, but Romashka's e-mail is exact.
    found = await search.search("info@romashka.ru", anna)
    assert (found.companies[0].id, found.companies[0].match) == (
        base["romashka"],
        "email",
    )
    found = await search.search("PETROV@romashka.ru", anna)
    assert [h.match for h in found.contacts] == ["email"]


async def test_equipment_model_with_a_typo(base: dict[str, Any]) -> None:
    found = await base["search"].search("workcenter 3025", base["anna"])

    assert [h.fields["company_id"] for h in found.equipment] == [base["romashka"]]
    assert found.equipment[0].fields["model"] == "WorkCentre 3025"
    assert found.equipment[0].phones  # the company's numbers, to call


async def test_a_manager_never_finds_another_managers_client(
    base: dict[str, Any],
) -> None:
    search, anna = base["search"], base["anna"]

    for typed in ("Василёк", "Василек", "+7 812 765-43-21", "office@vasilek.ru"):
        found = await search.search(typed, anna)
        assert base["hidden"] not in ids(found.companies), typed
    assert (await search.search("Сидорова", anna)).contacts == []
    assert (await search.search("DesignJet T650", anna)).equipment == []

    # Their own manager and the head find it.
    for viewer in (base["boris"], base["head"]):
        found = await search.search("Василек", viewer)
        assert ids(found.companies) == [base["hidden"]]


async def test_nothing_to_search_for_answers_empty(base: dict[str, Any]) -> None:
    for typed in ("", "   ", "р", "%", "_"):
        found = await base["search"].search(typed, base["anna"])
        assert found.total == 0, typed


async def test_a_private_client_is_found_with_a_link_to_their_page(
    sessions: SessionFactory, base: dict[str, Any]
) -> None:
    clients = ClientService(sessions)
    person = await clients.add_contact(
        None,
        {"last_name": "Лосев", "first_name": "Ян", "phones": ["+7 903 111-22-33"]},
        user=base["anna"],
    )

    by_name = await base["search"].search("Лосев", base["anna"])
    by_phone = await base["search"].search("89031112233", base["anna"])

    assert [(h.id, h.fields["url"]) for h in by_name.contacts] == [
        (person, f"/contacts/{person}")
    ]
    assert [h.id for h in by_phone.contacts] == [person]
    # Another manager does not find someone else's private client.
    assert (await base["search"].search("Лосев", base["boris"])).contacts == []


async def test_equipment_is_found_by_vendor_vendor_and_model_and_serial_number(
    sessions: SessionFactory, base: dict[str, Any]
) -> None:
    clients = ClientService(sessions)
    await clients.add_equipment(
        base["romashka"],
        {
            "vendor": "Grundfos",
            "model": "CR 10-4",
            "serial_numbers": ["AII123457", "AII123458"],
        },
        user=base["anna"],
    )
    search, anna = base["search"], base["anna"]

    by_vendor = await search.search("Grundfos", anna)
    by_both = await search.search("xerox workcentre 3025", anna)
    by_serial = await search.search("aii123458", anna)

    assert [h.fields["model"] for h in by_vendor.equipment] == ["CR 10-4"]
    assert [h.fields["model"] for h in by_both.equipment][:1] == ["WorkCentre 3025"]
    assert by_both.equipment[0].rank == EXACT_NAME
    assert [(h.fields["model"], h.match, h.rank) for h in by_serial.equipment] == [
        ("CR 10-4", "serial", EXACT_ID)
    ]
    # Boris's plotter is not Anna's to find, by any of its names.
    assert (await search.search("DesignJet", anna)).equipment == []
