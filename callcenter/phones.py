"""Phone numbers: one normal form for storage and lookup, one display form.

Every number that enters the system (typed by a user, imported, reported by Asterisk)
is normalized once to E.164 digits without the plus (``79161234567``), which is what
the phone index stores and what a caller lookup searches. An extension ("доб. 12",
"ext. 12", "#12") is split off and kept separately, and so is a word naming the kind
of number ("моб.", "рабочий", "факс"); without one, phonenumbers tells a mobile
number from a fixed line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

_EXTENSION_RE = re.compile(
    r"(?:доб\.?|добавочный|ext\.?|extension|вн\.?|#|x)\s*(\d{1,6})\s*$", re.IGNORECASE
)
_NOT_PHONE_RE = re.compile(r"[^\d\s()+\-.]")
# The kinds of number a phone can be (clients.models.PhoneKind), by the words for them.
KIND_WORDS = {
    "мобильный": "mobile",
    "сотовый": "mobile",
    "моб": "mobile",
    "сот": "mobile",
    "mobile": "mobile",
    "cell": "mobile",
    "рабочий": "work",
    "раб": "work",
    "work": "work",
    "другой": "other",
    "домашний": "other",
    "дом": "other",
    "факс": "other",
    "home": "other",
    "fax": "other",
}
_KIND_RE = re.compile(
    r"\(?\b(" + "|".join(sorted(KIND_WORDS, key=len, reverse=True)) + r")\b\.?\)?",
    re.IGNORECASE,
)
# What may reach an AMI action as a number to dial: digits and one leading plus.
_DIALABLE_RE = re.compile(r"^\+?\d{2,20}\Z")


class InvalidPhoneNumber(ValueError):
    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"{raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    e164: str  # digits only, country code first: 79161234567
    extension: str | None = None
    kind: str = "work"  # work, mobile, other

    @property
    def display(self) -> str:
        return format_phone(self.e164) + (
            f" доб. {self.extension}" if self.extension else ""
        )


def parse_phone(raw: str, region: str = "RU") -> PhoneNumber:
    """Parse a number written any common way; raise InvalidPhoneNumber if it is not one."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber(raw, "пустой номер")
    if len(text) > 64 or any(c in text for c in "\r\n\0"):
        raise InvalidPhoneNumber(raw, "это не номер телефона")

    kind = None
    named = _KIND_RE.search(text)
    if named:
        kind = KIND_WORDS[named.group(1).lower()]
        text = (text[: named.start()] + " " + text[named.end() :]).strip(" ,;")

    extension = None
    match = _EXTENSION_RE.search(text)
    if match:
        extension = match.group(1)
        text = text[: match.start()].rstrip(" ,;")

    if _NOT_PHONE_RE.search(text):
        # phonenumbers would read letters as a keypad (8 916 FLOWERS): refuse them.
        raise InvalidPhoneNumber(
            raw, "в номере только цифры, пробелы и знаки + ( ) - ."
        )
    digits = re.sub(r"\D", "", text)
    if region == "RU" and not text.lstrip().startswith("+"):
        # Russian habits: 8 (916) ... is the trunk prefix, and a bare ten-digit
        # number is a national number without the country code.
        if len(digits) == 11 and digits[0] == "8":
            text = "+7" + digits[1:]
        elif len(digits) == 11 and digits[0] == "7":
            text = "+" + digits
        elif len(digits) == 10:
            text = "+7" + digits

    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(raw, "это не номер телефона") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber(raw, "неверное количество цифр")

    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if kind is None:
        mobile = phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
        kind = "mobile" if mobile else "work"
    return PhoneNumber(
        e164=e164.lstrip("+"), extension=extension or parsed.extension, kind=kind
    )


def normalize_caller(raw: str | None, region: str = "RU") -> str | None:
    """Normalize a number Asterisk reports; None for anonymous or unparseable ones."""
    if not raw or raw in ("<unknown>", "anonymous", "unknown"):
        return None
    try:
        return parse_phone(raw, region).e164
    except InvalidPhoneNumber:
        return None


def format_phone(e164: str) -> str:
    """Display form in Russian business habit: +7 (916) 123-45-67."""
    digits = re.sub(r"\D", "", e164)
    if len(digits) == 11 and digits[0] == "7":
        return f"+7 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:11]}"
    try:
        parsed = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(
        parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def check_dialable(number: str) -> str:
    """Refuse anything but digits and a leading plus before it reaches an AMI action."""
    if not isinstance(number, str) or not _DIALABLE_RE.match(number):
        raise InvalidPhoneNumber(
            str(number)[:64], "набрать можно только цифры и + в начале"
        )
    return number
