"""One search box over the client base: names with typos, INN, phone, e-mail, equipment.

The text is read once (:func:`read_query`) into everything it could be: a full phone
number (E.164), the leading digits of one being typed, an INN or OGRN, an e-mail
address, a name key (:func:`callcenter.clients.validation.name_key`). Each reading is
looked up on its own index, every lookup carrying the user's visibility rule and a
LIMIT, so no common query reads a table from end to end:

- identifiers: b-tree equality or a b-tree range on ``companies.inn``/``ogrn``,
  ``phones.e164`` and ``emails.address``;
- names: the trigram GIN indexes on ``companies.name_key`` and ``contacts.name_key``
  through the ``%`` (similarity) and ``<%`` (word similarity, which also matches the
  beginning of a word still being typed) operators, thresholds set for the transaction;
- equipment: the trigram GIN index on ``lower(equipment.model)``.

- names being typed: full-text GIN indexes on the words of ``name_key``, every
  typed word as a prefix (``'маяк':* & 'плю':*``);

GIN cannot return rows in score order, so the prefix and typo lookups rank a sample
of their first ``CANDIDATES`` matches; see the constant for why. The typo lookup runs
only when the others found fewer than a page of names: its hits would rank below.

Ranking: an exact identifier first, then an identifier prefix, then a name equal to
the query, then names starting with it, then names and models by trigram score.
Results come grouped (companies, contact persons, equipment), each hit saying what
matched.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.clients.access import visible_companies, visible_contacts
from callcenter.clients.models import Company, Contact, Email, Equipment, Phone
from callcenter.clients.validation import name_key
from callcenter.db import SessionFactory
from callcenter.phones import InvalidPhoneNumber, format_phone, parse_phone
from callcenter.users.service import UserView

logger = logging.getLogger(__name__)

MAX_QUERY = 100
MAX_LIMIT = 50
# Names are looked up by the start of their words from this many characters on;
# shorter ones are still found when typed whole (equality on name_key).
PREFIX_MIN_CHARS = 3
# Typos are tolerated (trigram similarity) from this many characters on: below it a
# text shares a trigram with too many names (a 4-letter text with no match made
# PostgreSQL recheck 27,000 pages of contacts), and a one-letter typo in 4 letters
# leaves too little of the word to be similar anyway.
FUZZY_MIN_CHARS = 5
# Equipment models are short codes ("T46U"): looked up by trigrams from 3 characters.
MODEL_MIN_CHARS = 3
# Digits typed so far before an INN or phone prefix is worth looking up.
PREFIX_MIN_DIGITS = 5
PHONES_PER_RESULT = 3
# A one-letter typo in a short name still passes (similarity('ромошка', 'ромашка') =
# 0.45, word_similarity against 'ромашка плюс' = 0.45). Lower values let the GIN
# index return names sharing only a syllable: at 0.3, 'ромошка' had 20 000
# 'романов…' candidates to recheck on a 1M-contact base (1.5 s); at these, none.
SIMILARITY_THRESHOLD = 0.4
WORD_SIMILARITY_THRESHOLD = 0.45
# Rows a prefix or typo lookup reads before ranking. GIN indexes cannot return rows
# in score order, so ranking every match of a common word ("иванов" matches ~20% of
# a synthetic 1M-contact base) reads most of the table; instead the first CANDIDATES
# matches are ranked, and a precise lookup (equal name) runs beside them. Typing
# more letters narrows the matches until the sample is all of them.
CANDIDATES = 200
# A search box answers as you type; a lookup slower than this is abandoned.
STATEMENT_TIMEOUT_MS = 3000

# Rank of a hit: lower is better.
EXACT_ID = 0
ID_PREFIX = 1
EXACT_NAME = 2
NAME_PREFIX = 3
FUZZY = 4

_PHONE_CHARS_RE = re.compile(r"^[\d\s()+\-.]+\Z")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\Z")
_QUERY_CANCELED = "57014"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What a search text can mean; empty fields are readings that do not apply."""

    text: str
    key: str = ""  # name_key of the text
    model: str = ""  # lowercased, for lower(equipment.model)
    phone: str | None = None  # a full number, E.164 digits
    phone_prefix: str | None = None  # the leading E.164 digits of one being typed
    digits: str = ""  # the text is only digits (INN, OGRN, their beginning)
    email: str | None = None

    @property
    def has_letters(self) -> bool:
        return any(c.isalpha() for c in self.key)


