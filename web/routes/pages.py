"""Server-rendered pages of the panel: calls, a call, live calls, and the client base
(list, card, company/contact/equipment forms, private clients).

Client forms post back here (CSRF token in the form) and work without JavaScript;
``static/clients.js`` only adds the duplicate check while the user types."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from callcenter.calls.errors import InvalidCallRequest, NoSuchCall
from callcenter.calls.models import Direction, Outcome
from callcenter.calls.service import CallFilters
from callcenter.clients.errors import DuplicatesFound, InvalidClientInput, NoSuchClient
from callcenter.clients.models import CompanyStatus, EquipmentStatus
from callcenter.clients.service import COMPANY_FIELDS, EQUIPMENT_FIELDS
from callcenter.phones import InvalidPhoneNumber, format_phone, parse_phone
from web.auth import SUPERVISORS, current_user, roles
from web.keys import SERVICES
from web.routes.api import call_filters

logger = logging.getLogger(__name__)


@roles()
async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/calls")


@roles()
async def calls_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    user = current_user(request)
    error = None
    try:
        filters = call_filters(request.query, services.zone)
        calls = await services.calls.list_calls(user, filters)
    except InvalidCallRequest as problem:
        error, calls = str(problem), []
    managers = await services.users.list_users() if user.sees_all_calls else []
    context: dict[str, Any] = {
        "calls": calls,
        "query": request.query,
        "error": error,
        "managers": managers,
        "directions": [d.value for d in Direction],
        "outcomes": [o.value for o in Outcome],
    }
    return aiohttp_jinja2.render_template("calls.html", request, context)


@roles()
async def call_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    try:
        call_id = uuid.UUID(request.match_info["call_id"])
    except ValueError:
        raise NoSuchCall("no such call") from None
    user = current_user(request)
    call = await services.calls.get_call(user, call_id)
    events = await services.calls.call_events(user, call_id) if call["linkedid"] else []
    return aiohttp_jinja2.render_template(
        "call.html", request, {"call": call, "events": events}
    )


# -- the client base: list, card, forms ------------------------------------------------

# The form edits every field the service logs for a company.
COMPANY_FORM_FIELDS = COMPANY_FIELDS
CONTACT_FORM_FIELDS = (
    "last_name",
    "first_name",
    "middle_name",
    "position",
    "birthday",
    "notes",
)
# The item's own fields: its owner comes from the page it is on.
EQUIPMENT_FORM_FIELDS = tuple(
    f for f in EQUIPMENT_FIELDS if f not in ("company_id", "contact_id")
)
LEGAL_FORM_CHOICES = (
    "ООО",
    "АО",
    "ПАО",
    "ЗАО",
    "ОАО",
    "ИП",
    "ГУП",
    "МУП",
    "АНО",
    "НКО",
)
SIZE_CHOICES = ("1–10", "11–50", "51–250", "251–1000", "более 1000")
CHANNEL_KINDS = ("telegram", "whatsapp", "viber", "skype", "vk", "other")
MAX_FIELD = 10_000


def _id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 9:
        raise NoSuchClient(0)
    return int(raw)


def ru_date(value: str | None) -> str:
    """``1980-12-04`` -> ``04.12.1980`` (how dates are written and typed here)."""
    if not value:
        return ""
    try:
        return dt.date.fromisoformat(value[:10]).strftime("%d.%m.%Y")
    except ValueError:
        return value


def _display_phone(raw: str) -> str:
    """The screen-pop passes E.164 digits; the form shows +7 (903) 555-12-34."""
    try:
        return format_phone(parse_phone(raw).e164) if raw.strip() else ""
    except InvalidPhoneNumber:
        return raw


_KIND_WORD = {"mobile": "моб.", "work": "раб.", "other": "другой"}


async def _open_record(
    request: web.Request, entity: str, record_id: int
) -> dict[str, Any]:
    """A company or contact for its card; an old link of a merged-away record
    redirects to the one that holds it now."""
    clients = request.app[SERVICES].clients
    user = current_user(request)
    load = clients.get_company if entity == "company" else clients.get_contact
    try:
        return await load(record_id, user=user)
    except NoSuchClient:
        survivor = await clients.survivor_of(entity, record_id, user=user)
        if survivor is None:
            raise
        path = "clients" if entity == "company" else "contacts"
        raise web.HTTPFound(f"/{path}/{survivor}?merged={record_id}") from None


def _phone_lines(phones: list[dict[str, Any]]) -> str:
    """Numbers for a form's text area, one a line, as they read back: extension
    ("доб. 45") and the kind where it is not the one the number implies."""
    lines = []
    for phone in phones:
        line = phone["display"]
        if phone.get("extension"):
            line += f" доб. {phone['extension']}"
        if parse_phone(phone["e164"]).kind != phone["kind"]:
            line += f" ({_KIND_WORD[phone['kind']]})"
        lines.append(line)
    return "\n".join(lines)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in re.split(r"[\n;]+", text) if line.strip()]


def _posted(
    posted: Any, names: tuple[str, ...], defaults: dict[str, str] | None = None
) -> dict[str, str]:
    """The form's values; a field the form did not send keeps its ``defaults`` value
    (so an edit form without some field leaves that field alone)."""
    defaults = defaults or {}
    return {
        name: str(posted[name]).strip()[:MAX_FIELD]
        if name in posted
        else defaults.get(name, "")
        for name in names
    }


async def _user_names(request: web.Request) -> dict[int, str]:
    users = await request.app[SERVICES].users.list_users()
    return {u.id: u.full_name for u in users}


def _render(
    template: str, request: web.Request, context: dict[str, Any], status: int = 200
) -> web.StreamResponse:
    return aiohttp_jinja2.render_template(template, request, context, status=status)


@roles()
async def clients_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    query = request.query.get("q", "")[:200]
    clients = await services.clients.list_companies(
        user=current_user(request), query=query
    )
    return _render("clients.html", request, {"clients": clients, "q": query})


@roles()
async def client_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    user = current_user(request)
    company_id = _id(request, "company_id")

    company = await _open_record(request, "company", company_id)
    history = await services.clients.history("company", company_id, user=user)
    # The calls rule (own calls, own clients; supervisors and up: all) decides which
    # calls and recordings of this client the user may hear.
    calls = await services.calls.list_calls(
        user, CallFilters(company_id=company_id, limit=50)
    )
    names = await _user_names(request)

    for contact in company["contacts"]:
        contact["birthday_display"] = ru_date(contact["birthday"])
    for item in company["equipment"]:
        item["installed_on_display"] = ru_date(item["installed_on"])
    context = {
        "company": company,
        "history": history,
        "calls": calls,
        "user_names": names,
        "saved": request.query.get("saved") == "1",
        # Came here through the link of a company merged into this one.
        "merged_from": request.query.get("merged", "")[:18].isdigit()
        and int(request.query["merged"]),
    }
    return _render("client.html", request, context)


def _company_form(company: dict[str, Any] | None, phone: str = "") -> dict[str, str]:
    if company is None:
        form = {name: "" for name in COMPANY_FORM_FIELDS}
        form.update(status="prospect", phones=phone, emails="")
        return form
    form = {
        name: "" if company.get(name) is None else str(company[name])
        for name in COMPANY_FORM_FIELDS
    }
    form["phones"] = _phone_lines(company["phones"])
    form["emails"] = "\n".join(company["emails"])
    return form


async def _company_form_context(
    request: web.Request, form: dict[str, str], **extra: Any
) -> dict[str, Any]:
    return {
        "form": form,
        "errors": {},
        "duplicates": [],
        "users": await request.app[SERVICES].users.list_users(),
        "legal_forms": LEGAL_FORM_CHOICES,
        "sizes": SIZE_CHOICES,
        "statuses": [s.value for s in CompanyStatus],
        **extra,
    }


async def _with_visibility(
    request: web.Request, candidates: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    services = request.app[SERVICES]
    visible = await services.clients.visible_company_ids(
        (int(c["company_id"]) for c in candidates), user=current_user(request)
    )
    names = await _user_names(request)
    return [
        {
            **c,
            "visible": c["company_id"] in visible,
            "responsible_name": names.get(c.get("responsible_id") or 0, ""),
        }
        for c in candidates
    ]


NEW_CLIENT_POSTED = COMPANY_FORM_FIELDS + (
    "company_name",
    "phone",
    "email",
    "contact_name",
    "position",
    "contact_phone",
)
# Where the new-client form shows an error the service reports for a field.
NEW_CLIENT_ERROR_FIELDS = {
    "name": "company_name",
    "phones": "phone",
    "emails": "email",
    "contacts.0.last_name": "contact_name",
    "contacts.0.first_name": "contact_name",
    "contacts.0.middle_name": "contact_name",
    "contacts.0.position": "position",
    "contacts.0.phones": "contact_phone",
}


@roles()
async def new_client_form(request: web.Request) -> web.StreamResponse:
    form = {name: "" for name in NEW_CLIENT_POSTED}
    phone = request.query.get("phone", "")[:64]
    form.update(
        status="prospect",
        responsible_id=str(current_user(request).id),
        phone=_display_phone(phone),
    )
    context = await _company_form_context(request, form)
    return _render("client_new.html", request, context)


@roles()
async def new_client_submit(request: web.Request) -> web.StreamResponse:
    """The full new-client form; the short one (company_name, phone, contact_name)
    is the same form with fewer fields filled."""
    services = request.app[SERVICES]
    user = current_user(request)
    posted = await request.post()
    form = _posted(posted, NEW_CLIENT_POSTED)
    form.setdefault("status", "prospect")

    data: dict[str, Any] = {
        name: form[name] for name in COMPANY_FORM_FIELDS if form[name]
    }
    data["name"] = form["company_name"] or form["name"]
    data["responsible_id"] = form["responsible_id"] or user.id
    data["phones"] = _lines(form["phone"])
    data["emails"] = _lines(form["email"])
    if form["contact_name"]:
        last, _, rest = form["contact_name"].partition(" ")
        first, _, middle = rest.strip().partition(" ")
        data["contacts"] = [
            {
                "last_name": last,
                "first_name": first,
                "middle_name": middle.strip(),
                "position": form["position"],
                "phones": _lines(form["contact_phone"]),
            }
        ]
    # Every problem at once; the service checks again (and for duplicates) on save.
    problems = services.clients.problems(data)
    if not problems:
        try:
            company_id = await services.clients.create_company(
                data, user=user, force=posted.get("force") == "1"
            )
        except InvalidClientInput as error:
            problems = {error.field: error.reason}
        except DuplicatesFound as found:
            duplicates = await _with_visibility(request, found.candidates)
            context = await _company_form_context(request, form, duplicates=duplicates)
            return _render("client_new.html", request, context, status=409)
        else:
            raise web.HTTPFound(f"/clients/{company_id}")

    errors: dict[str, str] = {}
    for field, reason in problems.items():
        errors.setdefault(NEW_CLIENT_ERROR_FIELDS.get(field, field), reason)
    context = await _company_form_context(request, form, errors=errors)
    return _render("client_new.html", request, context, status=422)


@roles()
async def edit_client_form(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    company = await services.clients.get_company(
        _id(request, "company_id"), user=current_user(request)
    )
    form = _company_form(company)
    context = await _company_form_context(
        request, form, company=company, original=dict(form)
    )
    return _render("client_edit.html", request, context)


@roles()
async def edit_client_submit(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    user = current_user(request)
    company_id = _id(request, "company_id")
    company = await services.clients.get_company(company_id, user=user)
    original = _company_form(company)

    posted = await request.post()
    form = _posted(posted, COMPANY_FORM_FIELDS + ("phones", "emails"), original)
    # Only what the user changed: untouched fields make no change-log rows.
    changes: dict[str, Any] = {
        name: form[name] for name in COMPANY_FORM_FIELDS if form[name] != original[name]
    }
    if form["phones"] != original["phones"]:
        changes["phones"] = _lines(form["phones"])
    if form["emails"] != original["emails"]:
        changes["emails"] = _lines(form["emails"])
    try:
        if changes:
            await services.clients.update_company(
                company_id, changes, user=user, force=posted.get("force") == "1"
            )
    except InvalidClientInput as error:
        context = await _company_form_context(
            request, form, company=company, errors={error.field: error.reason}
        )
        return _render("client_edit.html", request, context, status=422)
    except DuplicatesFound as found:
        duplicates = await _with_visibility(request, found.candidates)
        context = await _company_form_context(
            request, form, company=company, duplicates=duplicates
        )
        return _render("client_edit.html", request, context, status=409)
    raise web.HTTPFound(f"/clients/{company_id}?saved=1")


# -- contact persons and private clients ------------------------------------------------


def _contact_form(contact: dict[str, Any] | None) -> dict[str, str]:
    if contact is None:
        form = {name: "" for name in CONTACT_FORM_FIELDS}
        form.update(phones="", emails="", channels="", company_id="")
        return form
    form = {
        name: "" if contact.get(name) is None else str(contact[name])
        for name in CONTACT_FORM_FIELDS
    }
    form["birthday"] = ru_date(contact.get("birthday"))
    form["phones"] = _phone_lines(contact["phones"])
    form["emails"] = "\n".join(contact["emails"] or filter(None, [contact["email"]]))
    form["channels"] = "\n".join(
        f"{c.get('kind', 'other')}: {c.get('value', '')}"
        for c in contact.get("channels") or []
    )
    form["company_id"] = str(contact.get("company_id") or "")
    return form


def _channels(text: str) -> list[dict[str, str]]:
    """``telegram: @ivanov`` per line; a line without a known kind is ``other``."""
    channels = []
    for line in _lines(text.replace(";", "\n")):
        kind, sep, value = line.partition(":")
        if sep and kind.strip().lower() in CHANNEL_KINDS and value.strip():
            channels.append({"kind": kind.strip().lower(), "value": value.strip()})
        else:
            channels.append({"kind": "other", "value": line})
    return channels


def _contact_data(form: dict[str, str], original: dict[str, str] | None) -> dict:
    data: dict[str, Any] = {}
    for name in CONTACT_FORM_FIELDS:
        if original is None or form[name] != original[name]:
            data[name] = form[name]
    for name, convert in (
        ("phones", _lines),
        ("emails", _lines),
        ("channels", _channels),
    ):
        if original is None or form[name] != original[name]:
            data[name] = convert(form[name])
    return data


async def _contact_context(
    request: web.Request, form: dict[str, str], **extra: Any
) -> dict[str, Any]:
    return {"form": form, "errors": {}, "channel_kinds": CHANNEL_KINDS, **extra}


CONTACT_POSTED = CONTACT_FORM_FIELDS + ("phones", "emails", "channels", "company_id")


@roles()
async def new_contact_form(request: web.Request) -> web.StreamResponse:
    company = await _company_of(request)
    context = await _contact_context(request, _contact_form(None), company=company)
    return _render("contact_edit.html", request, context)


async def _company_of(request: web.Request) -> dict[str, Any] | None:
    if "company_id" not in request.match_info:
        return None
    services = request.app[SERVICES]
    return await services.clients.get_company(
        _id(request, "company_id"), user=current_user(request)
    )


@roles()
async def new_contact_submit(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    user = current_user(request)
    company = await _company_of(request)
    form = _posted(await request.post(), CONTACT_POSTED)
    try:
        contact_id = await services.clients.add_contact(
            company["id"] if company else None, _contact_data(form, None), user=user
        )
    except InvalidClientInput as error:
        context = await _contact_context(
            request, form, company=company, errors={error.field: error.reason}
        )
        return _render("contact_edit.html", request, context, status=422)
    if company is not None:
        raise web.HTTPFound(f"/clients/{company['id']}#contacts")
    raise web.HTTPFound(f"/contacts/{contact_id}")


@roles()
async def contact_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    user = current_user(request)
    contact_id = _id(request, "contact_id")

    contact = await _open_record(request, "contact", contact_id)
    history = await services.clients.history("contact", contact_id, user=user)
    contact["birthday_display"] = ru_date(contact["birthday"])
    context = {
        "contact": contact,
        "history": history,
        "user_names": await _user_names(request),
        "saved": request.query.get("saved") == "1",
    }
    return _render("contact.html", request, context)


async def _move_targets(request: web.Request) -> list[dict[str, Any]]:
    services = request.app[SERVICES]
    return await services.clients.list_companies(user=current_user(request), limit=500)


@roles()
async def edit_contact_form(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    contact = await services.clients.get_contact(
        _id(request, "contact_id"), user=current_user(request)
    )
    context = await _contact_context(
        request,
        _contact_form(contact),
        contact=contact,
        companies=await _move_targets(request),
    )
    return _render("contact_edit.html", request, context)


@roles()
async def edit_contact_submit(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    user = current_user(request)
    contact_id = _id(request, "contact_id")
    contact = await services.clients.get_contact(contact_id, user=user)
    original = _contact_form(contact)
    form = _posted(await request.post(), CONTACT_POSTED, original)

    try:
        changes = _contact_data(form, original)
        if changes:
            await services.clients.update_contact(contact_id, changes, user=user)
        if form["company_id"] != original["company_id"]:
            target = int(form["company_id"]) if form["company_id"].isdigit() else None
            await services.clients.move_contact(contact_id, target, user=user)
    except InvalidClientInput as error:
        context = await _contact_context(
            request,
            form,
            contact=contact,
            companies=await _move_targets(request),
            errors={error.field: error.reason},
        )
        return _render("contact_edit.html", request, context, status=422)
    raise web.HTTPFound(f"/contacts/{contact_id}?saved=1")


# -- equipment ----------------------------------------------------------------------------


def _equipment_form(item: dict[str, Any] | None) -> dict[str, str]:
    if item is None:
        form = {name: "" for name in EQUIPMENT_FORM_FIELDS}
        form.update(quantity="1", status="installed")
        return form
    form = {
        name: "" if item.get(name) is None else str(item[name])
        for name in EQUIPMENT_FORM_FIELDS
    }
    form["serial_numbers"] = ", ".join(item.get("serial_numbers") or [])
    form["installed_on"] = ru_date(item.get("installed_on"))
    return form


async def _equipment_of(
    request: web.Request,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    company = await _company_of(request)
    assert company is not None
    if "equipment_id" not in request.match_info:
        return company, None
    equipment_id = _id(request, "equipment_id")
    for item in company["equipment"]:
        if item["id"] == equipment_id:
            return company, item
    raise NoSuchClient(equipment_id)


def _equipment_context(
    company: dict[str, Any], item: dict[str, Any] | None, form: dict[str, str], **extra
) -> dict[str, Any]:
    return {
        "company": company,
        "item": item,
        "form": form,
        "errors": {},
        "statuses": [s.value for s in EquipmentStatus],
        **extra,
    }


@roles()
async def equipment_form(request: web.Request) -> web.StreamResponse:
    company, item = await _equipment_of(request)
    context = _equipment_context(company, item, _equipment_form(item))
    return _render("client_equipment.html", request, context)


@roles()
async def equipment_submit(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    user = current_user(request)
    company, item = await _equipment_of(request)
    original = _equipment_form(item) if item else None
    form = _posted(await request.post(), EQUIPMENT_FORM_FIELDS, original)
    data = {
        name: form[name]
        for name in EQUIPMENT_FORM_FIELDS
        if (original is None and form[name])
        or (original is not None and form[name] != original[name])
    }
    try:
        if item is None:
            await services.clients.add_equipment(company["id"], data, user=user)
        elif data:
            await services.clients.update_equipment(item["id"], data, user=user)
    except InvalidClientInput as error:
        context = _equipment_context(
            company, item, form, errors={error.field: error.reason}
        )
        return _render("client_equipment.html", request, context, status=422)
    raise web.HTTPFound(f"/clients/{company['id']}#equipment")


@roles()
async def equipment_delete(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    company, item = await _equipment_of(request)
    assert item is not None
    await services.clients.delete_equipment(item["id"], user=current_user(request))
    raise web.HTTPFound(f"/clients/{company['id']}#equipment")


@roles(*SUPERVISORS)
async def live_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    users = {u.id: u.full_name for u in await services.users.list_users()}
    calls = services.calls.live_calls(current_user(request))
    return aiohttp_jinja2.render_template(
        "live.html", request, {"calls": calls, "user_names": users}
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/calls", calls_page)
    app.router.add_get("/calls/{call_id}", call_page)
    app.router.add_get("/clients", clients_page)
    app.router.add_get("/clients/new", new_client_form)
    app.router.add_post("/clients/new", new_client_submit)
    app.router.add_get("/clients/{company_id}", client_page)
    app.router.add_get("/clients/{company_id}/edit", edit_client_form)
    app.router.add_post("/clients/{company_id}/edit", edit_client_submit)
    app.router.add_get("/clients/{company_id}/contacts/new", new_contact_form)
    app.router.add_post("/clients/{company_id}/contacts/new", new_contact_submit)
    app.router.add_get("/clients/{company_id}/equipment/new", equipment_form)
    app.router.add_post("/clients/{company_id}/equipment/new", equipment_submit)
    app.router.add_get(
        "/clients/{company_id}/equipment/{equipment_id}/edit", equipment_form
    )
    app.router.add_post(
        "/clients/{company_id}/equipment/{equipment_id}/edit", equipment_submit
    )
    app.router.add_post(
        "/clients/{company_id}/equipment/{equipment_id}/delete", equipment_delete
    )
    app.router.add_get("/contacts/new", new_contact_form)
    app.router.add_post("/contacts/new", new_contact_submit)
    app.router.add_get("/contacts/{contact_id}", contact_page)
    app.router.add_get("/contacts/{contact_id}/edit", edit_contact_form)
    app.router.add_post("/contacts/{contact_id}/edit", edit_contact_submit)
    app.router.add_get("/live", live_page)
