"""Reading import files into one shape: a header row and numbered rows of text.

Every format ends up as a :class:`Sheet`, so mapping, validation and the report do not
care where the data came from. Tabular files (Excel, CSV, Outlook's CSV, 1C's Excel
export) keep their own headers; vCard and CommerceML are read into the canonical
field names (``callcenter.imports.fields``), which map onto themselves. Each row
keeps the number a person would look for: the line of a CSV file, the row of a
sheet, the line where a vCard begins, the ordinal of a 1C counterparty.

Reading is CPU and file work: callers run it in a worker thread.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as XmlParseError

import defusedxml.ElementTree as safe_xml
import vobject
from defusedxml import DefusedXmlException
from python_calamine import CalamineError, CalamineWorkbook, PasswordError

from callcenter.imports.errors import UnreadableFile
from callcenter.imports.fields import header_key, suggest_mapping

logger = logging.getLogger(__name__)

FORMATS = ("xlsx", "csv", "outlook", "vcf", "commerceml", "1c-xlsx")
FORMAT_LABELS = {
    "auto": "Определить автоматически",
    "xlsx": "Excel (.xlsx)",
    "csv": "CSV (UTF-8 или Windows-1251)",
    "outlook": "Outlook: экспорт контактов (CSV)",
    "vcf": "vCard (.vcf)",
    "commerceml": "1С: контрагенты (CommerceML, XML)",
    "1c-xlsx": "1С: контрагенты (Excel)",
}
MAX_ROWS = 100_000
# A header row is looked for among the first rows: 1C puts a title and the date of
# the report above the table.
HEADER_SEARCH_ROWS = 20
# csv's own default limit; a bigger cell is not something a person typed: its row
# is rejected, the file is still read.
MAX_CELL = 131_072

_OUTLOOK_MARKERS = (
    {"first name", "last name", "e mail address"},
    {"first name", "last name", "business phone"},
    {"имя", "фамилия", "адрес эл почты"},
    {"имя", "фамилия", "рабочий телефон"},
)
_ONE_C_MARKERS = {"наименование", "полное наименование", "инн"}


@dataclass(slots=True)
class Row:
    line: int
    cells: list[str]
    # A problem found while reading (a broken vCard): the row is reported as rejected.
    problem: str | None = None


@dataclass(slots=True)
class Sheet:
    format: str
    headers: list[str]
    rows: list[Row] = field(default_factory=list)

    def suggested_mapping(self) -> dict[str, str]:
        return suggest_mapping(self.headers)

    def sample(self, count: int = 3) -> list[list[str]]:
        return [row.cells for row in self.rows if row.problem is None][:count]


def read_file(data: bytes, file_name: str, format: str = "auto") -> Sheet:
    """Read an uploaded file; raises UnreadableFile with a reason for the user."""
    if not data.strip():
        raise UnreadableFile("файл пуст")
    if format == "auto":
        format = detect_format(data, file_name)
    if format not in FORMATS:
        raise UnreadableFile(f"неизвестный формат «{format}»")

    if format in ("xlsx", "1c-xlsx"):
        sheet = _read_xlsx(data)
        if format == "xlsx" and _ONE_C_MARKERS <= _keys(sheet.headers):
            format = "1c-xlsx"
    elif format in ("csv", "outlook"):
        sheet = _read_csv(data)
        if format == "csv" and _looks_like_outlook(sheet.headers):
            format = "outlook"
    elif format == "vcf":
        sheet = _read_vcards(data)
    else:
        sheet = _read_commerceml(data)
    sheet.format = format

    if not sheet.rows:
        raise UnreadableFile("в файле нет строк с данными")
    logger.info(
        "import file read name=%s format=%s rows=%s columns=%s",
        file_name,
        format,
        len(sheet.rows),
        len(sheet.headers),
    )
    return sheet


def detect_format(data: bytes, file_name: str) -> str:
    suffix = file_name.lower().rsplit(".", 1)[-1] if "." in file_name else ""
    head = data[:4096].lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n")
    if data[:2] == b"PK" or suffix in ("xlsx", "xlsm"):
        return "xlsx"
    if suffix == "xls":
        raise UnreadableFile(
            "старый формат Excel (.xls) не поддерживается: сохраните файл как .xlsx"
        )
    if suffix in ("vcf", "vcard") or head[:11].upper() == b"BEGIN:VCARD":
        return "vcf"
    if suffix == "xml" or head.startswith(b"<"):
        return "commerceml"
    return "csv"


def _keys(headers: list[str]) -> set[str]:
    return {header_key(h) for h in headers}


def _looks_like_outlook(headers: list[str]) -> bool:
    keys = _keys(headers)
    return any(marker <= keys for marker in _OUTLOOK_MARKERS)


def _cell(value: Any) -> str:
    """A cell as the text a person sees; whole numbers lose Excel's ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.strftime("%d.%m.%Y")
        return value.strftime("%d.%m.%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    return str(value).strip()


def _table(lines: Iterator[tuple[int, list[str]]], format: str) -> Sheet:
    """Find the header row among the first rows, then collect the data rows."""
    head: list[tuple[int, list[str]]] = []
    for numbered in lines:
        head.append(numbered)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    candidates = [(n, cells) for n, cells in head if any(cells)]
    if not candidates:
        raise UnreadableFile("в файле нет строк с данными")

    # The header is the row with the most recognised column names; a file with none
    # recognised starts with its header anyway (the user maps it by hand).
    def score(item: tuple[int, list[str]]) -> int:
        return len(suggest_mapping([c for c in item[1] if c]))

    best = max(candidates, key=score)
    if score(best) == 0:
        best = candidates[0]
    header_line, header_cells = best
    headers = _unique_headers(header_cells)

    sheet = Sheet(format=format, headers=headers)
    for line, cells in (*head, *lines):
        if line <= header_line or not any(cells):
            continue
        if len(sheet.rows) >= MAX_ROWS:
            raise UnreadableFile(f"больше {MAX_ROWS} строк: разделите файл на части")
        cells = (cells + [""] * len(headers))[: len(headers)]
        if any(len(cell) > MAX_CELL for cell in cells):
            longest = max(len(cell) for cell in cells)
            problem = f"ячейка длиной {longest:,} знаков: не больше {MAX_CELL:,}"
            sheet.rows.append(
                Row(
                    line=line,
                    cells=[""] * len(headers),
                    problem=problem.replace(",", " "),
                )
            )
            continue
        sheet.rows.append(Row(line=line, cells=cells))
    return sheet


def _unique_headers(cells: list[str]) -> list[str]:
    """Empty headers get a column letter, repeated ones a number: both stay mappable."""
    cells = list(cells)
    while cells and not cells[-1].strip():
        cells.pop()
    headers: list[str] = []
    for index, cell in enumerate(cells):
        name = cell.strip() or f"Колонка {index + 1}"
        base, copy = name, 2
        while name in headers:
            name, copy = f"{base} ({copy})", copy + 1
        headers.append(name)
    return headers


# -- Excel ----------------------------------------------------------------------------


def _read_xlsx(data: bytes) -> Sheet:
    # calamine (Rust) reads a 100,000-row sheet in seconds, where openpyxl's
    # read-only mode took minutes; values come typed (float, date, bool) as in Excel.
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not book.sheet_names:
            raise UnreadableFile("в книге Excel нет листов")
        # Rows keep their sheet numbers: the empty area above the table is kept.
        values = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except PasswordError:
        raise UnreadableFile("файл Excel защищён паролем: снимите защиту") from None
    except CalamineError as error:
        raise UnreadableFile(f"не удалось открыть файл Excel: {error}") from None

    def lines() -> Iterator[tuple[int, list[str]]]:
        for number, row in enumerate(values, 1):
            cells = [_cell(v) for v in row]
            while cells and not cells[-1]:
                cells.pop()
            yield number, cells

    return _table(lines(), "xlsx")


# -- CSV ------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 (Outlook's "Unicode" CSV), else Windows-1251.

    Windows-1251 decodes almost any byte string, so a file that is neither is caught by
    its content: NUL bytes or control characters mean it is not text at all.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    elif data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1251", errors="replace")
    sample = text[:65536]
    controls = sum(1 for c in sample if c < " " and c not in "\t\r\n")
    if "\0" in sample or controls > len(sample) // 100 + 2:
        raise UnreadableFile(
            "файл не похож на текст (CSV): проверьте формат и кодировку"
        )
    return text


def detect_delimiter(text: str) -> str:
    """``;`` (Russian Excel), ``,`` or a tab, judged by the first lines outside quotes."""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    unquoted = [re.sub(r'"[^"]*"', "", line) for line in lines]
    counts = {d: [line.count(d) for line in unquoted] for d in (";", ",", "\t")}

    def steady(delimiter: str) -> tuple[int, int]:
        per_line = counts[delimiter]
        if not per_line or not per_line[0]:
            return (0, 0)
        same = sum(1 for c in per_line if c == per_line[0])
        return (same, per_line[0])

    best = max((";", ",", "\t"), key=steady)
    return best if steady(best)[1] else ";"


def _read_csv(data: bytes) -> Sheet:
    text = decode_text(data)
    delimiter = detect_delimiter(text)
    # The whole file may be one cell: the limit is the upload's; _table rejects
    # the rows with a cell over MAX_CELL.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def lines() -> Iterator[tuple[int, list[str]]]:
        # reader.line_num is the physical line where the record ends; a record that
        # spans lines (a quoted line break) is reported at its first line.
        start = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise UnreadableFile(
                    f"строка {reader.line_num}: не удалось разобрать CSV ({error})"
                ) from None
            yield start, [c.strip() for c in cells]
            start = reader.line_num + 1

    return _table(lines(), "csv")


# -- vCard ----------------------------------------------------------------------------

VCARD_HEADERS = [
    "full_name",
    "last_name",
    "first_name",
    "middle_name",
    "company_name",
    "position",
    "phone",
    "mobile",
    "email",
    "address",
    "birthday",
    "contact_notes",
]
_BEGIN_RE = re.compile(r"^BEGIN:VCARD\s*$", re.IGNORECASE | re.MULTILINE)


def _read_vcards(data: bytes) -> Sheet:
    text = decode_text(data)
    starts = [m.start() for m in _BEGIN_RE.finditer(text)]
    if not starts:
        raise UnreadableFile("в файле нет карточек vCard (BEGIN:VCARD)")

    sheet = Sheet(format="vcf", headers=list(VCARD_HEADERS))
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        line = text.count("\n", 0, start) + 1
        try:
            card = vobject.readOne(text[start:end])
            values = _vcard_values(card)
        except Exception as error:  # noqa: BLE001 - vobject raises many kinds
            logger.debug("broken vcard line=%s error=%s", line, error)
            sheet.rows.append(
                Row(line, [""] * len(VCARD_HEADERS), "карточка vCard повреждена")
            )
            continue
        sheet.rows.append(Row(line, [values.get(h, "") for h in VCARD_HEADERS]))
    return sheet


def _vcard_values(card: Any) -> dict[str, str]:
    values: dict[str, str] = {}
    contents = card.contents
    if "n" in contents:
        name = contents["n"][0].value
        values["last_name"] = _joined(name.family)
        values["first_name"] = _joined(name.given)
        values["middle_name"] = _joined(name.additional)
    if "fn" in contents and not (values.get("last_name") or values.get("first_name")):
        values["full_name"] = str(contents["fn"][0].value).strip()
    if "org" in contents:
        org = contents["org"][0].value
        values["company_name"] = str(org[0] if isinstance(org, list) else org).strip()
    if "title" in contents:
        values["position"] = str(contents["title"][0].value).strip()

    work, mobile = [], []
    for tel in contents.get("tel", []):
        # vCard 3.0 writes TYPE=CELL; 2.1 (old phones, Outlook) a bare ;CELL.
        kinds = {str(k).upper() for k in tel.params.get("TYPE", [])}
        kinds |= {str(k).upper() for k in getattr(tel, "singletonparams", [])}
        (mobile if "CELL" in kinds else work).append(str(tel.value).strip())
    values["phone"] = "; ".join(work)
    values["mobile"] = "; ".join(mobile)
    values["email"] = "; ".join(str(e.value).strip() for e in contents.get("email", []))
    if "adr" in contents:
        adr = contents["adr"][0].value
        parts = (adr.code, adr.region, adr.city, adr.street, adr.extended)
        values["address"] = ", ".join(_joined(p) for p in parts if _joined(p))
    if "bday" in contents:
        values["birthday"] = str(contents["bday"][0].value).strip()
    if "note" in contents:
        values["contact_notes"] = str(contents["note"][0].value).strip()
    return values


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v).strip() for v in value if str(v).strip())
    return str(value or "").strip()