@dataclass(slots=True)
class Hit:
    """One found record; ``match`` names what matched and ``matched`` shows it."""

    kind: str  # company, contact, equipment
    id: int
    rank: int
    score: float
    match: str  # inn, ogrn, phone, email, name, equipment
    matched: str
    fields: dict[str, Any] = field(default_factory=dict)
    phones: list[dict[str, Any]] = field(default_factory=list)

    def better_than(self, other: Hit) -> bool:
        return (self.rank, -self.score) < (other.rank, -other.score)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.fields,
            "match": self.match,
            "matched": self.matched,
            "rank": self.rank,
            "score": round(self.score, 3),
            "phones": self.phones,
        }


@dataclass(slots=True)
class SearchResults:
    query: str
    companies: list[Hit] = field(default_factory=list)
    contacts: list[Hit] = field(default_factory=list)
    equipment: list[Hit] = field(default_factory=list)
    # True when a lookup ran out of time and the rest were skipped.
    partial: bool = False
    took_ms: float = 0.0

    @property
    def total(self) -> int:
        return len(self.companies) + len(self.contacts) + len(self.equipment)

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "companies": [h.as_dict() for h in self.companies],
            "contacts": [h.as_dict() for h in self.contacts],
            "equipment": [h.as_dict() for h in self.equipment],
            "partial": self.partial,
            "took_ms": round(self.took_ms, 1),
        }


def read_query(raw: str, region: str = "RU") -> SearchQuery:
    """Every reading of a search text that is worth a lookup."""
    text_ = " ".join(raw.split())[:MAX_QUERY]
    if not text_:
        return SearchQuery(text="")

    email = text_.lower() if _EMAIL_RE.match(text_) else None
    digits = text_ if text_.isdigit() else ""
    phone = phone_prefix = None
    if _PHONE_CHARS_RE.match(text_):
        try:
            phone = parse_phone(text_, region).e164
        except InvalidPhoneNumber:
            phone = None
        phone_prefix = _phone_prefix(text_)

    return SearchQuery(
        text=text_,
        key=name_key(text_),
        model=text_.lower(),
        phone=phone,
        phone_prefix=phone_prefix,
        digits=digits,
        email=email,
    )


def _phone_prefix(typed: str) -> str | None:
    """The E.164 digits a partly typed number starts with, read the Russian way."""
    digits = re.sub(r"\D", "", typed)
    if typed.lstrip().startswith("+"):
        prefix = digits
    elif digits.startswith("8"):
        prefix = "7" + digits[1:]  # 8 is the trunk prefix of +7
    elif digits[:1] in ("3", "4", "8", "9"):
        prefix = "7" + digits  # a national number typed without the country code
    else:
        prefix = digits
    return prefix if len(prefix) >= PREFIX_MIN_DIGITS else None


