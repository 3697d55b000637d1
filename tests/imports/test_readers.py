"""Reading files of every format into a sheet, and mapping rows; no database."""

from __future__ import annotations

import pytest

from callcenter.imports.errors import InvalidMapping, UnreadableFile
from callcenter.imports.fields import suggest_mapping
from callcenter.imports.readers import MAX_CELL, decode_text, read_file
from callcenter.imports.rows import ImportRow, Rejected, map_row
from callcenter.imports.service import ImportService
from tests.imports.conftest import INN_A, INN_ZERO, csv_bytes, read, xlsx_bytes

HEADER = "Компания;ИНН;ФИО;Должность;Телефон;E-mail"


def prepare(sheet_bytes: bytes, name: str, format: str = "auto") -> tuple:
    sheet = read_file(sheet_bytes, name, format)
    service = ImportService(None, None)  # type: ignore[arg-type]
    return sheet, *service.prepare(sheet, sheet.suggested_mapping())


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8", ";"), ("utf-8-sig", ","), ("cp1251", ";"), ("cp1251", ",")],
)
def test_csv_in_either_encoding_and_delimiter(encoding: str, delimiter: str) -> None:
    row = f'"ООО «Ёлка, и партнёры»";{INN_A};Иванов Иван;Директор;+7 916 123-45-67;'
    data = csv_bytes([HEADER, row], encoding=encoding, delimiter=delimiter)

    sheet = read_file(data, "clients.csv")

    assert sheet.format == "csv"
    assert sheet.headers[0] == "Компания"
    assert sheet.rows[0].cells[0] == "ООО «Ёлка, и партнёры»"
    assert sheet.rows[0].line == 2


def test_outlook_exports_in_english_and_in_russian_are_recognised() -> None:
    english = read_file(read("outlook_en.csv"), "contacts.csv")
    russian = read_file(read("outlook_ru.csv"), "contacts.csv")

    assert english.format == russian.format == "outlook"
    assert english.suggested_mapping()["E-mail Address"] == "email"
    assert english.suggested_mapping()["Job Title"] == "position"
    assert "Title" not in english.suggested_mapping()  # "Mr." is not a job
    assert russian.suggested_mapping() == {
        "Имя": "first_name",
        "Отчество": "middle_name",
        "Фамилия": "last_name",
        "Организация": "company_name",
        "Должность": "position",
        "Рабочий телефон": "phone",
        "Мобильный телефон": "mobile",
        "Адрес эл. почты": "email",
    }
    assert russian.rows[1].cells[1] == "Пётр"  # Windows-1251 decoded


def test_one_c_counterparties_without_people_give_the_company_its_phone() -> None:
    mapping = suggest_mapping(
        [
            "Наименование",
            "Полное наименование",
            "ИНН",
            "КПП",
            "Телефон",
            "Адрес",
            "E-mail",
        ]
    )

    assert mapping == {
        "Наименование": "company_name",
        "Полное наименование": "legal_name",
        "ИНН": "inn",
        "КПП": "kpp",
        "Телефон": "company_phone",
        "Адрес": "address",
        "E-mail": "company_email",
    }


def test_excel_header_is_found_below_a_title_and_numbers_keep_their_zeros() -> None:
    data = xlsx_bytes(
        [
            ["Наименование", "ИНН", "Телефон", "Дата"],
            [
                "Альфа",
                int(INN_ZERO),
                79161234567,
                __import__("datetime").date(2026, 12, 4),
            ],
        ],
        title="Контрагенты на 04.12.2026",
    )

    sheet, groups, rejected, total = prepare(data, "1c.xlsx")

    assert sheet.format == "1c-xlsx" or sheet.format == "xlsx"
    assert sheet.headers == ["Наименование", "ИНН", "Телефон", "Дата"]
    assert sheet.rows[0].line == 4
    assert sheet.rows[0].cells[3] == "04.12.2026"
    assert rejected == [] and total == 1
    assert groups[0].rows[0].company["inn"] == INN_ZERO


def test_one_c_excel_export_is_told_from_a_plain_sheet() -> None:
    data = xlsx_bytes(
        [["Наименование", "Полное наименование", "ИНН", "КПП"], ["А", "", "", ""]]
    )

    assert read_file(data, "export.xlsx").format == "1c-xlsx"


def test_vcards_several_per_file_and_a_broken_one_is_a_rejected_row() -> None:
    sheet, groups, rejected, total = prepare(read("contacts.vcf"), "all.vcf")

    assert sheet.format == "vcf"
    assert [r.line for r in sheet.rows] == [1, 11, 19]
    assert len(groups) == 1 and len(groups[0].rows) == 2  # both work at «Гранит»
    orlov = groups[0].rows[0].person
    assert orlov is not None
    assert (orlov.last_name, orlov.first_name, orlov.middle_name) == (
        "Орлов",
        "Дмитрий",
        "Сергеевич",
    )
    assert [p.e164 for p in orlov.phones] == ["73432223344", "79120001122"]
    assert [(r.line, r.reason) for r in rejected] == [
        (19, "телефон «не знаю» не распознан")
    ]
    assert total == 3


def test_commerceml_counterparties_with_representatives() -> None:
    sheet, groups, rejected, _ = prepare(read("counterparties.xml"), "1c.xml")

    assert sheet.format == "commerceml"
    tehsnab = next(g for g in groups if g.key == "inn:7810001238")
    assert [r.person.display for r in tehsnab.rows if r.person] == [
        "Никитин Алексей Юрьевич",
        "Фролова Елена",
    ]
    first = tehsnab.rows[0]
    assert first.company["kpp"] == "781001001"
    assert first.company["address"].startswith("190000, Санкт-Петербург")
    assert [p.e164 for p in first.company_phones] == ["78126007080"]  # not the fax
    assert first.company_emails == ["info@tehsnab.ru"]
    assert first.person is not None and first.person.position == "Коммерческий директор"
    assert [(r.line, r.reason) for r in rejected] == [(2, "ИНН: нужно 10 или 12 цифр")]


