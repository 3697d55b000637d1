"""The whole-base duplicates scan on a real PostgreSQL: each reason, and no noise."""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.clients.dedupe import scan_company_duplicates, scan_contact_duplicates
from callcenter.clients.merge import MergeService
from callcenter.clients.service import ClientService
from callcenter.db import SessionFactory
from callcenter.users.service import UserService
from tests.clients.test_merge_support import make_company, make_users


def _pairs(page) -> dict[frozenset[int], list[str]]:  # type: ignore[no-untyped-def]
    return {frozenset((p.first_id, p.second_id)): p.reasons for p in page.pairs}


@pytest.fixture
async def base(sessions: SessionFactory) -> dict[str, int]:
    """A small base holding one duplicate pair per reason, and look-alikes that are not."""
    users = await make_users(sessions, ["manager", "manager2", "supervisor"])
    clients = ClientService(sessions)
    manager, other = users["manager"], users["manager2"]
    ids = {
        "inn_a": await make_company(clients, manager, "Альфа Плюс", inn="7707083893"),
        "inn_b": await make_company(clients, other, "АП Групп", inn="7707083893"),
        "phone_a": await make_company(
            clients, manager, "Вектор", phones=["+7 (916) 123-45-67"]
        ),
        "phone_b": await make_company(
            clients,
            manager,
            "ТД Север",
            contacts=[{"last_name": "Петров", "phones": ["8 916 1234567"]}],
        ),
        "mail_a": await make_company(
            clients, manager, "Орион", emails=["Sale@Orion.ru"]
        ),
        "mail_b": await make_company(
            clients, manager, "Прайм", emails=["sale@orion.ru"]
        ),
        "form_a": await make_company(clients, manager, 'ООО "Ромашка"'),
        "form_b": await make_company(clients, manager, "Ромашка, ООО"),
        "typo_a": await make_company(clients, manager, "Стройтехмонтаж"),
        "typo_b": await make_company(clients, manager, "Стройтехмантаж"),
        "other_a": await make_company(clients, manager, "Газпромнефть"),
        "other_b": await make_company(clients, manager, "Лесоторговая база"),
        # Same name, different INNs: two legal entities, not a duplicate.
        "twin_a": await make_company(clients, manager, "Меридиан", inn="7736050003"),
        "twin_b": await make_company(clients, manager, "Меридиан", inn="7728168971"),
    }
    ids["manager"], ids["supervisor"] = manager.id, users["supervisor"].id
    return ids


async def test_each_reason_pairs_and_different_names_do_not(
    sessions: SessionFactory, base: dict[str, int]
) -> None:
    async with sessions() as session:
        page = await scan_company_duplicates(session, limit=100)
    pairs = _pairs(page)

    assert pairs[frozenset((base["inn_a"], base["inn_b"]))] == ["inn"]
    assert pairs[frozenset((base["phone_a"], base["phone_b"]))] == ["phone"]
    assert pairs[frozenset((base["mail_a"], base["mail_b"]))] == ["email"]
    assert pairs[frozenset((base["form_a"], base["form_b"]))] == ["name"]
    assert pairs[frozenset((base["typo_a"], base["typo_b"]))] == ["name"]
    assert frozenset((base["twin_a"], base["twin_b"])) not in pairs
    others = {base["other_a"], base["other_b"]}
    assert not [p for p in pairs if p & others], pairs
    assert page.total == len(pairs) == 5

    scores = [p.score for p in page.pairs]
    assert scores == sorted(scores, reverse=True)
    assert page.pairs[0].reasons == ["inn"]
    assert all(0 < s <= 1 for s in scores)


async def test_paging_and_manager_scope(
    sessions: SessionFactory, base: dict[str, int]
) -> None:
    async with sessions() as session:
        first = await scan_company_duplicates(session, limit=2, offset=0)
        rest = await scan_company_duplicates(session, limit=2, offset=2)
        past = await scan_company_duplicates(session, limit=2, offset=10)
    assert first.total == rest.total == past.total == 5
    assert len(first.pairs) == 2 and len(rest.pairs) == 2 and past.pairs == []
    assert not {(p.first_id, p.second_id) for p in first.pairs} & {
        (p.first_id, p.second_id) for p in rest.pairs
    }

    service = UserService(sessions, session_max_age=dt.timedelta(hours=1))
    manager = await service.get_user(base["manager"])
    supervisor = await service.get_user(base["supervisor"])
    async with sessions() as session:
        own = _pairs(await scan_company_duplicates(session, user=manager, limit=100))
        whole = _pairs(await scan_company_duplicates(session, user=supervisor))
    # The INN twin belongs to manager2: the manager does not see that pair.
    assert frozenset((base["inn_a"], base["inn_b"])) not in own
    assert len(own) == 4
    assert frozenset((base["inn_a"], base["inn_b"])) in whole


