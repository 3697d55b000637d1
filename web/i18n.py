"""Interface strings (Russian by default, English available) and display formats.

Russian business habits: +7 (916) 123-45-67, 04.12.2026 17:05, 1 234,56 ₽, times in
the configured zone (Europe/Moscow unless set).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from callcenter.phones import format_phone  # noqa: F401 - templates use it

LANGUAGES = ("ru", "en")

STRINGS: dict[str, dict[str, str]] = {
    "app_name": {"ru": "Колл-центр CRM", "en": "Call-center CRM"},
    "login_title": {"ru": "Вход", "en": "Sign in"},
    "login": {"ru": "Логин", "en": "Login"},
    "password": {"ru": "Пароль", "en": "Password"},
    "sign_in": {"ru": "Войти", "en": "Sign in"},
    "sign_out": {"ru": "Выйти", "en": "Sign out"},
    "bad_login": {"ru": "Неверный логин или пароль", "en": "Wrong login or password"},
    "too_many_logins": {
        "ru": "Слишком много попыток входа. Подождите несколько минут.",
        "en": "Too many sign-in attempts. Wait a few minutes.",
    },
    "calls": {"ru": "Звонки", "en": "Calls"},
    "clients": {"ru": "Клиенты", "en": "Clients"},
    "live": {"ru": "Звонки сейчас", "en": "Live calls"},
    "when": {"ru": "Когда", "en": "When"},
    "direction": {"ru": "Направление", "en": "Direction"},
    "client": {"ru": "Клиент", "en": "Client"},
    "number": {"ru": "Номер", "en": "Number"},
    "manager": {"ru": "Менеджер", "en": "Manager"},
    "outcome": {"ru": "Итог", "en": "Outcome"},
    "ring": {"ru": "Ожидание", "en": "Ring"},
    "talk": {"ru": "Разговор", "en": "Talk"},
    "recording": {"ru": "Запись", "en": "Recording"},
    "period_from": {"ru": "С", "en": "From"},
    "period_to": {"ru": "По", "en": "To"},
    "any": {"ru": "Все", "en": "Any"},
    "filter": {"ru": "Показать", "en": "Filter"},
    "no_calls": {"ru": "Звонков нет", "en": "No calls"},
    "unknown_number": {"ru": "Неизвестный номер", "en": "Unknown number"},
    "create_client": {"ru": "Создать клиента", "en": "Create client"},
    "open_card": {"ru": "Открыть карточку", "en": "Open card"},
    "incoming_call": {"ru": "Входящий звонок", "en": "Incoming call"},
    "last_interactions": {"ru": "Последние контакты", "en": "Last interactions"},
    "call_to": {"ru": "Позвонить", "en": "Call"},
    "call_details": {"ru": "Звонок", "en": "Call"},
    "legs": {"ru": "Участки звонка", "en": "Call legs"},
    "device": {"ru": "Устройство", "en": "Device"},
    "started": {"ru": "Начало", "en": "Started"},
    "answered": {"ru": "Ответ", "en": "Answered"},
    "ended": {"ru": "Конец", "en": "Ended"},
    "dial_status": {"ru": "Итог набора", "en": "Dial status"},
    "cause": {"ru": "Причина отбоя", "en": "Hangup cause"},
    "ami_events": {"ru": "События АТС", "en": "PBX events"},
    "search": {"ru": "Поиск", "en": "Search"},
    "company_name": {"ru": "Название компании", "en": "Company name"},
    "contact_person": {"ru": "Контактное лицо (Ф. И. О.)", "en": "Contact person"},
    "position": {"ru": "Должность", "en": "Position"},
    "email": {"ru": "Эл. почта", "en": "E-mail"},
    "inn": {"ru": "ИНН", "en": "INN"},
    "phone": {"ru": "Телефон", "en": "Phone"},
    "phones": {"ru": "Телефоны", "en": "Phones"},
    "contacts": {"ru": "Контактные лица", "en": "Contact persons"},
    "history": {"ru": "История", "en": "History"},
    "save": {"ru": "Сохранить", "en": "Save"},
    "new_client": {"ru": "Новый клиент", "en": "New client"},
    "status": {"ru": "Статус", "en": "Status"},
    "not_found": {"ru": "Не найдено", "en": "Not found"},
    "merged_here": {
        "ru": "Здесь теперь карточка объединённой записи",
        "en": "This card now holds the merged record",
    },
    "not_found_hint": {
        "ru": "Такой записи нет, или у вас нет к ней доступа.",
        "en": "There is no such record, or you have no access to it.",
    },
    "forbidden": {"ru": "Нет доступа", "en": "Access denied"},
    "pbx_offline": {"ru": "АТС не подключена", "en": "PBX not connected"},
    "pbx_online": {"ru": "АТС подключена", "en": "PBX connected"},
    "queue": {"ru": "Очередь", "en": "Queue"},
    "no_live_calls": {"ru": "Сейчас звонков нет", "en": "No calls right now"},
    "transferred": {"ru": "переведён", "en": "transferred"},
    "inferred": {
        "ru": "конец восстановлен после сбоя связи",
        "en": "end inferred after outage",
    },
    "dir_inbound": {"ru": "Входящий", "en": "Inbound"},
    "dir_outbound": {"ru": "Исходящий", "en": "Outbound"},
    "dir_internal": {"ru": "Внутренний", "en": "Internal"},
    "dir_originated": {"ru": "Из CRM", "en": "From CRM"},
    "dir_listen": {"ru": "Прослушивание", "en": "Listening"},
    "out_answered": {"ru": "Состоялся", "en": "Answered"},
    "out_missed": {"ru": "Пропущен", "en": "Missed"},
    "out_busy": {"ru": "Занято", "en": "Busy"},
    "out_no_answer": {"ru": "Нет ответа", "en": "No answer"},
    "out_failed": {"ru": "Сбой / перегрузка", "en": "Failed / congestion"},
    "out_cancelled": {"ru": "Отменён", "en": "Cancelled"},
    "st_originating": {"ru": "Набор", "en": "Dialling"},
    "st_ringing": {"ru": "Звонит", "en": "Ringing"},
    "st_active": {"ru": "Разговор", "en": "Talking"},
    "st_ended": {"ru": "Завершён", "en": "Ended"},
    "stage_manager": {"ru": "ваш телефон", "en": "your phone"},
    "stage_client": {"ru": "клиент", "en": "client"},
    "stage_pbx": {"ru": "АТС", "en": "PBX"},
    "rec_pending": {"ru": "обрабатывается", "en": "processing"},
    "rec_empty": {"ru": "пустая", "en": "empty"},
    "rec_missing": {"ru": "не найдена", "en": "not found"},
    "company_status_prospect": {"ru": "Потенциальный", "en": "Prospect"},
    "company_status_client": {"ru": "Клиент", "en": "Client"},
    "company_status_former": {"ru": "Бывший клиент", "en": "Former client"},
    "no_clients": {"ru": "Клиентов не найдено", "en": "No clients found"},
    "last_call": {"ru": "Последний звонок", "en": "Last call"},
    "c2c_queued": {"ru": "Вызов отправлен на АТС…", "en": "Call sent to the PBX…"},
    "c2c_manager_ringing": {
        "ru": "Звонит ваш телефон — снимите трубку",
        "en": "Your phone is ringing — pick it up",
    },
    "c2c_manager_answered": {
        "ru": "Соединяем с клиентом…",
        "en": "Calling the client…",
    },
    "c2c_connected": {"ru": "Разговор с клиентом", "en": "Connected to the client"},
    "c2c_ended": {"ru": "Разговор завершён", "en": "Call ended"},
    "fail_manager_no_answer": {
        "ru": "Вы не ответили на свой телефон",
        "en": "You did not answer your phone",
    },
    "fail_manager_busy": {"ru": "Ваш телефон занят", "en": "Your phone is busy"},
    "fail_manager_failed": {
        "ru": "Не удалось вызвать ваш телефон",
        "en": "Could not ring your phone",
    },
    "fail_client_busy": {"ru": "Клиент занят", "en": "The client is busy"},
    "fail_client_no_answer": {
        "ru": "Клиент не отвечает",
        "en": "The client does not answer",
    },
    "fail_client_failed": {
        "ru": "Линия перегружена или номер недоступен",
        "en": "Congestion or number unavailable",
    },
    "fail_client_cancelled": {"ru": "Звонок отменён", "en": "Call cancelled"},
    "fail_pbx_failed": {"ru": "АТС не приняла вызов", "en": "The PBX refused the call"},
    "listen": {"ru": "Слушать", "en": "Listen"},
    "listen_requested": {
        "ru": "Звонит ваш телефон: снимите трубку, чтобы слушать",
        "en": "Your phone rings: answer to listen",
    },
    "pop_in_call": {"ru": "В разговоре", "en": "In call"},
    "pop_answered_elsewhere": {
        "ru": "Ответил другой менеджер",
        "en": "Answered by a colleague",
    },
    "pop_missed": {"ru": "Пропущенный звонок", "en": "Missed call"},
    "pop_close": {"ru": "Закрыть", "en": "Close"},
    "legal_name": {"ru": "Полное наименование", "en": "Legal name"},
    "legal_form": {"ru": "Форма собственности", "en": "Legal form"},
    "kpp": {"ru": "КПП", "en": "KPP"},
    "ogrn": {"ru": "ОГРН", "en": "OGRN"},
    "address": {"ru": "Адрес", "en": "Address"},
    "region": {"ru": "Регион", "en": "Region"},
    "industry": {"ru": "Отрасль", "en": "Industry"},
    "size": {"ru": "Размер", "en": "Size"},
    "source": {"ru": "Источник", "en": "Source"},
    "segment": {"ru": "Сегмент", "en": "Segment"},
    "responsible": {"ru": "Ответственный", "en": "Responsible"},
    "nobody": {"ru": "— не назначен —", "en": "— nobody —"},
    "notes": {"ru": "Примечания", "en": "Notes"},
    "emails": {"ru": "Эл. почта", "en": "E-mail"},
    "completeness": {"ru": "Заполненность", "en": "Completeness"},
    "missing_fields": {"ru": "Не заполнено", "en": "Missing"},
    "invalid_fields": {"ru": "С ошибкой", "en": "Invalid"},
    "complete": {"ru": "Карточка заполнена", "en": "The card is complete"},
    "edit": {"ru": "Изменить", "en": "Edit"},
    "delete": {"ru": "Удалить", "en": "Delete"},
    "cancel": {"ru": "Отмена", "en": "Cancel"},
    "add_contact": {"ru": "Добавить контакт", "en": "Add contact"},
    "new_contact": {"ru": "Новое контактное лицо", "en": "New contact person"},
    "new_private_client": {"ru": "Новый частный клиент", "en": "New private client"},
    "private_client": {"ru": "Частный клиент", "en": "Private client"},
    "edit_contact": {"ru": "Контактное лицо", "en": "Contact person"},
    "edit_company": {"ru": "Изменение клиента", "en": "Edit client"},
    "last_name": {"ru": "Фамилия", "en": "Last name"},
    "first_name": {"ru": "Имя", "en": "First name"},
    "middle_name": {"ru": "Отчество", "en": "Middle name"},
    "birthday": {"ru": "День рождения", "en": "Birthday"},
    "channels": {"ru": "Другие каналы", "en": "Other channels"},
    "channels_hint": {
        "ru": "по одному в строке: telegram: @ivanov",
        "en": "one per line: telegram: @ivanov",
    },
    "lines_hint": {"ru": "по одному в строке", "en": "one per line"},
    "date_hint": {"ru": "дд.мм.гггг", "en": "dd.mm.yyyy"},
    "company": {"ru": "Компания", "en": "Company"},
    "no_company": {
        "ru": "— без компании (частный клиент) —",
        "en": "— no company (private client) —",
    },
    "move_hint": {
        "ru": "Смена компании переносит звонки и историю контакта",
        "en": "Changing the company moves the contact’s calls and history",
    },
    "equipment": {"ru": "Оборудование", "en": "Equipment"},
    "add_equipment": {"ru": "Добавить оборудование", "en": "Add equipment"},
    "eq_kind": {"ru": "Вид", "en": "Kind"},
    "eq_vendor": {"ru": "Производитель", "en": "Vendor"},
    "eq_model": {"ru": "Модель", "en": "Model"},
    "eq_quantity": {"ru": "Количество", "en": "Quantity"},
    "eq_serials": {"ru": "Серийные номера", "en": "Serial numbers"},
    "eq_installed_on": {"ru": "Дата установки", "en": "Installed on"},
    "eq_status_installed": {"ru": "Установлено", "en": "Installed"},
    "eq_status_planned": {"ru": "Планируется", "en": "Planned"},
    "no_equipment": {"ru": "Оборудования нет", "en": "No equipment"},
    "no_contacts": {"ru": "Контактных лиц нет", "en": "No contact persons"},
    "interactions": {"ru": "История взаимодействий", "en": "Interactions"},
    "no_interactions": {"ru": "Взаимодействий пока нет", "en": "No interactions yet"},
    "client_calls": {"ru": "Звонки и записи", "en": "Calls and recordings"},
    "change_history": {"ru": "История изменений", "en": "Change history"},
    "no_changes": {"ru": "Изменений нет", "en": "No changes"},
    "who": {"ru": "Кто", "en": "Who"},
    "field": {"ru": "Поле", "en": "Field"},
    "change": {"ru": "Изменение", "en": "Change"},
    "saved": {"ru": "Сохранено", "en": "Saved"},
    "duplicates_title": {
        "ru": "Похожие клиенты уже есть в базе",
        "en": "Similar clients already exist",
    },
    "duplicates_hint": {
        "ru": "Проверьте, не тот же ли это клиент. Если нет — сохраните всё равно.",
        "en": "Check whether it is the same client. If not, save anyway.",
    },
    "save_anyway": {"ru": "Всё равно сохранить", "en": "Save anyway"},
    "dup_inn": {"ru": "тот же ИНН", "en": "same INN"},
    "dup_phone": {"ru": "тот же телефон", "en": "same phone"},
    "dup_email": {"ru": "та же эл. почта", "en": "same e-mail"},
    "dup_name": {"ru": "похожее название", "en": "similar name"},
    "dup_hidden": {"ru": "чужой клиент", "en": "another manager’s client"},
    "checking": {"ru": "Проверяем дубли…", "en": "Checking for duplicates…"},
    "no_duplicates": {"ru": "Похожих клиентов нет", "en": "No similar clients"},
    "contact_phone": {"ru": "Телефон контакта", "en": "Contact’s phone"},
    "requisites": {"ru": "Реквизиты", "en": "Registration details"},
    "act_create": {"ru": "создание", "en": "created"},
    "act_update": {"ru": "изменение", "en": "changed"},
    "act_delete": {"ru": "удаление", "en": "deleted"},
    "act_move": {"ru": "перенос", "en": "moved"},
    "act_share": {"ru": "доступ", "en": "shared"},
    "act_merge": {"ru": "объединение", "en": "merged"},
    "phone_kind_mobile": {"ru": "моб.", "en": "mobile"},
    "phone_kind_other": {"ru": "другой", "en": "other"},
    "act_unmerge": {"ru": "отмена объединения", "en": "merge undone"},
    "subject_contact": {"ru": "контакт", "en": "contact"},
    "subject_equipment": {"ru": "оборудование", "en": "equipment"},
    "moved_contacts": {"ru": "перенесено контактных лиц", "en": "contacts moved"},
    "moved_phones": {"ru": "перенесено телефонов", "en": "phones moved"},
    "moved_emails": {"ru": "перенесено адресов эл. почты", "en": "e-mails moved"},
    "moved_equipment": {"ru": "перенесено оборудования", "en": "equipment moved"},
    "moved_calls": {"ru": "перенесено звонков", "en": "calls moved"},
    "moved_interactions": {
        "ru": "перенесено записей истории",
        "en": "history entries moved",
    },
    "moved_shares": {"ru": "перенесено доступов", "en": "shares moved"},
    "merged_from": {"ru": "присоединена запись", "en": "merged record"},
    "merged_into_id": {"ru": "объединена с записью", "en": "merged into"},
    "kind_call": {"ru": "Звонок", "en": "Call"},
    "kind_letter": {"ru": "Письмо", "en": "Letter"},
    "kind_meeting": {"ru": "Встреча", "en": "Meeting"},
    "kind_material": {"ru": "Материалы", "en": "Materials"},
    "kind_note": {"ru": "Заметка", "en": "Note"},
    "form_errors": {
        "ru": "Исправьте поля, отмеченные красным",
        "en": "Fix the fields marked in red",
    },
    "delete_equipment_confirm": {
        "ru": "Удалить это оборудование?",
        "en": "Delete this equipment?",
    },
    "back_to_card": {"ru": "К карточке", "en": "Back to the card"},
    "market": {"ru": "Рынок", "en": "Market"},
    "example": {"ru": "например", "en": "e.g."},
    "comma_hint": {"ru": "через запятую", "en": "comma-separated"},
    "recording_ready": {
        "ru": "Запись разговора готова",
        "en": "Call recording is ready",
    },
}


def translate(key: str, language: str) -> str:
    entry = STRINGS.get(key)
    if entry is None:
        return key
    return entry.get(language) or entry["ru"]


def js_strings(language: str) -> dict[str, str]:
    return {key: translate(key, language) for key in STRINGS}


def format_datetime(value: dt.datetime | str | None, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(zone).strftime("%d.%m.%Y %H:%M:%S")


def format_date(value: dt.date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def format_duration(seconds: int | float | None) -> str:
    if seconds is None:
        return ""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_money(amount: Decimal | float | int, currency: str = "₽") -> str:
    """1234.56 -> '1 234,56 ₽' (narrow no-break space between thousands)."""
    value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    whole, _, cents = f"{abs(value):.2f}".partition(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    thousands = "\u202f".join(groups)
    return f"{sign}{thousands},{cents}\u00a0{currency}"


# Messages for the panel's error codes, and Asterisk's hangup causes and dial statuses.
STRINGS.update(
    {
        "err_originate_in_progress": {
            "ru": "Звонок с вашего телефона уже набирается",
            "en": "A call from your phone is already being placed",
        },
        "err_pbx_unavailable": {
            "ru": "АТС недоступна: звонок не отправлен",
            "en": "The PBX is not available: the call was not placed",
        },
        "err_no_extension": {
            "ru": "У вас нет добавочного номера: звонить не с чего",
            "en": "You have no phone extension to call from",
        },
        "err_csrf": {
            "ru": "Страница устарела: обновите её и повторите",
            "en": "The page is stale: reload it and try again",
        },
        "err_unauthenticated": {"ru": "Войдите заново", "en": "Sign in again"},
        "err_forbidden": {"ru": "Нет доступа", "en": "Access denied"},
        "cause_0": {"ru": "Неизвестно", "en": "Unknown"},
        "cause_16": {"ru": "Нормальное завершение", "en": "Normal clearing"},
        "cause_17": {"ru": "Абонент занят", "en": "User busy"},
        "cause_18": {"ru": "Нет ответа устройства", "en": "No user responding"},
        "cause_19": {"ru": "Нет ответа", "en": "No answer"},
        "cause_21": {"ru": "Вызов отклонён", "en": "Call rejected"},
        "cause_26": {"ru": "Ответил другой", "en": "Answered elsewhere"},
        "cause_27": {"ru": "Направление не работает", "en": "Destination out of order"},
        "cause_34": {"ru": "Нет свободных линий", "en": "No circuit available"},
        "cause_38": {"ru": "Сеть не работает", "en": "Network out of order"},
        "dial_ANSWER": {"ru": "ответ", "en": "answer"},
        "dial_BUSY": {"ru": "занято", "en": "busy"},
        "dial_NOANSWER": {"ru": "нет ответа", "en": "no answer"},
        "dial_CANCEL": {"ru": "отмена", "en": "cancel"},
        "dial_CONGESTION": {"ru": "перегрузка", "en": "congestion"},
        "dial_CHANUNAVAIL": {"ru": "недоступен", "en": "unavailable"},
    }
)


def cause_text(code: int | None, text: str | None, language: str) -> str:
    """Asterisk's hangup cause in the user's language (its own text if unknown)."""
    if code is None:
        return ""
    key = f"cause_{code}"
    return (
        f"{code} {translate(key, language)}"
        if key in STRINGS
        else f"{code} {text or ''}"
    )