def _digit_range(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, as a range the b-tree index can walk.

    A LIKE 'prefix%' would need a text_pattern_ops index under non-C collations;
    for strings of digits the range is the same set under any collation.
    """
    upper = str(int(prefix) + 1).zfill(len(prefix))
    if len(upper) > len(prefix):  # all nines: nothing sorts after the prefix
        return column >= prefix
    return and_(column >= prefix, column < upper)


async def search_clients(
    session: AsyncSession,
    raw: str,
    user: UserView,
    *,
    limit: int = 10,
    region: str = "RU",
) -> SearchResults:
    """Search-as-you-type over what ``user`` may see; at most ``limit`` hits per group.

    Runs several indexed lookups in the session's transaction (it sets transaction-local
    trigram thresholds and a statement timeout). If one runs out of time the results
    found so far are returned with ``partial`` set.
    """
    started = time.perf_counter()
    query = read_query(raw, region)
    limit = min(max(limit, 1), MAX_LIMIT)
    results = SearchResults(query=query.text)
    if not query.text:
        return results

    await session.execute(
        text(
            "SELECT set_config('pg_trgm.similarity_threshold', :s, true),"
            " set_config('pg_trgm.word_similarity_threshold', :w, true),"
            " set_config('statement_timeout', :t, true),"
            # Every lookup here is meant to run on an index; with LIMITs and no
            # ORDER BY the planner otherwise bets on a scan that finds matches early,
            # and loses it on rare words (measured: 1.8 s vs 60 ms on 200k companies).
            " set_config('enable_seqscan', 'off', true),"
            # A lookup reads a few index pages: starting a parallel worker took
            # longer (4 ms of a 5 ms equipment lookup) than the work it shared.
            " set_config('max_parallel_workers_per_gather', '0', true)"
        ),
        {
            "s": str(SIMILARITY_THRESHOLD),
            "w": str(WORD_SIMILARITY_THRESHOLD),
            "t": str(STATEMENT_TIMEOUT_MS),
        },
    )

    companies: dict[int, Hit] = {}
    contacts: dict[int, Hit] = {}
    equipment: dict[int, Hit] = {}
    lookups = [
        (companies, _company_identifiers(query, user, limit)),
        (contacts, _contact_identifiers(query, user, limit)),
        (companies, _company_names(query, user, limit)),
        (contacts, _contact_names(query, user, limit)),
        (equipment, _equipment_models(query, user, limit)),
    ]
    try:
        for found, statements in lookups:
            for lookup in statements:
                if lookup.fallback and _enough(found, limit):
                    continue
                for row in await session.execute(lookup.statement):
                    _keep(found, lookup.make_hit(row))
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) != _QUERY_CANCELED:
            raise
        # The transaction is aborted now: show what the faster lookups found.
        await session.rollback()
        results.partial = True
        logger.warning(
            "search lookup timed out user_id=%s chars=%s", user.id, len(query.text)
        )

    results.companies = _best(companies, limit)
    results.contacts = _best(contacts, limit)
    results.equipment = _best(equipment, limit)
    if not results.partial:
        await _attach_employers(session, results.contacts)
        await _attach_phones(session, results)

    results.took_ms = (time.perf_counter() - started) * 1000
    logger.debug(
        "search done user_id=%s chars=%s companies=%s contacts=%s equipment=%s ms=%.1f",
        user.id,
        len(query.text),
        len(results.companies),
        len(results.contacts),
        len(results.equipment),
        results.took_ms,
    )
    return results


# A statement and how to turn each of its rows into a hit.
MakeHit = Callable[[Any], Hit]


class Lookup(NamedTuple):
    statement: Select[Any]
    make_hit: MakeHit
    # Run only when the lookups before it found too little (see ``_enough``).
    fallback: bool = False


def _keep(found: dict[int, Hit], hit: Hit) -> None:
    known = found.get(hit.id)
    if known is None or hit.better_than(known):
        found[hit.id] = hit


def _enough(found: dict[int, Hit], limit: int) -> bool:
    """No typo lookup is needed: a page of better-ranked hits is there, or the text
    is a name as it is written in the base."""
    return len(found) >= limit or any(h.rank <= EXACT_NAME for h in found.values())


def _best(found: dict[int, Hit], limit: int) -> list[Hit]:
    ordered = sorted(
        found.values(),
        key=lambda h: (h.rank, -h.score, str(h.fields.get("name", "")), h.id),
    )
    return ordered[:limit]


# -- companies ---------------------------------------------------------------------

_COMPANY_COLUMNS = (
    Company.id,
    Company.name,
    Company.inn,
    Company.status,
    Company.region,
    Company.industry,
)


def _company_hit(rank: int, match: str, matched: Any = None) -> MakeHit:
    """A row-to-hit maker; ``matched`` is a value, a function of the row, or None
    for the name itself."""

    def make(row: Any) -> Hit:
        return Hit(
            kind="company",
            id=row.id,
            rank=rank,
            score=float(getattr(row, "score", 1.0)),
            match=match,
            matched=_shown(matched, row, row.name),
            fields={
                "name": row.name,
                "inn": row.inn,
                "status": row.status.value,
                "region": row.region,
                "industry": row.industry,
                "url": f"/clients/{row.id}",
            },
        )

    return make


def _company_identifiers(
    query: SearchQuery, user: UserView, limit: int
) -> list[Lookup]:
    visible = visible_companies(user)
    lookups: list[Lookup] = []
    digits = query.digits

    if len(digits) in (10, 12):
        lookups.append(
            Lookup(
                select(*_COMPANY_COLUMNS)
                .where(visible, Company.inn == digits)
                .limit(limit),
                _company_hit(EXACT_ID, "inn", digits),
            )
        )
    elif PREFIX_MIN_DIGITS <= len(digits) < 12:
        lookups.append(
            Lookup(
                select(*_COMPANY_COLUMNS)
                .where(visible, _digit_range(Company.inn, digits))
                .order_by(Company.inn)
                .limit(limit),
                _company_hit(ID_PREFIX, "inn", lambda row: row.inn),
            )
        )
    if len(digits) in (13, 15):
        lookups.append(
            Lookup(
                select(*_COMPANY_COLUMNS)
                .where(visible, Company.ogrn == digits)
                .limit(limit),
                _company_hit(EXACT_ID, "ogrn", digits),
            )
        )

    # A contact's number is stored with its company too, so this finds both kinds.
    if query.phone:
        owners = select(Phone.company_id).where(Phone.e164 == query.phone).limit(200)
        lookups.append(
            Lookup(
                select(*_COMPANY_COLUMNS)
                .where(visible, Company.id.in_(owners))
                .limit(limit),
                _company_hit(EXACT_ID, "phone", format_phone(query.phone)),
            )
        )
    if query.phone_prefix and query.phone_prefix != query.phone:
        # Walks the e164 index in order and stops after a page of visible owners;
        # a company with several matching numbers comes once per number (deduplicated
        # later), hence the larger LIMIT.
        lookups.append(
            Lookup(
                select(*_COMPANY_COLUMNS, Phone.e164)
                .join(Phone, Phone.company_id == Company.id)
                .where(visible, _digit_range(Phone.e164, query.phone_prefix))
                .order_by(Phone.e164)
                .limit(limit * PHONES_PER_RESULT),
                _company_hit(ID_PREFIX, "phone", lambda row: format_phone(row.e164)),
            )
        )

    if query.email:
        owners = select(Email.company_id).where(Email.address == query.email).limit(200)
        lookups.append(
            Lookup(
                select(*_COMPANY_COLUMNS)
                .where(visible, Company.id.in_(owners))
                .limit(limit),
                _company_hit(EXACT_ID, "email", query.email),
            )
        )
    return lookups


def _company_names(query: SearchQuery, user: UserView, limit: int) -> list[Lookup]:
    return _name_lookups_of(
        Company,
        _COMPANY_COLUMNS,
        visible_companies(user),
        _company_hit,
        (Company.name,),
        query,
        limit,
    )


# -- contact persons ---------------------------------------------------------------


_CONTACT_COLUMNS = (
    Contact.id,
    Contact.last_name,
    Contact.first_name,
    Contact.middle_name,
    Contact.position,
    Contact.company_id,
)


def _contact_statement(user: UserView) -> Select[Any]:
    # The employer's name is added to the few hits afterwards (_attach_companies):
    # joining it here made the planner read all companies for a common name.
    return select(*_CONTACT_COLUMNS).where(visible_contacts(user))


def _contact_hit(rank: int, match: str, matched: Any = None) -> MakeHit:
    def make(row: Any) -> Hit:
        full_name = " ".join(
            p for p in (row.last_name, row.first_name, row.middle_name) if p
        )
        return Hit(
            kind="contact",
            id=row.id,
            rank=rank,
            score=float(getattr(row, "score", 1.0)),
            match=match,
            matched=_shown(matched, row, full_name),
            fields={
                "name": full_name,
                "position": row.position,
                "company_id": row.company_id,
                "company_name": None,
                # A private client (no company) has a page of their own.
                "url": (
                    f"/clients/{row.company_id}"
                    if row.company_id
                    else f"/contacts/{row.id}"
                ),
            },
        )

    return make


def _contact_identifiers(
    query: SearchQuery, user: UserView, limit: int
) -> list[Lookup]:
    lookups: list[Lookup] = []
    if query.phone:
        owners = select(Phone.contact_id).where(Phone.e164 == query.phone).limit(200)
        lookups.append(
            Lookup(
                _contact_statement(user).where(Contact.id.in_(owners)).limit(limit),
                _contact_hit(EXACT_ID, "phone", format_phone(query.phone)),
            )
        )
    if query.phone_prefix and query.phone_prefix != query.phone:
        lookups.append(
            Lookup(
                _contact_statement(user)
                .add_columns(Phone.e164)
                .join(Phone, Phone.contact_id == Contact.id)
                .where(_digit_range(Phone.e164, query.phone_prefix))
                .order_by(Phone.e164)
                .limit(limit * PHONES_PER_RESULT),
                _contact_hit(ID_PREFIX, "phone", lambda row: format_phone(row.e164)),
            )
        )
    if query.email:
        owners = select(Email.contact_id).where(Email.address == query.email).limit(200)
        lookups.append(
            Lookup(
                _contact_statement(user).where(Contact.id.in_(owners)).limit(limit),
                _contact_hit(EXACT_ID, "email", query.email),
            )
        )
    return lookups


def _contact_names(query: SearchQuery, user: UserView, limit: int) -> list[Lookup]:
    return _name_lookups_of(
        Contact,
        _CONTACT_COLUMNS,
        visible_contacts(user),
        _contact_hit,
        (Contact.last_name, Contact.id),
        query,
        limit,
    )


# -- equipment ---------------------------------------------------------------------


def _equipment_models(query: SearchQuery, user: UserView, limit: int) -> list[Lookup]:
    model = query.model
    if len(model) < MODEL_MIN_CHARS:
        return []

    # The expression must be the indexed one (migration 0007) for the index to apply:
    # "Grundfos", "T46U" and "Yealink T46" all find the Yealink T46U.
    lowered = func.lower(Equipment.vendor.op("||")(" ").op("||")(Equipment.model))
    matches = or_(lowered.op("%")(model), literal(model).op("<%")(lowered))
    # A serial number is exact: one unit, whoever has it (as typed, or upper case).
    typed = list(dict.fromkeys((query.text, query.text.upper())))
    serial = Equipment.serial_numbers.op("?|")(literal(typed, ARRAY(Text)))
    matches = or_(matches, serial)
    is_serial = func.coalesce(serial, false())
    score = func.greatest(
        func.similarity(lowered, model), func.word_similarity(model, lowered)
    )
    columns = (
        Equipment.id,
        Equipment.contact_id,
        Equipment.kind,
        Equipment.vendor,
        Equipment.model,
        is_serial.label("by_serial"),
        score.label("score"),
    )
    # Every match is ranked here, no sample: joined to the visibility rule, a LIMIT
    # without ORDER BY made the planner walk all equipment by company (22 s for a
    # manager, measured), while ranking all matches of a common model word costs
    # about a second on 300k items.
    of_companies = (
        select(*columns, Company.id.label("company_id"), Company.name.label("owner"))
        .join(Company, Company.id == Equipment.company_id)
        .where(matches, visible_companies(user))
        .order_by(is_serial.desc(), score.desc(), Equipment.id)
        .limit(limit)
    )
    # A private client's equipment (no company): its own statement, so that each
    # visibility rule stays a plain join.
    of_people = (
        select(
            *columns,
            Contact.company_id,
            func.concat_ws(
                " ", Contact.last_name, Contact.first_name, Contact.middle_name
            ).label("owner"),
        )
        .join(Contact, Contact.id == Equipment.contact_id)
        .where(matches, Equipment.company_id.is_(None), visible_contacts(user))
        .order_by(is_serial.desc(), score.desc(), Equipment.id)
        .limit(limit)
    )
    statements = [of_companies, of_people]

    def make(row: Any) -> Hit:
        if row.by_serial:
            rank, match, matched = EXACT_ID, "serial", query.text
        else:
            exact = model in (row.model.lower(), f"{row.vendor} {row.model}".lower())
            rank, match, matched = (
                (EXACT_NAME if exact else FUZZY),
                "equipment",
                row.model,
            )
        return Hit(
            kind="equipment",
            id=row.id,
            rank=rank,
            score=float(row.score),
            match=match,
            matched=matched,
            fields={
                "name": row.model,
                "kind": row.kind,
                "vendor": row.vendor,
                "model": row.model,
                "company_id": row.company_id,
                "owner": row.owner,
                "url": (
                    f"/clients/{row.company_id}"
                    if row.company_id
                    else f"/contacts/{row.contact_id}"
                ),
            },
        )

    return [Lookup(statement, make) for statement in statements]


# -- shared pieces -----------------------------------------------------------------


def _shown(matched: Any, row: Any, name: str) -> str:
    if matched is None:
        return name
    return str(matched(row) if callable(matched) else matched)


def _name_lookups_of(
    model: Any,
    columns: tuple[Any, ...],
    visible: ColumnElement[bool],
    hit: Callable[..., MakeHit],
    tie_break: tuple[Any, ...],
    query: SearchQuery,
    limit: int,
) -> list[Lookup]:
    """Companies' or contacts' names: equal to the text, then the sampled prefix
    and typo lookups ranked by trigram score."""
    if not query.key or not query.has_letters:
        return []
    key = query.key
    lookups = [
        Lookup(
            select(*columns).where(visible, model.name_key == key).limit(limit),
            hit(EXACT_NAME, "name"),
        )
    ]
    score = _name_score(model.name_key, key)
    for condition, rank, fallback in _name_lookups(model.name_key, key):
        sample = select(model.id).where(visible, condition).limit(CANDIDATES).subquery()
        ranked = (
            select(*columns, score.label("score"))
            .join(sample, sample.c.id == model.id)
            .order_by(score.desc(), *tie_break)
            .limit(limit)
        )
        lookups.append(Lookup(ranked, hit(rank, "name"), fallback))
    return lookups


def _name_lookups(column: Any, key: str) -> list[tuple[ColumnElement[bool], int, bool]]:
    """The sampled name lookups for ``key``: (condition, rank, fallback)."""
    lookups = []
    if len(key) >= PREFIX_MIN_CHARS:
        lookups.append((_words_start_with(column, key), NAME_PREFIX, False))
    if len(key) >= FUZZY_MIN_CHARS:
        lookups.append((_name_matches(column, key), FUZZY, True))
    return lookups


def _words_start_with(column: Any, key: str) -> ColumnElement[bool]:
    """Every word of ``key`` starts a word of the name (the full-text GIN index).

    A name key holds only word characters and spaces, so quoting each word is
    enough to keep tsquery syntax out of it.
    """
    words = " & ".join(f"'{word}':*" for word in key.split())
    return func.to_tsvector(literal_column("'simple'::regconfig"), column).op("@@")(
        func.to_tsquery(literal_column("'simple'::regconfig"), words)
    )


def _name_matches(column: Any, key: str) -> ColumnElement[bool]:
    # Both operators are answered by the gin_trgm_ops index: ``%`` compares whole
    # strings, ``<%`` finds the key inside a longer name (or the start of a word).
    return or_(column.op("%")(key), literal(key).op("<%")(column))


def _name_score(column: Any, key: str) -> ColumnElement[float]:
    return func.greatest(
        func.similarity(column, key), func.word_similarity(key, column)
    )


async def _attach_employers(session: AsyncSession, contacts: list[Hit]) -> None:
    company_ids = {h.fields["company_id"] for h in contacts if h.fields["company_id"]}
    if not company_ids:
        return
    names = dict(
        (
            await session.execute(
                select(Company.id, Company.name).where(Company.id.in_(company_ids))
            )
        ).all()
    )
    for hit in contacts:
        hit.fields["company_name"] = names.get(hit.fields["company_id"])


async def _attach_phones(session: AsyncSession, results: SearchResults) -> None:
    """Numbers to call from the result list: the matched one first, then a few more."""
    company_ids = {h.id for h in results.companies}
    company_ids.update(
        h.fields["company_id"] for h in results.equipment if h.fields["company_id"]
    )
    contact_ids = {h.id for h in results.contacts}
    if not company_ids and not contact_ids:
        return

    rows = (
        await session.execute(
            select(Phone.company_id, Phone.contact_id, Phone.e164, Phone.extension)
            .where(
                or_(
                    Phone.company_id.in_(company_ids or [0]),
                    Phone.contact_id.in_(contact_ids or [0]),
                )
            )
            # The company's own numbers before its people's.
            .order_by(Phone.contact_id.is_not(None), Phone.id)
        )
    ).all()
    by_company: dict[int, list[dict[str, Any]]] = {}
    by_contact: dict[int, list[dict[str, Any]]] = {}
    for company_id, contact_id, e164, extension in rows:
        entry = {
            "e164": e164,
            "display": format_phone(e164),
            "extension": extension,
            "company_id": company_id,
            "contact_id": contact_id,
        }
        if company_id in company_ids:
            by_company.setdefault(company_id, []).append(entry)
        if contact_id in contact_ids:
            by_contact.setdefault(contact_id, []).append(entry)

    for hit in results.companies:
        hit.phones = _matched_first(by_company.get(hit.id, []), hit)
    for hit in results.contacts:
        hit.phones = _matched_first(by_contact.get(hit.id, []), hit)
    for hit in results.equipment:
        hit.phones = by_company.get(hit.fields["company_id"], [])[:PHONES_PER_RESULT]


def _matched_first(phones: Iterable[dict[str, Any]], hit: Hit) -> list[dict[str, Any]]:
    ordered = sorted(
        phones, key=lambda p: hit.match != "phone" or p["display"] != hit.matched
    )
    return ordered[:PHONES_PER_RESULT]


class ClientSearch:
    """The search box as a service: one session per search."""

    def __init__(self, sessions: SessionFactory, *, region: str = "RU") -> None:
        self._sessions = sessions
        self._region = region

    async def search(
        self, raw: str, user: UserView, *, limit: int = 10
    ) -> SearchResults:
        async with self._sessions() as session:
            return await search_clients(
                session, raw, user, limit=limit, region=self._region
            )