# -- 1C: CommerceML -------------------------------------------------------------------

COMMERCEML_HEADERS = [
    "company_name",
    "legal_name",
    "inn",
    "kpp",
    "ogrn",
    "address",
    "company_phone",
    "company_email",
    "full_name",
    "position",
    "phone",
    "email",
]
_ADDRESS_TAGS = ("Адрес", "ЮридическийАдрес", "АдресРегистрации", "ФактическийАдрес")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _text_of(element: Element, *path: str) -> str:
    """Text of the first element along ``path`` (local names), searched breadth-first
    below ``element`` but never inside representatives."""
    queue = [element]
    while queue:
        current = queue.pop(0)
        for child in current:
            name = _local(child.tag)
            if name == "Представители":
                continue
            if name == path[0]:
                if len(path) == 1:
                    text = (child.text or "").strip()
                    if text:
                        return text
                else:
                    found = _text_of(child, *path[1:])
                    if found:
                        return found
            queue.append(child)
    return ""


def _contacts(element: Element) -> tuple[list[str], list[str]]:
    """Phones and e-mails of ``<Контакты>`` directly under this element."""
    phones, emails = [], []
    for block in _children(element, "Контакты"):
        for contact in _children(block, "Контакт"):
            kind = _text_of(contact, "Тип").lower()
            value = _text_of(contact, "Значение")
            if not value:
                continue
            if "почт" in kind or "mail" in kind or "@" in value:
                emails.append(value)
            elif "факс" not in kind:
                phones.append(value)
    return phones, emails


