"""What a column of an import file can mean, and a first guess from its header.

A mapping is ``{header: field}``; several headers may map to the same list field
(Outlook has "Business Phone", "Business Phone 2", "Mobile Phone"). Headers are
compared in a normal form (lowercase, ``ё`` as ``е``, punctuation as spaces), so
"E-mail", "e mail" and "EMAIL" are one synonym.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# field -> the label the panel shows in the mapping table
FIELDS: dict[str, str] = {
    "company_name": "Компания: название",
    "legal_name": "Компания: полное наименование",
    "inn": "Компания: ИНН",
    "kpp": "Компания: КПП",
    "ogrn": "Компания: ОГРН",
    "address": "Компания: адрес",
    "region": "Компания: регион",
    "industry": "Компания: отрасль",
    "source": "Компания: источник",
    "company_notes": "Компания: примечание",
    "company_phone": "Компания: телефон",
    "company_email": "Компания: эл. почта",
    "full_name": "Контакт: ФИО",
    "last_name": "Контакт: фамилия",
    "first_name": "Контакт: имя",
    "middle_name": "Контакт: отчество",
    "position": "Контакт: должность",
    "birthday": "Контакт: день рождения",
    "phone": "Контакт: рабочий телефон",
    "mobile": "Контакт: мобильный телефон",
    "email": "Контакт: эл. почта",
    "contact_notes": "Контакт: примечание",
    "equipment_kind": "Оборудование: вид",
    "equipment_vendor": "Оборудование: производитель",
    "equipment_model": "Оборудование: модель",
    "equipment_quantity": "Оборудование: количество",
    "equipment_serials": "Оборудование: серийные номера",
    "equipment_status": "Оборудование: установлено или планируется",
    "equipment_date": "Оборудование: дата установки",
    "equipment_notes": "Оборудование: примечание",
}
LIST_FIELDS = frozenset({"company_phone", "company_email", "phone", "mobile", "email"})
EQUIPMENT_FIELDS = frozenset(f for f in FIELDS if f.startswith("equipment_"))
PERSON_FIELDS = frozenset({"full_name", "last_name", "first_name", "middle_name"})

# Russian and English spellings seen in Excel lists, Outlook (both languages of its
# CSV export), 1C exports and CRM exports. The canonical field names are synonyms of
# themselves, which is how vCard and CommerceML rows (read with those names as
# headers) map onto themselves.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "company_name": (
        "компания",
        "организация",
        "наименование",
        "название",
        "название компании",
        "наименование организации",
        "клиент",
        "контрагент",
        "фирма",
        "company",
        "company name",
        "organization",
        "organisation",
        "account name",
    ),
    "legal_name": (
        "полное наименование",
        "полное название",
        "юридическое наименование",
        "официальное наименование",
        "legal name",
        "full name of company",
    ),
    "inn": ("инн", "inn", "tax id", "инн организации"),
    "kpp": ("кпп", "kpp"),
    "ogrn": ("огрн", "огрнип", "ogrn"),
    "address": (
        "адрес",
        "юридический адрес",
        "фактический адрес",
        "почтовый адрес",
        "адрес организации",
        "address",
        "business address",
        "business street",
        "рабочий адрес",
        "улица раб адрес",
    ),
    "region": ("регион", "город", "область", "region", "city", "business city"),
    "industry": ("отрасль", "сфера деятельности", "industry"),
    "source": ("источник", "source"),
    "company_notes": ("примечание компании", "комментарий к компании"),
    "company_phone": (
        "телефон компании",
        "телефон организации",
        "основной телефон",
        "company main phone",
        "основной телефон организации",
    ),
    "company_email": ("почта компании", "email компании", "company email"),
    "full_name": (
        "фио",
        "контактное лицо",
        "контакт",
        "представитель",
        "name",
        "full name",
        "contact",
        "contact name",
    ),
    "last_name": ("фамилия", "last name", "surname", "family name"),
    "first_name": ("имя", "first name", "given name"),
    "middle_name": ("отчество", "middle name"),
    "position": ("должность", "job title", "position"),
    "birthday": ("день рождения", "дата рождения", "birthday"),
    "phone": (
        "телефон",
        "рабочий телефон",
        "тел",
        "телефоны",
        "phone",
        "business phone",
        "business phone 2",
        "рабочий телефон 2",
        "work phone",
        "telephone",
        "phone number",
    ),
    "mobile": (
        "мобильный",
        "мобильный телефон",
        "сотовый",
        "сотовый телефон",
        "mobile",
        "mobile phone",
        "cell",
        "cell phone",
    ),
    "email": (
        "email",
        "e mail",
        "e mail address",
        "email address",
        "адрес эл почты",
        "электронная почта",
        "эл почта",
        "почта",
        "e mail 2 address",
        "адрес 2 эл почты",
    ),
    "contact_notes": ("заметки", "примечание", "комментарий", "notes", "comment"),
    "equipment_kind": ("вид оборудования", "тип оборудования", "equipment type"),
    "equipment_vendor": (
        "производитель",
        "вендор",
        "марка",
        "бренд",
        "vendor",
        "manufacturer",
        "brand",
    ),
    "equipment_model": (
        "оборудование",
        "модель",
        "модель оборудования",
        "equipment",
        "model",
    ),
    "equipment_quantity": ("количество", "кол во", "шт", "qty", "quantity"),
    "equipment_serials": (
        "серийный номер",
        "серийные номера",
        "заводской номер",
        "s n",
        "serial",
        "serial number",
        "serial numbers",
    ),
    "equipment_status": ("статус оборудования", "equipment status"),
    "equipment_date": (
        "дата установки",
        "дата поставки",
        "установлено",
        "installed",
        "installation date",
    ),
    "equipment_notes": ("примечание к оборудованию", "equipment notes"),
}

_NORMAL_RE = re.compile(r"[^\w]+")


def header_key(header: str) -> str:
    text = header.replace("ё", "е").replace("Ё", "Е").lower()
    return " ".join(_NORMAL_RE.sub(" ", text).replace("_", " ").split())


_BY_KEY: dict[str, str] = {}
for _field, _names in _SYNONYMS.items():
    for _name in (*_names, _field):
        _BY_KEY.setdefault(header_key(_name), _field)


def suggest_mapping(headers: Iterable[str]) -> dict[str, str]:
    """A first guess at ``{header: field}``; unknown headers are left out.

    Without any column naming a person, "Телефон" and "E-mail" are the company's own
    (a 1C list of counterparties), not a contact person's.
    """
    mapping: dict[str, str] = {}
    for header in headers:
        field = _BY_KEY.get(header_key(header))
        if field is None:
            continue
        if field not in LIST_FIELDS and field in mapping.values():
            continue  # the first "Адрес" wins over "Почтовый адрес" and the like
        mapping[header] = field

    if not PERSON_FIELDS & set(mapping.values()):
        moved = {"phone": "company_phone", "mobile": "company_phone"}
        moved["email"] = "company_email"
        mapping = {h: moved.get(f, f) for h, f in mapping.items()}
    return mapping


def check_mapping(mapping: Mapping[str, str], headers: Iterable[str]) -> list[str]:
    """What is wrong with a mapping, in the users' words (empty: nothing)."""
    problems = []
    known = set(headers)
    for header, field in mapping.items():
        if header not in known:
            problems.append(f"в файле нет колонки «{header}»")
        if field not in FIELDS:
            problems.append(f"неизвестное поле «{field}»")
    chosen = set(mapping.values())
    if not chosen & ({"company_name", "legal_name"} | PERSON_FIELDS):
        problems.append("нужна колонка с названием компании или с ФИО контакта")
    return problems
