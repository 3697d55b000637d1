"""One file row, mapped and checked: a company part, a person part, or a reason why not.

The checks are the client base's own (``callcenter.clients.validation``,
``callcenter.phones``), applied here so a bad row is reported with its line number
before anything is written, and so one bad value rejects its row and nothing else.
Rows are then grouped into companies: by INN, else by the name's ``name_key``; rows
without a company are private clients, grouped by the person's name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.clients.errors import InvalidClientInput
from callcenter.clients.models import EquipmentStatus
from callcenter.clients.service import (
    COMPANY_TEXT_FIELDS,
    CONTACT_TEXT_FIELDS,
    check_equipment,
    parse_date,
)
from callcenter.clients.validation import (
    FieldProblem,
    check_email,
    check_inn,
    check_kpp,
    check_ogrn,
    name_key,
    person_key,
)
from callcenter.imports.fields import EQUIPMENT_FIELDS, FIELDS
from callcenter.imports.readers import Row
from callcenter.phones import InvalidPhoneNumber, format_phone, parse_phone

_LABELS = {
    "legal_name": "полное наименование",
    "address": "адрес",
    "region": "регион",
    "industry": "отрасль",
    "source": "источник",
    "notes": "примечание",
    "last_name": "фамилия",
    "first_name": "имя",
    "middle_name": "отчество",
    "position": "должность",
}
# "8 (916) 123-45-67, доб. 12; +7 495 111-22-33": numbers are split on ; , / and line
# breaks, but a piece that is only an extension belongs to the number before it.
_SPLIT_RE = re.compile(r"[;,/\n]+")
_EXTENSION_ONLY_RE = re.compile(r"^\s*(доб|ext|вн|#|x)", re.IGNORECASE)
_EMAIL_SPLIT_RE = re.compile(r"[;,\s]+")
# How a list says whether the client has the equipment or only plans to buy it.
_EQUIPMENT_STATUSES = {
    "установлено": EquipmentStatus.INSTALLED,
    "установлен": EquipmentStatus.INSTALLED,
    "есть": EquipmentStatus.INSTALLED,
    "да": EquipmentStatus.INSTALLED,
    "installed": EquipmentStatus.INSTALLED,
    "планируется": EquipmentStatus.PLANNED,
    "план": EquipmentStatus.PLANNED,
    "планируют": EquipmentStatus.PLANNED,
    "потребность": EquipmentStatus.PLANNED,
    "нет": EquipmentStatus.PLANNED,
    "planned": EquipmentStatus.PLANNED,
}
_EQUIPMENT_LABELS = {
    "kind": "вид",
    "vendor": "производитель",
    "model": "модель",
    "quantity": "количество",
    "status": "статус",
    "installed_on": "дата установки",
    "notes": "примечание",
}


class RowRejected(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Phone:
    e164: str
    extension: str | None
    raw: str
    kind: str = "work"  # work, mobile, other (callcenter.phones)

    @property
    def display(self) -> str:
        return format_phone(self.e164)


@dataclass(slots=True)
class Person:
    last_name: str = ""
    first_name: str = ""
    middle_name: str = ""
    position: str = ""
    birthday: str = ""
    notes: str = ""
    phones: list[Phone] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return person_key(self.last_name, self.first_name, self.middle_name)

    @property
    def display(self) -> str:
        return " ".join(
            p for p in (self.last_name, self.first_name, self.middle_name) if p
        )


@dataclass(slots=True)
class ImportRow:
    line: int
    company_name: str = ""
    company: dict[str, str] = field(default_factory=dict)
    company_phones: list[Phone] = field(default_factory=list)
    company_emails: list[str] = field(default_factory=list)
    person: Person | None = None
    # One equipment item in the data shape of ClientService, checked.
    equipment: dict[str, Any] | None = None

    @property
    def group_key(self) -> str:
        if self.company.get("inn"):
            return f"inn:{self.company['inn']}"
        if self.company_name:
            return f"name:{name_key(self.company_name)}"
        assert self.person is not None
        return f"person:{self.person.key}"


@dataclass(slots=True)
class Rejected:
    line: int
    reason: str
    # What the row names, so a person can find it in the report.
    company: str = ""
    contact: str = ""


def map_row(
    row: Row, headers: list[str], mapping: Mapping[str, str], region: str
) -> ImportRow | Rejected | None:
    """Map and check one row; None for a row with nothing in the mapped columns."""
    if row.problem:
        return Rejected(row.line, row.problem)

    values: dict[str, list[str]] = {}
    for header, cell in zip(headers, row.cells, strict=False):
        target = mapping.get(header)
        if target in FIELDS and cell.strip():
            values.setdefault(target, []).append(cell.strip())
    if not values:
        return None
    try:
        return _checked(row.line, values, region)
    except RowRejected as error:
        company = _one(values, "company_name") or _one(values, "legal_name")
        contact = _one(values, "full_name") or " ".join(
            p for p in (_one(values, "last_name"), _one(values, "first_name")) if p
        )
        return Rejected(row.line, error.reason, company[:300], contact[:300])


def _one(values: dict[str, list[str]], name: str) -> str:
    return " ".join(values.get(name, []))


def _limited(value: str, limit: int, label: str) -> str:
    if len(value) > limit:
        raise RowRejected(f"{label}: не длиннее {limit} знаков (в ячейке {len(value)})")
    return value


def _checked(line: int, values: dict[str, list[str]], region: str) -> ImportRow:
    result = ImportRow(line=line)

    name = _one(values, "company_name") or _one(values, "legal_name")
    result.company_name = _limited(name, 300, "название компании")
    company = {
        "legal_name": _one(values, "legal_name"),
        "address": _one(values, "address"),
        "region": _one(values, "region"),
        "industry": _one(values, "industry"),
        "source": _one(values, "source"),
        "notes": _one(values, "company_notes"),
    }
    for key, value in list(company.items()):
        company[key] = _limited(value, COMPANY_TEXT_FIELDS[key], _LABELS[key])
    try:
        inn = _one(values, "inn").replace(" ", "")
        # Excel drops the leading zero of INNs of regions 01-09 stored as numbers.
        if inn.isdigit() and len(inn) in (9, 11):
            inn = "0" + inn
        company["inn"] = check_inn(inn) if inn else ""
        kpp = _one(values, "kpp").replace(" ", "")
        if kpp.isdigit() and len(kpp) == 8:
            kpp = "0" + kpp
        company["kpp"] = check_kpp(kpp) if kpp else ""
        ogrn = _one(values, "ogrn").replace(" ", "")
        company["ogrn"] = check_ogrn(ogrn) if ogrn else ""
    except FieldProblem as problem:
        raise RowRejected(problem.reason) from None
    result.company = {k: v for k, v in company.items() if v}
    result.company_phones = _phones(values.get("company_phone", []), region)
    result.company_emails = _emails(values.get("company_email", []))

    found = _person(values, region)
    person = found if found.key else None
    if person is None:
        # No person in this row: its phones and e-mails are the company's.
        result.company_phones = _unique_phones(result.company_phones + found.phones)
        result.company_emails = list(
            dict.fromkeys(result.company_emails + found.emails)
        )
    result.person = person
    result.equipment = _equipment(values)

    if not result.company_name:
        if result.company.get("inn"):
            raise RowRejected("есть ИНН, но нет названия компании")
        if person is None:
            raise RowRejected("нет ни названия компании, ни ФИО контакта")
        # A private client: the company's phones and e-mails are the person's own.
        person.phones = _unique_phones(person.phones + result.company_phones)
        person.emails = list(dict.fromkeys(person.emails + result.company_emails))
        result.company_phones, result.company_emails = [], []
    return result


def _person(values: dict[str, list[str]], region: str) -> Person:
    last, first, middle = (
        _one(values, "last_name"),
        _one(values, "first_name"),
        _one(values, "middle_name"),
    )
    full = _one(values, "full_name")
    if full and not (last or first):
        # Russian order: Фамилия Имя Отчество.
        parts = full.split()
        last = parts[0]
        first = parts[1] if len(parts) > 1 else ""
        middle = " ".join(parts[2:])
    phones = _phones(values.get("phone", []) + values.get("mobile", []), region)
    emails = _emails(values.get("email", []))
    position = _one(values, "position")
    if not (last or first):
        return Person(phones=phones, emails=emails)

    birthday = _one(values, "birthday")
    if birthday.isdigit() and len(birthday) == 8:  # vCard's 19801204
        birthday = f"{birthday[:4]}-{birthday[4:6]}-{birthday[6:]}"
    if birthday:
        try:
            birthday = parse_date(birthday.split()[0]).strftime("%d.%m.%Y")
        except ValueError:
            raise RowRejected(
                f"день рождения «{birthday[:20]}»: нужна дата вида 04.12.1980"
            ) from None
    fields = {"last_name": last, "first_name": first, "middle_name": middle}
    fields["position"] = position
    fields["notes"] = _one(values, "contact_notes")
    for key, value in fields.items():
        _limited(value, CONTACT_TEXT_FIELDS[key], _LABELS.get(key, key))
    return Person(
        last_name=last,
        first_name=first,
        middle_name=middle,
        position=position,
        birthday=birthday,
        notes=fields["notes"],
        phones=phones,
        emails=emails,
    )


def _equipment(values: dict[str, list[str]]) -> dict[str, Any] | None:
    """The row's equipment item, checked by the client base's own rules."""
    if not EQUIPMENT_FIELDS & set(values):
        return None
    item: dict[str, Any] = {
        "kind": _one(values, "equipment_kind"),
        "vendor": _one(values, "equipment_vendor"),
        "model": _one(values, "equipment_model"),
        "notes": _one(values, "equipment_notes"),
        "serial_numbers": _one(values, "equipment_serials"),
    }
    quantity = _one(values, "equipment_quantity").replace(" ", "").replace(",", ".")
    if quantity:
        # Excel may hold 3 as "3.0"; a fraction is a mistake, not a quantity.
        whole = quantity[:-2] if quantity.endswith(".0") else quantity
        item["quantity"] = whole
    status = _one(values, "equipment_status").lower()
    if status:
        if status not in _EQUIPMENT_STATUSES:
            raise RowRejected(
                f"оборудование: статус «{status[:30]}» — «установлено» или «планируется»"
            )
        item["status"] = _EQUIPMENT_STATUSES[status].value
    installed = _one(values, "equipment_date")
    if installed:
        item["installed_on"] = installed.split()[0]
    try:
        checked = check_equipment(item, partial=False)
    except InvalidClientInput as error:
        label = _EQUIPMENT_LABELS.get(error.field, error.field)
        raise RowRejected(f"оборудование, {label}: {error.reason}") from None
    # Without a quantity, each serial number is one unit.
    checked.setdefault("quantity", max(len(checked["serial_numbers"]), 1))
    return checked


def _phones(cells: list[str], region: str) -> list[Phone]:
    pieces: list[str] = []
    for cell in cells:
        for piece in _SPLIT_RE.split(cell):
            if not piece.strip():
                continue
            if pieces and _EXTENSION_ONLY_RE.match(piece):
                pieces[-1] = f"{pieces[-1]} {piece.strip()}"
            else:
                pieces.append(piece.strip())
    phones = []
    for piece in pieces:
        try:
            number = parse_phone(piece, region)
        except InvalidPhoneNumber:
            raise RowRejected(f"телефон «{piece[:40]}» не распознан") from None
        phones.append(Phone(number.e164, number.extension, piece[:64], number.kind))
    return _unique_phones(phones)


def _unique_phones(phones: list[Phone]) -> list[Phone]:
    seen: dict[tuple[str, str | None], Phone] = {}
    for phone in phones:
        seen.setdefault((phone.e164, phone.extension), phone)
    return list(seen.values())


def _emails(cells: list[str]) -> list[str]:
    emails = []
    for cell in cells:
        for piece in _EMAIL_SPLIT_RE.split(cell):
            if not piece:
                continue
            try:
                emails.append(check_email(piece.strip("<>")))
            except FieldProblem:
                raise RowRejected(f"эл. почта «{piece[:60]}» с ошибкой") from None
    return list(dict.fromkeys(emails))
