import pytest

from callcenter.phones import (
    InvalidPhoneNumber,
    check_dialable,
    format_phone,
    normalize_caller,
    parse_phone,
)


@pytest.mark.parametrize(
    "raw",
    [
        "8 916 123-45-67",
        "+7 (916) 123-45-67",
        "79161234567",
        "9161234567",
        "8(916)1234567",
        " +7 916 123 45 67 ",
    ],
)
def test_every_common_spelling_is_one_number(raw: str) -> None:
    assert parse_phone(raw).e164 == "79161234567"


@pytest.mark.parametrize(
    ("raw", "extension"),
    [
        ("+7 (495) 111-22-33 доб. 12", "12"),
        ("8 495 111-22-33 доб 7", "7"),
        ("+7 495 111 22 33 ext. 305", "305"),
        ("+7 495 111-22-33 #44", "44"),
    ],
)
def test_extension_is_split_off(raw: str, extension: str) -> None:
    number = parse_phone(raw)

    assert number.e164 == "74951112233"
    assert number.extension == extension
    assert number.display == f"+7 (495) 111-22-33 доб. {extension}"


@pytest.mark.parametrize(
    "raw", ["", "abc", "123", "7916123456789012", "79161234567\r\nAction: Hangup"]
)
def test_bad_numbers_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as error:
        parse_phone(raw)

    assert error.value.reason


def test_display_follows_the_russian_habit() -> None:
    assert format_phone("79161234567") == "+7 (916) 123-45-67"
    assert format_phone("442079460958") == "+44 20 7946 0958"


@pytest.mark.parametrize("raw", [None, "", "<unknown>", "anonymous", "101"])
def test_unusable_caller_ids_become_none(raw: str | None) -> None:
    assert normalize_caller(raw) is None


@pytest.mark.parametrize("value", ["79161234567", "+79161234567"])
def test_dialable_numbers_pass(value: str) -> None:
    assert check_dialable(value) == value


@pytest.mark.parametrize("value", ["7916 123", "79161234567\n", "+", "7916;1", "*97"])
def test_anything_but_digits_and_a_leading_plus_is_not_dialled(value: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        check_dialable(value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 (916) 123-45-67", ("79161234567", None, "mobile")),  # a 9xx number
        ("+7 (495) 123-45-67", ("74951234567", None, "work")),
        ("8 495 123-45-67 (моб.)", ("74951234567", None, "mobile")),
        ("моб. +7 916 123-45-67", ("79161234567", None, "mobile")),
        ("+7 916 123-45-67, рабочий", ("79161234567", None, "work")),
        ("8 (495) 111-22-33 доб. 12 факс", ("74951112233", "12", "other")),
        ("(дом.) 8 812 765-43-21", ("78127654321", None, "other")),
    ],
)
def test_a_word_names_the_kind_of_number(
    raw: str, expected: tuple[str, str | None, str]
) -> None:
    number = parse_phone(raw)
    assert (number.e164, number.extension, number.kind) == expected


def test_a_kind_word_does_not_make_letters_a_number() -> None:
    with pytest.raises(InvalidPhoneNumber):
        parse_phone("моб. FLOWERS")
