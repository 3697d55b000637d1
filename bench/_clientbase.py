"""A realistic client base for the client benchmarks, generated once and cached.

The base imitates a Russian B2B sales department's CRM after years of use: companies
with legal forms, valid INN/KPP/OGRN, city work phones and regions, their contact
people with mobile numbers, switchboard extensions and e-mails, and equipment rows.
Everything is drawn from a seeded ``random.Random``, so one seed gives one base.

Loading goes straight to PostgreSQL with ``COPY`` (asyncpg
``copy_records_to_table``) into a database migrated by ``callcenter.migrate``: the
secondary indexes are dropped before the copy and rebuilt after it (what a bulk load
into a fresh table does anyway), foreign-key triggers are off during the copy when
the role may do that, then ``VACUUM ANALYZE``. ``name_key`` columns are computed by
``callcenter.clients.validation.name_key`` / ``person_key``, as the service does.

Planted duplicates: ``--planted`` extra companies copy one signal of an existing
company each, in three equal kinds, so that a duplicate scan has a known answer:

* ``inn``   - the same INN, another (renamed) name, another phone;
* ``phone`` - the same work phone, another name, no INN;
* ``typo``  - the same name with one typo (as a manager types it), no INN, another phone.

Apart from them, every company has its own INN, its own phones and its own
``name_key`` (names that would collide get a distinguishing suffix, "Вектор-2").

The embedded PostgreSQL lives in ``/tmp/cc-clientbase-<parameters>/`` and is reused
when present (its manifest table records the parameters); it is stopped when the
benchmark ends, and started again in seconds next time. ``--rebuild`` throws it away.

Build or check the base alone: ``.venv/bin/python bench/_clientbase.py``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import string
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from callcenter.clients.validation import name_key, person_key
from callcenter.migrate import upgrade

# Bump when the generator changes what it makes: an old cache is then not reused.
GENERATOR_VERSION = 2
MANIFEST_TABLE = "bench_clientbase"
LOADED_TABLES = ("companies", "contacts", "phones", "emails", "equipment")
PLANTED_KINDS = ("inn", "phone", "typo")
MANAGERS = 24


# -- vocabulary ----------------------------------------------------------------------

# (INN/OGRN region code, region, city area code)
REGIONS: tuple[tuple[str, str, str], ...] = (
    ("77", "Москва", "495"),
    ("77", "Москва", "499"),
    ("78", "Санкт-Петербург", "812"),
    ("50", "Московская область", "496"),
    ("50", "Московская область", "498"),
    ("54", "Новосибирская область", "383"),
    ("66", "Свердловская область", "343"),
    ("16", "Республика Татарстан", "843"),
    ("23", "Краснодарский край", "861"),
    ("52", "Нижегородская область", "831"),
    ("63", "Самарская область", "846"),
    ("61", "Ростовская область", "863"),
    ("74", "Челябинская область", "351"),
    ("02", "Республика Башкортостан", "347"),
    ("59", "Пермский край", "342"),
    ("36", "Воронежская область", "473"),
    ("34", "Волгоградская область", "8442"),
    ("24", "Красноярский край", "391"),
    ("55", "Омская область", "3812"),
    ("38", "Иркутская область", "3952"),
    ("72", "Тюменская область", "3452"),
    ("25", "Приморский край", "423"),
    ("39", "Калининградская область", "4012"),
    ("76", "Ярославская область", "4852"),
)
# Moscow and St Petersburg hold most of a typical base.
REGION_WEIGHTS = (22, 10, 12, 5, 3) + (2,) * (len(REGIONS) - 5)
CITIES = {
    "Москва": "г. Москва",
    "Санкт-Петербург": "г. Санкт-Петербург",
    "Московская область": "г. Подольск",
    "Новосибирская область": "г. Новосибирск",
    "Свердловская область": "г. Екатеринбург",
    "Республика Татарстан": "г. Казань",
    "Краснодарский край": "г. Краснодар",
    "Нижегородская область": "г. Нижний Новгород",
    "Самарская область": "г. Самара",
    "Ростовская область": "г. Ростов-на-Дону",
    "Челябинская область": "г. Челябинск",
    "Республика Башкортостан": "г. Уфа",
    "Пермский край": "г. Пермь",
    "Воронежская область": "г. Воронеж",
    "Волгоградская область": "г. Волгоград",
    "Красноярский край": "г. Красноярск",
    "Омская область": "г. Омск",
    "Иркутская область": "г. Иркутск",
    "Тюменская область": "г. Тюмень",
    "Приморский край": "г. Владивосток",
    "Калининградская область": "г. Калининград",
    "Ярославская область": "г. Ярославль",
}
STREETS = (
    "ул. Ленина",
    "ул. Мира",
    "пр-т Победы",
    "ул. Советская",
    "ул. Садовая",
    "ул. Промышленная",
    "ш. Энтузиастов",
    "ул. Заводская",
    "пер. Почтовый",
    "ул. Гагарина",
    "Ленинградский пр-т",
    "ул. Новая",
    "наб. Северная",
)
INDUSTRIES = (
    "Строительство",
    "Оптовая торговля",
    "Розничная торговля",
    "Производство",
    "ИТ и телеком",
    "Логистика",
    "Медицина",
    "Образование",
    "Финансы",
    "Сельское хозяйство",
    "Энергетика",
    "Гостиницы и рестораны",
    "Госсектор",
    "Недвижимость",
    "Автосервис",
)
SIZES = ("до 15", "16-100", "101-250", "251-1000", "более 1000")
SOURCES = ("холодный звонок", "сайт", "выставка", "рекомендация", "тендер", "импорт")
SEGMENTS = ("A", "B", "C")

# Legal forms with their share of a base; the long form goes into legal_name.
FORMS: tuple[tuple[str, str, int], ...] = (
    ("ООО", "Общество с ограниченной ответственностью", 70),
    ("ИП", "Индивидуальный предприниматель", 12),
    ("АО", "Акционерное общество", 7),
    ("ЗАО", "Закрытое акционерное общество", 3),
    ("ПАО", "Публичное акционерное общество", 1),
    ("ГБУ", "Государственное бюджетное учреждение", 3),
    ("МУП", "Муниципальное унитарное предприятие", 2),
    ("АНО", "Автономная некоммерческая организация", 2),
)

ROOTS = (
    "Сиб",
    "Урал",
    "Волга",
    "Тех",
    "Пром",
    "Строй",
    "Энерго",
    "Агро",
    "Нефте",
    "Газ",
    "Транс",
    "Мед",
    "Фарм",
    "Инфо",
    "Телеком",
    "Лес",
    "Мет",
    "Хим",
    "Электро",
    "Авто",
    "Рос",
    "Север",
    "Юг",
    "Даль",
    "Нева",
    "Кама",
    "Мос",
    "Евро",
    "Альфа",
    "Вектор",
    "Гео",
    "Спец",
    "Комп",
    "Проф",
    "Стандарт",
    "Кристалл",
    "Арс",
    "Рус",
    "Бал",
    "Ока",
    "Дон",
    "Кубань",
    "Байкал",
    "Алтай",
    "Полимер",
    "Сталь",
    "Бетон",
    "Гранит",
)
SUFFIXES = (
    "ком",
    "пром",
    "строй",
    "сервис",
    "трейд",
    "снаб",
    "монтаж",
    "техника",
    "проект",
    "инвест",
    "лайн",
    "систем",
    "холдинг",
    "групп",
    "маркет",
    "логистик",
    "софт",
    "маш",
    "пласт",
    "энерго",
    "мед",
    "транс",
    "комплект",
    "ресурс",
    "торг",
    "инжиниринг",
)
ADJECTIVES = (
    "Северная",
    "Первая",
    "Новая",
    "Русская",
    "Столичная",
    "Городская",
    "Региональная",
    "Сибирская",
    "Уральская",
    "Волжская",
    "Центральная",
    "Южная",
    "Восточная",
    "Западная",
    "Балтийская",
    "Объединённая",
    "Независимая",
    "Техническая",
)
NOUNS = (
    "компания",
    "звезда",
    "линия",
    "группа",
    "гавань",
    "мануфактура",
    "артель",
    "столица",
    "долина",
    "перспектива",
    "инициатива",
    "система",
    "логистика",
)
WORDS = (
    "Восход",
    "Рассвет",
    "Меридиан",
    "Горизонт",
    "Орбита",
    "Ресурс",
    "Импульс",
    "Созвездие",
    "Парус",
    "Маяк",
    "Радуга",
    "Ромашка",
    "Берёза",
    "Кедр",
    "Сокол",
    "Олимп",
    "Атлант",
    "Титан",
    "Гефест",
    "Прогресс",
    "Партнёр",
    "Стимул",
    "Эталон",
    "Фаворит",
    "Лидер",
    "Континент",
    "Магистраль",
    "Вертикаль",
    "Спектр",
    "Квант",
)
PREFIXES = ("ТД", "ПК", "НПО", "ТК", "СК", "ПКФ", "НПП", "ГК")
DISAMBIGUATION = (
    "Плюс",
    "М",
    "Центр",
    "Регион",
    "Сервис",
    "Групп",
    "Проф",
    "Юг",
    "Север",
    "Нева",
)

MALE_LAST = (
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
    "Зайцев",
    "Соловьёв",
    "Борисов",
    "Яковлев",
    "Григорьев",
    "Романов",
    "Воробьёв",
    "Сергеев",
    "Кузьмин",
    "Фролов",
    "Александров",
    "Дмитриев",
    "Королёв",
    "Гусев",
    "Киселёв",
    "Ильин",
    "Максимов",
    "Поляков",
    "Сорокин",
    "Виноградов",
    "Ковалёв",
    "Белов",
    "Медведев",
    "Антонов",
    "Тарасов",
    "Жуков",
    "Баранов",
    "Филиппов",
    "Комаров",
    "Давыдов",
    "Беляев",
    "Герасимов",
    "Богданов",
    "Осипов",
    "Сидоров",
    "Матвеев",
    "Титов",
    "Марков",
    "Миронов",
    "Крылов",
    "Куликов",
    "Карпов",
    "Власов",
    "Мельников",
    "Денисов",
    "Гаврилов",
    "Тихонов",
    "Казаков",
    "Афанасьев",
    "Данилов",
    "Савельев",
    "Тимофеев",
    "Фомин",
    "Чернов",
    "Абрамов",
    "Мартынов",
    "Ефимов",
    "Федотов",
    "Щербаков",
    "Назаров",
    "Калинин",
    "Исаев",
    "Чернышёв",
    "Быков",
    "Маслов",
    "Родионов",
    "Коновалов",
    "Лазарев",
    "Воронин",
    "Климов",
    "Филатов",
    "Пономарёв",
    "Голубев",
    "Кудрявцев",
    "Прохоров",
    "Наумов",
    "Потапов",
    "Журавлёв",
    "Овчинников",
    "Трофимов",
    "Леонов",
    "Соболев",
    "Ермаков",
    "Колесников",
    "Гончаров",
    "Емельянов",
    "Никифоров",
    "Грачёв",
    "Котов",
    "Гришин",
    "Ефремов",
    "Архипов",
    "Громов",
    "Кириллов",
    "Малышев",
    "Панов",
    "Моисеев",
    "Румянцев",
    "Акимов",
    "Кондратьев",
    "Бирюков",
    "Горбунов",
    "Анисимов",
    "Ерёмин",
    "Тихомиров",
    "Галкин",
    "Лукьянов",
    "Михеев",
    "Скворцов",
    "Юдин",
    "Белоусов",
    "Нестеров",
    "Симонов",
    "Прокофьев",
    "Харитонов",
    "Князев",
    "Цветков",
    "Левин",
    "Митрофанов",
    "Воронов",
    "Аксёнов",
    "Софронов",
    "Мальцев",
    "Логинов",
    "Горшков",
    "Савин",
    "Краснов",
    "Майоров",
    "Демидов",
    "Елисеев",
    "Рыбаков",
    "Сафонов",
    "Плотников",
    "Дёмин",
    "Хохлов",
    "Жданов",
    "Руденко",
    "Шевченко",
    "Бондаренко",
    "Ткаченко",
    "Кравченко",
    "Гарипов",
    "Хабибуллин",
    "Сафин",
    "Ахметов",
)
MALE_FIRST = (
    "Александр",
    "Сергей",
    "Дмитрий",
    "Андрей",
    "Алексей",
    "Максим",
    "Евгений",
    "Иван",
    "Михаил",
    "Артём",
    "Никита",
    "Владимир",
    "Денис",
    "Павел",
    "Роман",
    "Олег",
    "Игорь",
    "Николай",
    "Антон",
    "Виктор",
    "Юрий",
    "Константин",
    "Илья",
    "Кирилл",
    "Вадим",
    "Станислав",
    "Георгий",
    "Тимур",
    "Руслан",
    "Григорий",
    "Василий",
    "Пётр",
    "Леонид",
    "Борис",
    "Валерий",
    "Анатолий",
    "Геннадий",
    "Ринат",
    "Марат",
    "Эдуард",
)
FEMALE_FIRST = (
    "Елена",
    "Ольга",
    "Наталья",
    "Татьяна",
    "Ирина",
    "Светлана",
    "Анна",
    "Мария",
    "Екатерина",
    "Юлия",
    "Марина",
    "Анастасия",
    "Людмила",
    "Галина",
    "Надежда",
    "Оксана",
    "Виктория",
    "Дарья",
    "Ксения",
    "Алина",
    "Евгения",
    "Валентина",
    "Любовь",
    "Вера",
    "Кристина",
    "Полина",
    "Алёна",
    "Александра",
    "Лариса",
    "Жанна",
    "Инна",
    "Гульнара",
    "Эльвира",
    "Софья",
    "Маргарита",
    "Диана",
)
PATRONYMIC_BASES = (
    "Александров",
    "Сергеев",
    "Дмитриев",
    "Андреев",
    "Алексеев",
    "Владимиров",
    "Николаев",
    "Михайлов",
    "Викторов",
    "Юрьев",
    "Игорев",
    "Олегов",
    "Павлов",
    "Иванов",
    "Петров",
    "Геннадьев",
    "Анатольев",
    "Борисов",
    "Валерьев",
    "Васильев",
    "Евгеньев",
    "Константинов",
    "Леонидов",
    "Григорьев",
    "Романов",
    "Фёдоров",
)
POSITIONS = (
    ("Генеральный директор", 8),
    ("Директор", 4),
    ("Коммерческий директор", 5),
    ("Главный бухгалтер", 7),
    ("Бухгалтер", 6),
    ("Менеджер по закупкам", 12),
    ("Начальник отдела снабжения", 5),
    ("Инженер", 8),
    ("Главный инженер", 4),
    ("ИТ-директор", 3),
    ("Системный администратор", 6),
    ("Секретарь", 5),
    ("Офис-менеджер", 5),
    ("Юрист", 3),
    ("Специалист по тендерам", 3),
    ("Заместитель директора", 4),
    ("Менеджер по продажам", 6),
    ("Логист", 3),
    ("Кладовщик", 2),
    ("Руководитель проектов", 3),
)
EQUIPMENT: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("IP-АТС", "Yeastar", ("S20", "S50", "S100", "P550", "P560")),
    ("IP-АТС", "Grandstream", ("UCM6301", "UCM6302", "UCM6304", "UCM6308")),
    ("IP-телефон", "Yealink", ("T31P", "T33G", "T43U", "T46U", "T54W", "T57W")),
    ("IP-телефон", "Grandstream", ("GXP1610", "GXP1625", "GRP2612", "GRP2614")),
    ("IP-телефон", "Fanvil", ("X3U", "X4U", "X6U")),
    ("Шлюз", "Eltex", ("TAU-8.IP", "TAU-16.IP", "TAU-72.IP", "SMG-1016M")),
    ("Маршрутизатор", "MikroTik", ("hAP ac2", "RB4011", "CCR2004", "hEX S")),
    ("Коммутатор", "Eltex", ("MES2324", "MES2308P", "MES3324F")),
    ("Коммутатор", "Huawei", ("S5735-L24P4S", "S1730S-L24T")),
    ("Сервер", "Huawei", ("FusionServer 2288H V6", "FusionServer 1288H V5")),
    ("Гарнитура", "Jabra", ("Evolve 20", "Evolve2 40", "Engage 55")),
    ("DECT-система", "Panasonic", ("KX-TGP600", "KX-TGP500")),
)

_TRANSLIT = str.maketrans(
    {
        "а": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "д": "d",
        "е": "e",
        "ё": "e",
        "ж": "zh",
        "з": "z",
        "и": "i",
        "й": "y",
        "к": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "о": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ф": "f",
        "х": "kh",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "shch",
        "ъ": "",
        "ы": "y",
        "ь": "",
        "э": "e",
        "ю": "yu",
        "я": "ya",
    }
)
_RU_LOWER = "абвгдежзиклмнопрстуфхцчшщыэюя"
_DOMAIN_CHARS = frozenset(string.ascii_lowercase + string.digits + "-")


def translit(text: str) -> str:
    ascii_text = text.lower().translate(_TRANSLIT)
    return "".join(c for c in ascii_text if c in _DOMAIN_CHARS)


# -- registry numbers ------------------------------------------------------------------


def inn10(first9: str) -> str:
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    check = sum(int(d) * w for d, w in zip(first9, weights, strict=True)) % 11 % 10
    return first9 + str(check)


def inn12(first10: str) -> str:
    w11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    w12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    c11 = sum(int(d) * w for d, w in zip(first10, w11, strict=True)) % 11 % 10
    digits = first10 + str(c11)
    c12 = sum(int(d) * w for d, w in zip(digits, w12, strict=True)) % 11 % 10
    return digits + str(c12)


def ogrn(first12: str) -> str:
    return first12 + str(int(first12) % 11 % 10)


def ogrnip(first14: str) -> str | None:
    """OGRNIP, or None for a stem whose remainder is 10-12 (stdnum rejects those)."""
    check = int(first14) % 13
    return first14 + str(check) if check < 10 else None


# -- the generator -------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    companies: int
    contacts: int
    planted: int
    seed: int

    @property
    def tag(self) -> str:
        return (
            f"c{self.companies}-p{self.contacts}-d{self.planted}"
            f"-s{self.seed}-v{GENERATOR_VERSION}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "companies": self.companies,
            "contacts": self.contacts,
            "planted": self.planted,
            "seed": self.seed,
            "generator_version": GENERATOR_VERSION,
        }


@dataclass
class Generated:
    companies: list[tuple[Any, ...]]
    contacts: list[tuple[Any, ...]]
    phones: list[tuple[Any, ...]]
    emails: list[tuple[Any, ...]]
    equipment: list[tuple[Any, ...]]
    # [(original company id, planted duplicate id, kind)]
    planted: list[tuple[int, int, str]]


COMPANY_COLUMNS = (
    "id",
    "name",
    "legal_name",
    "inn",
    "status",
    "responsible_id",
    "notes",
    "legal_form",
    "kpp",
    "ogrn",
    "address",
    "region",
    "industry",
    "size",
    "source",
    "segment",
    "name_key",
)
CONTACT_COLUMNS = (
    "id",
    "company_id",
    "last_name",
    "first_name",
    "middle_name",
    "position",
    "email",
    "birthday",
    "channels",
    "name_key",
)
PHONE_COLUMNS = ("id", "company_id", "contact_id", "e164", "extension", "raw", "kind")
EMAIL_COLUMNS = ("id", "company_id", "contact_id", "address")
EQUIPMENT_COLUMNS = (
    "id",
    "company_id",
    "kind",
    "vendor",
    "model",
    "quantity",
    "serial_numbers",
    "status",
    "installed_on",
)


class Generator:
    def __init__(self, params: Params, manager_ids: Sequence[int]) -> None:
        self.p = params
        self.rng = random.Random(params.seed)
        self.managers = list(manager_ids)
        self.inns: set[str] = set()
        self.phones: set[str] = set()
        self.keys: set[str] = set()
        self._mobiles = iter(())  # type: Iterator[int]
        self._regions = self.rng.choices(
            range(len(REGIONS)), weights=REGION_WEIGHTS, k=params.companies
        )

    # names ------------------------------------------------------------------------

    def brand(self) -> str:
        rng = self.rng
        style = rng.random()
        if style < 0.45:
            word = rng.choice(ROOTS) + rng.choice(SUFFIXES)
            if rng.random() < 0.25:
                word += "-" + rng.choice(ROOTS) + rng.choice(SUFFIXES)
            return word
        if style < 0.65:
            return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
        if style < 0.85:
            return f"{rng.choice(PREFIXES)} {rng.choice(WORDS)}"
        return f"{rng.choice(WORDS)}-{rng.choice(ROOTS)}{rng.choice(SUFFIXES)}"

    def unique_brand(self) -> str:
        brand = self.brand()
        attempt = 0
        while name_key(brand) in self.keys:
            attempt += 1
            if attempt < 3:
                brand = self.brand()
            elif attempt < 6:
                brand = f"{brand.split('-')[0]}-{self.rng.choice(DISAMBIGUATION)}"
            else:
                brand = f"{brand.split('-')[0]}-{self.rng.randint(2, 9999)}"
        self.keys.add(name_key(brand))
        return brand

    def person(self) -> tuple[str, str, str]:
        rng = self.rng
        last = rng.choice(MALE_LAST)
        if rng.random() < 0.45:
            first = rng.choice(FEMALE_FIRST)
            if last.endswith(("ов", "ев", "ёв", "ин")):
                last += "а"
            elif last.endswith("ий"):
                last = last[:-2] + "ая"
            middle = rng.choice(PATRONYMIC_BASES) + "на"
        else:
            first = rng.choice(MALE_FIRST)
            middle = rng.choice(PATRONYMIC_BASES) + "ич"
        if rng.random() < 0.15:
            middle = ""
        return last, first, middle

    def display_name(self, form: str, brand: str) -> str:
        roll = self.rng.random()
        if roll < 0.55:
            return f"{form} «{brand}»"
        if roll < 0.75:
            return f'{form} "{brand}"'
        if roll < 0.9:
            return f"{brand}, {form}"
        return brand

    def typo(self, text: str) -> str:
        """One slip of the hand in the longest word: swap, drop, double or replace."""
        words = text.split(" ")
        index = max(range(len(words)), key=lambda i: len(words[i]))
        word = words[index]
        if len(word) < 4:
            return text + "а"
        pos = self.rng.randint(1, len(word) - 2)
        kind = self.rng.randrange(4)
        if kind == 0:
            word = word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :]
        elif kind == 1:
            word = word[:pos] + word[pos + 1 :]
        elif kind == 2:
            word = word[:pos] + word[pos] + word[pos:]
        else:
            repl = self.rng.choice([c for c in _RU_LOWER if c != word[pos].lower()])
            word = word[:pos] + repl + word[pos + 1 :]
        words[index] = word
        return " ".join(words)

    # numbers ----------------------------------------------------------------------

    def new_inn(self, region: str, person: bool) -> str:
        while True:
            office = f"{self.rng.randint(1, 51):02d}"
            if person:
                value = inn12(region + office + f"{self.rng.randrange(10**6):06d}")
            else:
                value = inn10(region + office + f"{self.rng.randrange(10**5):05d}")
            if value not in self.inns:
                self.inns.add(value)
                return value

    def city_phone(self, area: str) -> str:
        while True:
            local = self.rng.randrange(10 ** (10 - len(area)))
            number = f"7{area}{local:0{10 - len(area)}d}"
            if number[len(area) + 1] not in "01" and number not in self.phones:
                self.phones.add(number)
                return number

    def mobile(self) -> str:
        while True:
            number = f"79{next(self._mobiles):09d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def raw_phone(self, e164: str) -> str:
        national = e164[1:]
        roll = self.rng.random()
        if len(national) == 10 and national[0] == "9" or national[:3] in ("495", "499"):
            code, rest = national[:3], national[3:]
        else:
            code = next(r[2] for r in REGIONS if national.startswith(r[2]))
            rest = national[len(code) :]
        if roll < 0.5:
            body = f"{rest[:-4]}-{rest[-4:-2]}-{rest[-2:]}"
            return f"+7 ({code}) {body}"
        if roll < 0.8:
            return f"8 ({code}) {rest}"
        return "8" + national

    # the base ---------------------------------------------------------------------

    def generate(self) -> Generated:
        p, rng = self.p, self.rng
        originals = p.companies - p.planted
        # Unique mobile numbers for every contact, drawn once (sample over a range
        # does not build the range).
        self._mobiles = iter(rng.sample(range(10**9), p.contacts + p.planted + 10))

        drafts = [self._company(self._regions[i]) for i in range(originals)]
        # Each kind copies its signal from a company that has it.
        kinds = [PLANTED_KINDS[i % len(PLANTED_KINDS)] for i in range(p.planted)]
        has = {
            "inn": [i for i, d in enumerate(drafts) if d["row"][2]],
            "phone": [i for i, d in enumerate(drafts) if d["phones"]],
            "typo": list(range(originals)),
        }
        chosen: set[int] = set()
        planted_from = []
        for kind in kinds:
            source = rng.choice(has[kind])
            while source in chosen:
                source = rng.choice(has[kind])
            chosen.add(source)
            planted_from.append(source)
        for source, kind in zip(planted_from, kinds, strict=True):
            drafts.append(self._duplicate(drafts[source], kind, source))

        # Ids in random order, so planted duplicates are spread over the table.
        order = list(range(len(drafts)))
        rng.shuffle(order)
        ids = {draft_index: i + 1 for i, draft_index in enumerate(order)}
        planted = [
            (ids[source], ids[originals + n], kind)
            for n, (source, kind) in enumerate(zip(planted_from, kinds, strict=True))
        ]

        companies: list[tuple[Any, ...]] = []
        phones: list[tuple[Any, ...]] = []
        emails: list[tuple[Any, ...]] = []
        equipment: list[tuple[Any, ...]] = []
        contacts: list[tuple[Any, ...]] = []
        per_company = self._contact_counts(len(drafts))

        for draft_index in order:
            draft = drafts[draft_index]
            company_id = ids[draft_index]
            companies.append((company_id, *draft["row"]))
            for number, raw in draft["phones"]:
                phones.append(
                    (len(phones) + 1, company_id, None, number, None, raw, "work")
                )
            if draft["email"]:
                emails.append((len(emails) + 1, company_id, None, draft["email"]))
            for kind, vendor, model, qty, status, installed in draft["equipment"]:
                equipment.append(
                    (
                        len(equipment) + 1,
                        company_id,
                        kind,
                        vendor,
                        model,
                        qty,
                        "[]",
                        status,
                        installed,
                    )
                )
            for _ in range(per_company[company_id - 1]):
                self._contact(company_id, draft, contacts, phones, emails)

        return Generated(companies, contacts, phones, emails, equipment, planted)

    def _contact_counts(self, companies: int) -> list[int]:
        """Contacts per company: most have a few, some have dozens; sums to --contacts."""
        rng = self.rng
        # Capped: the biggest clients have a few hundred contacts, not thousands.
        weights = [min(rng.paretovariate(1.6), 60.0) for _ in range(companies)]
        total = sum(weights)
        counts = [max(1, int(w / total * self.p.contacts)) for w in weights]
        diff = self.p.contacts - sum(counts)
        while diff != 0:
            i = rng.randrange(companies)
            if diff > 0:
                counts[i] += 1
                diff -= 1
            elif counts[i] > 1:
                counts[i] -= 1
                diff += 1
        return counts

    def _company(self, region_index: int) -> dict[str, Any]:
        rng = self.rng
        code, region, area = REGIONS[region_index]
        form, long_form, _ = rng.choices(FORMS, weights=[f[2] for f in FORMS])[0]
        person = form == "ИП"
        if person:
            for _ in range(5):
                brand = " ".join(p for p in self.person() if p)
                if name_key(brand) not in self.keys:
                    self.keys.add(name_key(brand))
                    break
            else:
                brand = self.unique_brand()
            name = f"ИП {brand}"
        else:
            brand = self.unique_brand()
            name = self.display_name(form, brand)
        inn = self.new_inn(code, person) if rng.random() < 0.93 else None
        year = rng.randint(2, 24)
        if person:
            reg = None
            while reg is None:
                reg = ogrnip(f"3{year:02d}{code}{rng.randrange(10**9):09d}")
            kpp = None
        else:
            reg = ogrn(f"1{year:02d}{code}{rng.randrange(10**7):07d}")
            kpp = f"{inn[:4]}01001" if inn else None
        numbers = [self.city_phone(area)] if rng.random() < 0.92 else []
        if numbers and rng.random() < 0.2:
            numbers.append(self.city_phone(area))
        # One domain per company (its name_key is unique), as in real life.
        domain = (translit(name_key(brand).replace(" ", "-")) or "firma") + rng.choice(
            (".ru", ".ru", ".ru", ".com", ".su")
        )
        email = f"info@{domain}" if rng.random() < 0.7 else None
        equipment = []
        if rng.random() < 0.6:
            for _ in range(rng.choice((1, 1, 2, 3))):
                kind, vendor, models = rng.choice(EQUIPMENT)
                equipment.append(
                    (
                        kind,
                        vendor,
                        rng.choice(models),
                        rng.choice((1, 1, 2, 5, 10, 40)),
                        "installed" if rng.random() < 0.8 else "planned",
                        None,
                    )
                )
        city = CITIES.get(region, "")
        row = (
            name,
            f"{long_form} «{brand}»" if not person else f"{long_form} {brand}",
            inn,
            rng.choices(("prospect", "client", "former"), weights=(50, 40, 10))[0],
            rng.choice(self.managers) if self.managers and rng.random() < 0.9 else None,
            None,
            form,
            kpp,
            reg if rng.random() < 0.7 else None,
            f"{city}, {rng.choice(STREETS)}, д. {rng.randint(1, 150)}",
            region,
            rng.choice(INDUSTRIES),
            rng.choice(SIZES),
            rng.choice(SOURCES),
            rng.choice(SEGMENTS),
            name_key(name),
        )
        return {
            "row": row,
            "brand": brand,
            "form": form,
            "area": area,
            "domain": domain,
            "phones": [(n, self.raw_phone(n)) for n in numbers],
            "email": email,
            "equipment": equipment,
        }

    def _duplicate(
        self, original: dict[str, Any], kind: str, source: int
    ) -> dict[str, Any]:
        """A second card for the same client, sharing exactly one signal."""
        row = list(original["row"])
        form = original["form"]
        if kind == "typo":
            brand = self.typo(original["brand"])
            while name_key(brand) == name_key(original["brand"]):
                brand = self.typo(original["brand"])
        else:
            brand = self.unique_brand()
        name = self.display_name(form, brand)
        row[0] = name
        row[1] = None
        row[2] = original["row"][2] if kind == "inn" else None
        row[6] = form
        row[7] = None
        row[8] = None
        row[15] = name_key(name)
        if kind == "phone" and original["phones"]:
            number = original["phones"][0][0]
            phones = [(number, self.raw_phone(number))]
        else:
            number = self.city_phone(original["area"])
            phones = [(number, self.raw_phone(number))]
        return {
            "row": tuple(row),
            "brand": brand,
            "form": form,
            "area": original["area"],
            "domain": original["domain"],
            "phones": phones,
            "email": None,
            "equipment": [],
            "source": source,
        }

    def _contact(
        self,
        company_id: int,
        draft: dict[str, Any],
        contacts: list[tuple[Any, ...]],
        phones: list[tuple[Any, ...]],
        emails: list[tuple[Any, ...]],
    ) -> None:
        rng = self.rng
        contact_id = len(contacts) + 1
        last, first, middle = self.person()
        email = None
        if rng.random() < 0.8:
            local = f"{translit(first)[:1]}.{translit(last)}"
            taken = draft.setdefault("locals", set())
            if local in taken:
                local += str(len(taken))
            taken.add(local)
            email = f"{local}@{draft['domain']}"
            emails.append((len(emails) + 1, None, contact_id, email))
        birthday = None
        if rng.random() < 0.2:
            birthday = dt.date(
                rng.randint(1960, 2002), rng.randint(1, 12), rng.randint(1, 28)
            )
        contacts.append(
            (
                contact_id,
                company_id,
                last,
                first,
                middle,
                rng.choices(POSITIONS, weights=[w for _, w in POSITIONS])[0][0],
                email,
                birthday,
                "[]",
                person_key(last, first, middle),
            )
        )
        if rng.random() < 0.9:
            number = self.mobile()
            phones.append(
                (
                    len(phones) + 1,
                    None,
                    contact_id,
                    number,
                    None,
                    self.raw_phone(number),
                    "mobile",
                )
            )
        if draft["phones"] and rng.random() < 0.3:
            number, raw = draft["phones"][0]
            extension = str(rng.randint(100, 999))
            phones.append(
                (
                    len(phones) + 1,
                    None,
                    contact_id,
                    number,
                    extension,
                    f"{raw} доб. {extension}",
                    "work",
                )
            )


# -- the database --------------------------------------------------------------------


@dataclass(frozen=True)
class ClientBase:
    url: str  # SQLAlchemy URL (postgresql+asyncpg://...)
    dsn: str  # the same for asyncpg
    params: Params
    manifest: dict[str, Any]
    pgdata: Path | None
    reused: bool

    @property
    def planted(self) -> list[tuple[int, int, str]]:
        return [tuple(p) for p in self.manifest["planted"]]  # type: ignore[misc]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("client base")
    group.add_argument(
        "--database-url",
        help="PostgreSQL to fill and use (an empty, migrated or new database); "
        "default: embedded PostgreSQL in --data-dir",
    )
    group.add_argument(
        "--data-dir",
        type=Path,
        help="embedded server folder, reused when present "
        "(default /tmp/cc-clientbase-<parameters>)",
    )
    group.add_argument("--companies", type=int, default=200_000)
    group.add_argument("--contacts", type=int, default=1_000_000)
    group.add_argument(
        "--planted",
        type=int,
        default=3_000,
        help="planted duplicate companies (a third each: same INN, phone, typo name)",
    )
    group.add_argument("--seed", type=int, default=20261204)
    group.add_argument(
        "--rebuild", action="store_true", help="throw the cached base away first"
    )


def params_of(args: argparse.Namespace) -> Params:
    if args.planted >= args.companies // 2:
        raise SystemExit("--planted must be less than half of --companies")
    return Params(args.companies, args.contacts, args.planted, args.seed)


def asyncpg_dsn(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def sqlalchemy_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


@contextlib.asynccontextmanager
async def clientbase(args: argparse.Namespace) -> AsyncIterator[ClientBase]:
    """The base described by ``args``: reused when cached, else generated now."""
    from config.database import start_embedded, stop_embedded

    params = params_of(args)
    data_dir: Path | None = None
    already_running = False
    if args.database_url:
        url = sqlalchemy_url(args.database_url)
    else:
        data_dir = args.data_dir or Path(f"/tmp/cc-clientbase-{params.tag}")
        if args.rebuild and data_dir.exists():
            await asyncio.to_thread(stop_embedded, data_dir)
            shutil.rmtree(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        # The embedded server runs as an unprivileged user when we are root.
        os.chmod(data_dir, 0o755)
        # A server another benchmark of ours is using is left running for it.
        already_running = (data_dir / "pgdata" / "postmaster.pid").exists()
        started = time.perf_counter()
        url = await asyncio.to_thread(start_embedded, data_dir)
        print(
            f"embedded PostgreSQL: {data_dir} "
            f"(started in {time.perf_counter() - started:.1f} s)",
            flush=True,
        )
    try:
        base = await _prepare(
            url, params, rebuild=args.rebuild and bool(args.database_url)
        )
        yield ClientBase(
            url=url,
            dsn=asyncpg_dsn(url),
            params=params,
            manifest=base[0],
            pgdata=data_dir / "pgdata" if data_dir else None,
            reused=base[1],
        )
    finally:
        if data_dir is not None and not already_running:
            await asyncio.to_thread(stop_embedded, data_dir)


async def _prepare(
    url: str, params: Params, *, rebuild: bool
) -> tuple[dict[str, Any], bool]:
    dsn = asyncpg_dsn(url)
    conn = await asyncpg.connect(dsn)
    try:
        manifest = await _read_manifest(conn)
        if (
            manifest is not None
            and manifest["params"] == params.as_dict()
            and not rebuild
        ):
            print(
                f"client base: reused ({manifest['counts']['companies']:,} companies, "
                f"{manifest['counts']['contacts']:,} contacts; generated in "
                f"{manifest['timings']['total']:.0f} s on {manifest['generated_at']})",
                flush=True,
            )
            # A base generated before a new migration gets it now (an index added
            # on a million rows takes a while): figures are for today's schema.
            mark = time.perf_counter()
            await asyncio.to_thread(upgrade, url)
            print(
                f"client base: schema at head ({time.perf_counter() - mark:.1f} s)",
                flush=True,
            )
            return manifest, True
        if manifest is None and await _has_clients(conn):
            raise SystemExit(
                "the database already holds companies that are not a generated bench "
                "base; give an empty database"
            )
    finally:
        await conn.close()

    print(f"client base: generating {params.tag} ...", flush=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    await asyncio.to_thread(upgrade, url)
    timings["migrate"] = time.perf_counter() - started

    conn = await asyncpg.connect(dsn)
    try:
        if manifest is not None:
            await conn.execute(
                f"TRUNCATE {', '.join(LOADED_TABLES)}, {MANIFEST_TABLE} CASCADE"
            )
        managers = await _managers(conn)
        await _tune(conn)

        mark = time.perf_counter()
        data = Generator(params, managers).generate()
        timings["generate"] = time.perf_counter() - mark
        print(
            f"  generated in Python: {timings['generate']:.1f} s "
            f"({len(data.companies):,} companies, {len(data.contacts):,} contacts, "
            f"{len(data.phones):,} phones, {len(data.emails):,} e-mails, "
            f"{len(data.equipment):,} equipment rows)",
            flush=True,
        )

        timings.update(await _load(conn, data))
        timings["total"] = time.perf_counter() - started
        manifest = {
            "params": params.as_dict(),
            "generated_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "timings": timings,
            "counts": {
                "companies": len(data.companies),
                "contacts": len(data.contacts),
                "phones": len(data.phones),
                "emails": len(data.emails),
                "equipment": len(data.equipment),
                "managers": len(managers),
            },
            "planted": data.planted,
        }
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {MANIFEST_TABLE} (manifest jsonb NOT NULL)"
        )
        await conn.execute(f"DELETE FROM {MANIFEST_TABLE}")
        await conn.execute(
            f"INSERT INTO {MANIFEST_TABLE} (manifest) VALUES ($1::jsonb)",
            json.dumps(manifest),
        )
    finally:
        await conn.close()

    print(
        "client base: generation took {total:.1f} s (migrate {migrate:.1f}, "
        "Python {generate:.1f}, COPY {copy:.1f}, indexes {indexes:.1f}, "
        "VACUUM ANALYZE {vacuum:.1f})".format(**timings),
        flush=True,
    )
    return manifest, False


async def _read_manifest(conn: asyncpg.Connection) -> dict[str, Any] | None:
    exists = await conn.fetchval("SELECT to_regclass($1)", MANIFEST_TABLE)
    if exists is None:
        return None
    value = await conn.fetchval(f"SELECT manifest FROM {MANIFEST_TABLE} LIMIT 1")
    return json.loads(value) if value else None


async def _has_clients(conn: asyncpg.Connection) -> bool:
    if await conn.fetchval("SELECT to_regclass('companies')") is None:
        return False
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM companies)"))


async def _managers(conn: asyncpg.Connection) -> list[int]:
    """Managers to be responsible for companies; their passwords are unusable."""
    rows = []
    for n in range(1, MANAGERS + 1):
        rows.append(
            await conn.fetchval(
                """
                INSERT INTO users (login, full_name, role, password_hash, language,
                                   is_active)
                VALUES ($1, $2, 'manager', '!bench', 'ru', true)
                ON CONFLICT (login) DO UPDATE SET full_name = excluded.full_name
                RETURNING id
                """,
                f"bench-manager-{n}",
                f"Менеджер {n}",
            )
        )
    return rows


async def _tune(conn: asyncpg.Connection) -> None:
    """Bulk-load settings for this session; WAL room when we own the server."""
    await conn.execute("SET maintenance_work_mem = '1GB'")
    await conn.execute("SET synchronous_commit = off")
    with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
        await conn.execute("ALTER SYSTEM SET max_wal_size = '8GB'")
        await conn.execute("SELECT pg_reload_conf()")


async def _load(conn: asyncpg.Connection, data: Generated) -> dict[str, float]:
    timings: dict[str, float] = {}
    indexes = await conn.fetch(
        """
        SELECT i.indexname, i.indexdef
        FROM pg_indexes i
        WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[])
          AND NOT EXISTS (
              SELECT 1 FROM pg_constraint c
              WHERE c.conindid = (quote_ident(i.schemaname) || '.'
                                  || quote_ident(i.indexname))::regclass)
        """,
        list(LOADED_TABLES),
    )
    for row in indexes:
        await conn.execute(f'DROP INDEX "{row["indexname"]}"')

    mark = time.perf_counter()
    async with conn.transaction():
        # Our own rows are consistent by construction; skip the per-row FK checks
        # where the role may (superuser, as on the embedded server).
        replica = True
        try:
            await conn.execute("SET LOCAL session_replication_role = replica")
        except asyncpg.InsufficientPrivilegeError:
            replica = False
        for table, columns, records in (
            ("companies", COMPANY_COLUMNS, data.companies),
            ("contacts", CONTACT_COLUMNS, data.contacts),
            ("phones", PHONE_COLUMNS, data.phones),
            ("emails", EMAIL_COLUMNS, data.emails),
            ("equipment", EQUIPMENT_COLUMNS, data.equipment),
        ):
            step = time.perf_counter()
            await conn.copy_records_to_table(table, records=records, columns=columns)
            print(
                f"  COPY {table}: {len(records):,} rows in "
                f"{time.perf_counter() - step:.1f} s"
                + ("" if replica else " (with foreign-key checks)"),
                flush=True,
            )
    timings["copy"] = time.perf_counter() - mark

    for table in LOADED_TABLES:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )

    mark = time.perf_counter()
    for row in indexes:
        await conn.execute(row["indexdef"])
    timings["indexes"] = time.perf_counter() - mark
    print(f"  rebuilt {len(indexes)} indexes in {timings['indexes']:.1f} s", flush=True)

    mark = time.perf_counter()
    for table in LOADED_TABLES:
        await conn.execute(f"VACUUM (ANALYZE) {table}")
    timings["vacuum"] = time.perf_counter() - mark
    return timings


# -- shared by the benchmarks ----------------------------------------------------------


async def scratch_copy(base: ClientBase, name: str) -> str:
    """A throwaway copy of the base (CREATE DATABASE ... TEMPLATE) for benchmarks
    that write; returns its SQLAlchemy URL. Drop it with ``drop_copy``."""
    conn = await asyncpg.connect(base.dsn)
    try:
        source = await conn.fetchval("SELECT current_database()")
    finally:
        await conn.close()
    admin = await asyncpg.connect(base.dsn, database="postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    finally:
        await admin.close()
    return _with_database(base.url, source, name)


async def drop_copy(base: ClientBase, name: str) -> None:
    admin = await asyncpg.connect(base.dsn, database="postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _with_database(url: str, source: str, name: str) -> str:
    head, sep, query = url.partition("?")
    prefix, _, database = head.rpartition("/")
    if database != source:
        raise SystemExit(f"cannot tell the database name in {url!r}")
    return f"{prefix}/{name}{sep}{query}"


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 2,000 values is the 1,980th smallest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_line(label: str, seconds: Sequence[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{label:<28} n={len(ms):>5}  p50 {percentile(ms, 0.5):8.2f} ms  "
        f"p90 {percentile(ms, 0.9):8.2f} ms  p99 {percentile(ms, 0.99):8.2f} ms  "
        f"max {max(ms):8.2f} ms"
    )


def header() -> None:
    import platform
    import shlex

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"$ {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load}, Python "
        f"{platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        flush=True,
    )


async def server_line(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        version = await conn.fetchval("SHOW server_version")
        buffers = await conn.fetchval("SHOW shared_buffers")
        work_mem = await conn.fetchval("SHOW work_mem")
        size = await conn.fetchval(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        )
    finally:
        await conn.close()
    return (
        f"PostgreSQL {version}, shared_buffers {buffers}, work_mem {work_mem}, "
        f"database {size}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args()
    header()

    async def run() -> None:
        async with clientbase(args) as base:
            print(await server_line(base.dsn))

    asyncio.run(run())


if __name__ == "__main__":
    main()
