"""The ``callcenter`` command line against a real database."""

from __future__ import annotations

import io
import sys

import pytest

from callcenter.cli import main


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