async def test_contact_duplicates_within_a_company(sessions: SessionFactory) -> None:
    users = await make_users(sessions, ["manager"])
    clients = ClientService(sessions)
    people = [
        {"last_name": "Иванов", "first_name": "Пётр", "phones": ["+7 916 000-11-22"]},
        {"last_name": "Иванов", "first_name": "Петр"},
        {"last_name": "Сидорова", "first_name": "Анна", "emails": ["a@x.ru"]},
        {"last_name": "Кузнецов", "first_name": "Олег", "emails": ["A@x.ru"]},
        {"last_name": "Смирнов", "first_name": "Игорь", "phones": ["89160001122"]},
        {"last_name": "Захарова", "first_name": "Мария"},
    ]
    company = await make_company(clients, users["manager"], "Вега", contacts=people)
    # The same person in another company is not a pair: merges stay within one.
    await make_company(
        clients, users["manager"], "Альтаир", contacts=[people[0] | {"phones": []}]
    )

    async with sessions() as session:
        page = await scan_contact_duplicates(session)

    found = {(p.first_name, p.second_name): p.reasons for p in page.pairs}
    assert found == {
        ("Иванов Пётр", "Иванов Петр"): ["name"],
        ("Сидорова Анна", "Кузнецов Олег"): ["email"],
        ("Иванов Пётр", "Смирнов Игорь"): ["phone"],
    }
    assert {p.company_id for p in page.pairs} == {company}


async def test_switchboard_colleagues_pair_only_on_the_same_extension(
    sessions: SessionFactory,
) -> None:
    users = await make_users(sessions, ["manager"])
    clients = ClientService(sessions)
    board = "+7 (495) 123-45-67"
    people = [
        {"last_name": "Орлов", "first_name": "Антон", "phones": [f"{board} доб. 101"]},
        {"last_name": "Белова", "first_name": "Юлия", "phones": [f"{board} доб. 102"]},
        {"last_name": "Титов", "first_name": "Глеб", "phones": [f"{board} доб. 101"]},
        {"last_name": "Жукова", "first_name": "Вера", "phones": [f"{board} доб. 103"]},
    ]
    await make_company(clients, users["manager"], "Коммутатор", contacts=people)

    async with sessions() as session:
        page = await scan_contact_duplicates(session)

    found = {(p.first_name, p.second_name): p.reasons for p in page.pairs}
    assert found == {("Орлов Антон", "Титов Глеб"): ["phone"]}


async def test_the_duplicates_list_pages_one_scan_until_asked_or_merged(
    sessions: SessionFactory, base: dict[str, int]
) -> None:
    service = UserService(sessions, session_max_age=dt.timedelta(hours=1))
    supervisor = await service.get_user(base["supervisor"])
    manager = await service.get_user(base["manager"])
    merges = MergeService(sessions)

    first = await merges.duplicates("company", user=supervisor, limit=2)
    clients = ClientService(sessions)
    newcomer = await make_company(clients, manager, "Газпромнафть")
    kept = await merges.duplicates("company", user=supervisor, limit=50, offset=0)

    assert first.total == kept.total == 5 and len(first.pairs) == 2
    assert kept.scanned_at == first.scanned_at
    assert newcomer not in {p.second_id for p in kept.pairs}

    fresh = await merges.duplicates("company", user=supervisor, refresh=True)
    assert fresh.total == 6 and fresh.scanned_at > first.scanned_at
    assert frozenset((base["other_a"], newcomer)) in _pairs(fresh)

    await merges.merge("company", base["typo_a"], base["typo_b"], {}, user=manager)
    after = await merges.duplicates("company", user=supervisor)
    assert after.total == 5 and after.scanned_at == fresh.scanned_at
    assert frozenset((base["typo_a"], base["typo_b"])) not in _pairs(after)