def _counterparties(element: Element) -> Iterator[Element]:
    """Counterparties in document order, but not those nested in ``<Представители>``
    (those are the counterparty's people)."""
    for child in element:
        name = _local(child.tag)
        if name == "Контрагент":
            yield child
        elif name != "Представители":
            yield from _counterparties(child)


def _read_commerceml(data: bytes) -> Sheet:
    try:
        root = safe_xml.fromstring(data)
    except DefusedXmlException:
        raise UnreadableFile(
            "XML содержит запрещённые конструкции (DTD, сущности): файл отклонён"
        ) from None
    except XmlParseError as error:
        raise UnreadableFile(f"XML повреждён: {error}") from None

    sheet = Sheet(format="commerceml", headers=list(COMMERCEML_HEADERS))
    for number, party in enumerate(_counterparties(root), 1):
        address = ""
        for tag in _ADDRESS_TAGS:
            address = _text_of(party, tag, "Представление")
            if address:
                break
        phones, emails = _contacts(party)
        company = {
            "company_name": _text_of(party, "Наименование"),
            "legal_name": _text_of(party, "ПолноеНаименование")
            or _text_of(party, "ОфициальноеНаименование"),
            "inn": _text_of(party, "ИНН"),
            "kpp": _text_of(party, "КПП"),
            "ogrn": _text_of(party, "ОГРН"),
            "address": address,
            "company_phone": "; ".join(phones),
            "company_email": "; ".join(emails),
        }
        people = _representatives(party)
        for person in people or [{}]:
            values = {**company, **person}
            sheet.rows.append(Row(number, [values.get(h, "") for h in sheet.headers]))
    return sheet


def _representatives(party: Element) -> list[dict[str, str]]:
    people = []
    for block in _children(party, "Представители"):
        for item in _children(block, "Представитель"):
            # CommerceML 2.0x nests a <Контрагент> in each <Представитель>; later
            # versions put the fields in the <Представитель> itself.
            inner = _children(item, "Контрагент")
            person = inner[0] if inner else item
            name = _text_of(person, "Наименование")
            if not name:
                continue
            phones, emails = _contacts(person)
            relation = _text_of(person, "Отношение") or _text_of(item, "Отношение")
            if relation.lower() in ("контактное лицо", "представитель"):
                relation = ""  # a kind of relation, not a job title
            people.append(
                {
                    "full_name": name,
                    "position": relation,
                    "phone": "; ".join(phones),
                    "email": "; ".join(emails),
                }
            )
    return people
