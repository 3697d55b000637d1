"""The ``callcenter`` command line against a real database."""

from __future__ import annotations

import datetime as dt
import io
import sys

import pytest
from sqlalchemy import select

from callcenter.cli import DEMO_CLIENTS, _seed_demo, main
from callcenter.clients.models import Company
from callcenter.clients.search import ClientSearch
from callcenter.clients.service import ClientService
from callcenter.db import SessionFactory
from callcenter.users.service import UserService


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    return database_url


def run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *argv: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_users_add_list_and_token(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        monkeypatch,
        capsys,
        "users",
        "add",
        "anna",
        "--name",
        "Анна Смирнова",
        "--role",
        "manager",
        "--extension",
        "101",
        "--password-stdin",
        stdin="long-enough-pw\n",
    )
    assert code == 0 and "anna" in out

    code, out, _ = run(monkeypatch, capsys, "users", "list")
    assert code == 0
    assert "anna\tmanager\t101\tАнна Смирнова" in out

    code, out, _ = run(monkeypatch, capsys, "users", "token", "anna", "--name", "1C")
    assert code == 0
    assert out.strip().startswith("cct_") and len(out.strip()) > 40


def test_users_add_refuses_a_taken_extension(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = (
        "users",
        "add",
        "--role",
        "manager",
        "--extension",
        "101",
        "--password-stdin",
    )
    assert (
        run(
            monkeypatch,
            capsys,
            *args[:2],
            "anna",
            "--name",
            "A",
            *args[2:],
            stdin="long-enough-pw\n",
        )[0]
        == 0
    )

    code, _, err = run(
        monkeypatch,
        capsys,
        *args[:2],
        "boris",
        "--name",
        "B",
        *args[2:],
        stdin="long-enough-pw\n",
    )

    assert code == 2
    assert "extension 101" in err


def test_short_password_is_refused(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        monkeypatch,
        capsys,
        "users",
        "add",
        "anna",
        "--name",
        "A",
        "--password-stdin",
        stdin="short\n",
    )

    assert code == 2
    assert "password" in err


def test_migrate_is_idempotent(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, capsys, "migrate")[0] == 0
    code, out, _ = run(monkeypatch, capsys, "migrate")

    assert code == 0
    assert "up to date" in out


async def test_demo_data_is_searchable_teamed_and_added_once(
    database_url: str, sessions: SessionFactory
) -> None:
    await _seed_demo(database_url)
    await _seed_demo(database_url)  # a second start adds nothing

    users = UserService(sessions, session_max_age=dt.timedelta(hours=1))
    supervisor = await users.find_user_by_login("supervisor")
    manager2 = await users.find_user_by_login("manager2")
    assert supervisor is not None and manager2 is not None
    search = ClientSearch(sessions)
    found = await search.search("Рамашка", supervisor)  # a typo; manager's client
    assert [h.fields["name"] for h in found.companies][:1] == ["ООО «Ромашка»"]
    assert (await search.search("Ромашка", manager2)).companies == []
    async with sessions() as session:
        names = (await session.scalars(select(Company.name))).all()
        invalid = await ClientService(sessions).company_completeness(
            session,
            await session.scalar(
                select(Company).where(Company.name == "ООО «Ромашка»")
            ),
        )
    assert sorted(names) == sorted(c[0] for c in DEMO_CLIENTS)
    assert invalid["invalid"] == []


def test_users_team_puts_a_manager_under_a_supervisor(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for login, role in (("anna", "manager"), ("olga", "supervisor")):
        code, _, _ = run(
            monkeypatch,
            capsys,
            *("users", "add", login, "--name", login, "--role", role),
            "--password-stdin",
            stdin="long-enough-pw\n",
        )
        assert code == 0

    assert run(monkeypatch, capsys, "users", "team", "anna", "olga")[:2] == (
        0,
        "Team changed.\n",
    )
    code, _, err = run(monkeypatch, capsys, "users", "team", "olga", "anna")
    assert code == 2 and "supervisor" in err
    assert run(monkeypatch, capsys, "users", "team", "anna", "-")[0] == 0
