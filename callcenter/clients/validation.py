"""Rules a client record must follow: Russian registry numbers, names, completeness.

INN and OGRN checksums come from python-stdnum (``stdnum.ru``); KPP has no checksum,
only a shape (4 digits of the tax office, 2 characters of the reason, 3 digits).
``name_key`` reduces a company name to what people mean by it: «ООО "Ромашка"»,
"Ромашка, ООО" and "ромашка ооо" all become ``ромашка``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError
from stdnum.ru import inn as stdnum_inn
from stdnum.ru import ogrn as stdnum_ogrn

# Legal forms as written in Russian registries (long forms first: they contain short ones).
LEGAL_FORMS = {
    "общество с ограниченной ответственностью": "ООО",
    "публичное акционерное общество": "ПАО",
    "непубличное акционерное общество": "АО",
    "закрытое акционерное общество": "ЗАО",
    "открытое акционерное общество": "ОАО",
    "акционерное общество": "АО",
    "индивидуальный предприниматель": "ИП",
    "государственное унитарное предприятие": "ГУП",
    "муниципальное унитарное предприятие": "МУП",
    "автономная некоммерческая организация": "АНО",
    "некоммерческая организация": "НКО",
    "федеральное государственное бюджетное учреждение": "ФГБУ",
    "государственное бюджетное учреждение": "ГБУ",
    "ооо": "ООО",
    "пао": "ПАО",
    "зао": "ЗАО",
    "оао": "ОАО",
    "ао": "АО",
    "ип": "ИП",
    "гуп": "ГУП",
    "муп": "МУП",
    "ано": "АНО",
    "нко": "НКО",
    "фгбу": "ФГБУ",
    "гбу": "ГБУ",
    "llc": "LLC",
    "ltd": "Ltd",
    "inc": "Inc",
    "gmbh": "GmbH",
}
_FORM_RE = re.compile(
    r"(?<![\w])("
    + "|".join(re.escape(f) for f in sorted(LEGAL_FORMS, key=len, reverse=True))
    + r")(?![\w])",
    re.IGNORECASE,
)
_QUOTES_RE = re.compile(r"[«»\"'“”„‘’`]")
_PUNCT_RE = re.compile(r"[^\w\s]")
_SPACES_RE = re.compile(r"\s+")
_KPP_RE = re.compile(r"^\d{4}[\dA-Z]{2}\d{3}\Z")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}\Z")


class FieldProblem(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def split_legal_form(name: str) -> tuple[str | None, str]:
    """``'ООО «Ромашка»'`` -> ``('ООО', '«Ромашка»')``; the form may stand anywhere."""
    form = None
    match = _FORM_RE.search(name)
    if match:
        form = LEGAL_FORMS[match.group(1).lower()]
        name = (name[: match.start()] + " " + name[match.end() :]).strip(" ,;")
    return form, _SPACES_RE.sub(" ", name).strip()


def name_key(name: str) -> str:
    """The comparable core of a company or person name."""
    _, rest = split_legal_form(name)
    rest = _QUOTES_RE.sub(" ", rest.replace("ё", "е").replace("Ё", "Е"))
    rest = _PUNCT_RE.sub(" ", rest)
    return _SPACES_RE.sub(" ", rest).strip().lower()


# Below this length a name is one letter from too many others to call it a typo.
TYPO_MIN_KEY = 5


def name_variants(key: str) -> set[str]:
    """The key and its one-letter deletions, as SQL's ``name_key_variants``.

    Two keys within one edit (a letter wrong, missing, extra) share a variant.
    """
    return {key} | {key[:i] + key[i + 1 :] for i in range(len(key))}


def person_key(last: str, first: str, middle: str = "") -> str:
    return name_key(" ".join(p for p in (last, first, middle) if p))


def check_inn(value: str) -> str:
    digits = value.strip()
    try:
        return str(stdnum_inn.validate(digits))
    except ValidationError as error:
        raise FieldProblem("inn", _reason(error, "ИНН")) from None


def check_ogrn(value: str) -> str:
    digits = value.strip()
    try:
        return str(stdnum_ogrn.validate(digits))
    except ValidationError as error:
        raise FieldProblem("ogrn", _reason(error, "ОГРН")) from None


def check_kpp(value: str) -> str:
    kpp = value.strip().upper()
    if not _KPP_RE.match(kpp):
        raise FieldProblem("kpp", "КПП: 9 знаков, например 770101001")
    return kpp


def check_email(value: str) -> str:
    address = value.strip().lower()
    if not _EMAIL_RE.match(address):
        raise FieldProblem("email", "адрес эл. почты вида name@example.ru")
    return address


def _reason(error: ValidationError, what: str) -> str:
    """A reason in the users' language; stdnum's own messages are English."""
    if isinstance(error, InvalidChecksum):
        return f"{what}: неверная контрольная сумма"
    if isinstance(error, InvalidLength):
        lengths = "10 или 12 цифр" if what == "ИНН" else "13 цифр (ОГРНИП — 15)"
        return f"{what}: нужно {lengths}"
    return f"{what}: только цифры"


# -- completeness ----------------------------------------------------------------------

DEFAULT_RULES: dict[str, tuple[str, ...]] = {
    "company": ("name", "inn", "phones", "industry", "region", "responsible_id"),
    "contact": ("last_name", "first_name", "position", "phones", "emails"),
}
FIELD_LABELS = {
    "name": "название",
    "legal_form": "форма собственности",
    "inn": "ИНН",
    "kpp": "КПП",
    "ogrn": "ОГРН",
    "address": "адрес",
    "region": "регион",
    "industry": "отрасль",
    "size": "размер",
    "source": "источник",
    "segment": "сегмент",
    "responsible_id": "ответственный",
    "phones": "телефон",
    "emails": "эл. почта",
    "last_name": "фамилия",
    "first_name": "имя",
    "middle_name": "отчество",
    "position": "должность",
    "birthday": "день рождения",
}


@dataclass(frozen=True, slots=True)
class Completeness:
    percent: int
    missing: tuple[str, ...]
    invalid: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "percent": self.percent,
            "missing": [
                {"field": f, "label": FIELD_LABELS.get(f, f)} for f in self.missing
            ],
            "invalid": [{"field": f, "reason": r} for f, r in self.invalid],
        }


def completeness(
    entity: str, record: Mapping[str, Any], required: Iterable[str] | None = None
) -> Completeness:
    """How complete a record is against the required fields, and what is wrong in it."""
    fields = tuple(required if required is not None else DEFAULT_RULES.get(entity, ()))
    missing = tuple(f for f in fields if _empty(record.get(f)))
    invalid: list[tuple[str, str]] = []
    for field, check in (("inn", check_inn), ("kpp", check_kpp), ("ogrn", check_ogrn)):
        value = record.get(field)
        if value:
            try:
                check(str(value))
            except FieldProblem as problem:
                invalid.append((field, problem.reason))
    for email in record.get("emails") or []:
        try:
            check_email(str(email))
        except FieldProblem as problem:
            invalid.append(("emails", f"{email}: {problem.reason}"))
    filled = len(fields) - len(missing)
    percent = round(100 * filled / len(fields)) if fields else 100
    if invalid:
        percent = min(percent, 99)
    return Completeness(percent=percent, missing=missing, invalid=tuple(invalid))


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()
