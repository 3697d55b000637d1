"""``callcenter import`` against a real database: progress, report, summary."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from callcenter.cli import main
from tests.imports.conftest import FILES, INN_A, csv_bytes


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


def test_import_from_the_command_line(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    path = tmp_path / "clients.csv"
    path.write_bytes(
        csv_bytes(
            [
                "Компания;ИНН;ФИО;Телефон",
                f"ООО «Ромашка»;{INN_A};Иванов Иван;+7 916 123-45-67",
                f"ООО «Ромашка»;{INN_A};Петров Пётр;8 916 123-45-68",
                "Бета;123;;",
            ]
        )
    )
    code, _, err = run(monkeypatch, capsys, "import", str(path), "--dry-run")
    assert code == 2 and "no admin user" in err
    run(
        monkeypatch,
        capsys,
        "users",
        "add",
        "boss",
        "--name",
        "Начальник",
        "--role",
        "admin",
        "--password-stdin",
        stdin="long-enough-pw\n",
    )

    code, out, err = run(monkeypatch, capsys, "import", str(path), "--dry-run")

    assert code == 1  # a row was rejected
    assert "csv, строк: 3; проверка" in err and "3/3 строк" in err
    assert "строка 4: отклонено: Бета: ИНН: нужно 10 или 12 цифр" in out
    assert "создано: 2" in out and "отклонено: 1" in out

    code, out, _ = run(monkeypatch, capsys, "import", str(path), "--user", "boss")
    assert "создано: 2" in out
    code, out, _ = run(monkeypatch, capsys, "import", str(path), "--user", "boss")
    assert "создано: 0" in out and "пропущено (уже есть): 2" in out

    code, out, err = run(
        monkeypatch,
        capsys,
        "import",
        str(FILES / "contacts.vcf"),
        "--format",
        "vcf",
        "--preset",
        "нет такого",
    )
    assert code == 2 and "нет такого шаблона" in err
    code, _, err = run(monkeypatch, capsys, "import", str(tmp_path / "missing.csv"))
    assert code == 2 and "error:" in err