def test_xml_with_entities_is_refused() -> None:
    with pytest.raises(UnreadableFile, match="запрещённые"):
        read_file(read("bomb.xml"), "bomb.xml")


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"", "empty.csv", "пуст"),
        (b" \r\n \r\n", "blank.csv", "пуст"),
        (b"\x00\x01\x02\x03binary\x00\x00", "data.csv", "не похож на текст"),
        (b"PK\x03\x04 not really a zip", "broken.xlsx", "Excel"),
        (b"<?xml version='1.0'?><a><b></a>", "broken.xml", "XML повреждён"),
        (b"BEGIN:VCARDS", "x.txt", "нет карточек vCard"),
        (b"Company;INN\r\n", "header-only.csv", "нет строк"),
        (b"anything", "old.xls", ".xls"),
    ],
)
def test_unreadable_files_say_why(data: bytes, name: str, reason: str) -> None:
    with pytest.raises(UnreadableFile, match=reason):
        read_file(data, name)


def test_text_in_an_unexpected_encoding_is_not_garbled_into_rows() -> None:
    # KOI8-R read as Windows-1251 gives letters, not control characters: the user
    # sees odd headers in the mapping table and maps nothing, so nothing is imported.
    data = "Компания;ИНН\r\nРомашка;1\r\n".encode("koi8-r")

    sheet = read_file(data, "koi.csv")

    assert sheet.suggested_mapping() == {}
    with pytest.raises(InvalidMapping, match="названием компании или с ФИО"):
        ImportService(None, None).prepare(sheet, {})  # type: ignore[arg-type]


def test_utf16_outlook_export_is_read() -> None:
    text = "First Name\tLast Name\tE-mail Address\r\nИван\tПетров\tp@x.ru\r\n"

    sheet = read_file(b"\xff\xfe" + text.encode("utf-16-le"), "outlook.csv")

    assert sheet.format == "outlook"
    assert sheet.rows[0].cells == ["Иван", "Петров", "p@x.ru"]
    assert decode_text("привет".encode("cp1251")) == "привет"


def test_a_mapping_naming_missing_columns_is_refused() -> None:
    sheet = read_file(csv_bytes([HEADER, "Альфа;;;;;"]), "a.csv")

    with pytest.raises(InvalidMapping, match="нет колонки «Город»"):
        ImportService(None, None).prepare(
            sheet, {"Город": "region", "Компания": "company_name"}
        )  # type: ignore[arg-type]


def test_huge_cells_reject_their_row_only() -> None:
    huge = "Я" * 5000
    data = csv_bytes([HEADER, f"{huge};;;;;", f"Бета;{INN_A};;;;"])

    _, groups, rejected, _ = prepare(data, "a.csv")

    assert [(r.line, r.reason) for r in rejected] == [
        (2, "название компании: не длиннее 300 знаков (в ячейке 5000)")
    ]
    assert [g.name for g in groups] == ["Бета"]


def test_a_cell_beyond_the_limit_rejects_its_row_and_the_rest_goes_in() -> None:
    huge = "1" * (MAX_CELL + 10)
    data = csv_bytes([HEADER, "Альфа;;;;;", f"Бета;{huge};;;;", "Гамма;;;;;"])

    _, groups, rejected, _ = prepare(data, "a.csv")

    assert [(r.line, r.reason) for r in rejected] == [
        (3, "ячейка длиной 131 082 знаков: не больше 131 072")
    ]
    assert [g.name for g in groups] == ["Альфа", "Гамма"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("+7 (916) 123-45-67", [("79161234567", None)]),
        ("8 916 123 45 67", [("79161234567", None)]),
        ("9161234567", [("79161234567", None)]),
        ("8 (495) 111-22-33 доб. 12", [("74951112233", "12")]),
        (
            "+7 495 111-22-33, доб. 12; 8-916-123-45-67",
            [("74951112233", "12"), ("79161234567", None)],
        ),
        ("+375 29 123-45-67", [("375291234567", None)]),
    ],
)
def test_mixed_phone_formats(cell: str, expected: list[tuple[str, str | None]]) -> None:
    from callcenter.imports.readers import Row

    mapped = map_row(
        Row(7, ["Альфа", cell]),
        ["Компания", "Телефон"],
        {"Компания": "company_name", "Телефон": "company_phone"},
        "RU",
    )

    assert isinstance(mapped, ImportRow)
    assert [(p.e164, p.extension) for p in mapped.company_phones] == expected


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        (["Альфа", "7707083890", "", ""], "ИНН: неверная контрольная сумма"),
        (["Альфа", "", "12-34", ""], "телефон «12-34» не распознан"),
        (["Альфа", "", "", "ivanov@"], "эл. почта «ivanov@» с ошибкой"),
        (["", INN_A, "", ""], "есть ИНН, но нет названия компании"),
        (["", "", "+7 916 123-45-67", ""], "нет ни названия компании, ни ФИО контакта"),
    ],
)
def test_bad_values_reject_the_row_with_a_reason(cells: list[str], reason: str) -> None:
    from callcenter.imports.readers import Row

    headers = ["Компания", "ИНН", "Телефон", "E-mail"]
    mapping = {
        "Компания": "company_name",
        "ИНН": "inn",
        "Телефон": "company_phone",
        "E-mail": "company_email",
    }

    mapped = map_row(Row(5, cells), headers, mapping, "RU")

    assert isinstance(mapped, Rejected)
    assert (mapped.line, mapped.reason) == (5, reason)
