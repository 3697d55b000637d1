"""JSON API of the client base: companies, contact persons, equipment, history.

Every route goes through the role rules of ``callcenter.clients.access``: a record the
user may not see answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from callcenter.clients.errors import InvalidClientInput, NoSuchClient
from callcenter.clients.service import NewClient
from callcenter.users.models import Role
from web.auth import current_user, roles
from web.keys import SERVICES
from web.openapi import ERROR, add_paths, body, path_id, query
from web.routes.api import read_json

logger = logging.getLogger(__name__)


def _int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 9:
        raise NoSuchClient(0)
    return int(raw)


def _force(request: web.Request, data: dict[str, Any]) -> bool:
    return bool(data.pop("force", False)) or request.query.get("force") == "1"


@roles()
async def list_clients(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    clients = await services.clients.list_companies(
        user=current_user(request), query=request.query.get("q", "")[:200]
    )
    return web.json_response({"clients": clients})


@roles()
async def create_client(request: web.Request) -> web.Response:
    """Quick form (company_name + phone) or the full record (name, inn, phones, ...)."""
    services = request.app[SERVICES]
    user = current_user(request)
    data = await read_json(request)
    force = _force(request, data)

    if "company_name" in data:
        fields = {}
        for name in (
            "company_name",
            "phone",
            "contact_name",
            "position",
            "email",
            "inn",
        ):
            value = data.get(name, "")
            if not isinstance(value, str) or len(value) > 500:
                raise InvalidClientInput(name, "text up to 500 characters")
            fields[name] = value
        company_id = await services.clients.create_client(
            NewClient(**fields), user=user
        )
    else:
        company_id = await services.clients.create_company(data, user=user, force=force)
    return web.json_response(
        {"id": company_id, "url": f"/clients/{company_id}"}, status=201
    )


@roles()
async def check_duplicates(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = await read_json(request)
    exclude = data.pop("exclude_id", None)
    candidates = await services.clients.check_duplicates(
        data, exclude_id=int(exclude) if isinstance(exclude, int) else None
    )
    # Duplicate control searches the whole base; the user may open only some.
    visible = await services.clients.visible_company_ids(
        (c.company_id for c in candidates), user=current_user(request)
    )
    return web.json_response(
        {
            "duplicates": [
                {**c.as_dict(), "visible": c.company_id in visible} for c in candidates
            ]
        }
    )


@roles()
async def get_client(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    card = await services.clients.get_company(
        _int(request, "company_id"), user=current_user(request)
    )
    return web.json_response(card)


@roles()
async def update_client(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = await read_json(request)
    force = _force(request, data)
    company_id = _int(request, "company_id")
    await services.clients.update_company(
        company_id, data, user=current_user(request), force=force
    )
    return web.json_response({"id": company_id})


@roles()
async def client_history(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    history = await services.clients.history(
        "company", _int(request, "company_id"), user=current_user(request)
    )
    return web.json_response({"changes": history})


@roles()
async def share_client(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = await read_json(request)
    user_id = data.get("user_id")
    if not isinstance(user_id, int):
        raise InvalidClientInput("user_id", "a user id")
    await services.clients.share_company(
        _int(request, "company_id"), user_id, user=current_user(request)
    )
    return web.json_response({"shared_with": user_id})


@roles()
async def add_contact(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = await read_json(request)
    contact_id = await services.clients.add_contact(
        _int(request, "company_id"), data, user=current_user(request)
    )
    return web.json_response({"id": contact_id}, status=201)


@roles()
async def add_private_client(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = await read_json(request)
    if data.get("company_id") is not None:
        # Not silently a private client: a company's people have their own route.
        raise InvalidClientInput(
            "company_id",
            "контакт компании добавляется через /api/clients/{id}/contacts",
        )
    contact_id = await services.clients.add_contact(
        None, data, user=current_user(request)
    )
    return web.json_response({"id": contact_id}, status=201)


@roles()
async def update_contact(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = await read_json(request)
    contact_id = _int(request, "contact_id")
    user = current_user(request)
    if "move_to_company_id" in data:
        target = data.pop("move_to_company_id")
        if target is not None and not isinstance(target, int):
            raise InvalidClientInput("move_to_company_id", "a company id or null")
        await services.clients.move_contact(contact_id, target, user=user)
    if data:
        await services.clients.update_contact(contact_id, data, user=user)
    return web.json_response({"id": contact_id})


@roles()
async def contact_history(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    history = await services.clients.history(
        "contact", _int(request, "contact_id"), user=current_user(request)
    )
    return web.json_response({"changes": history})


@roles()
async def add_equipment(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = await read_json(request)
    item_id = await services.clients.add_equipment(
        _int(request, "company_id"), data, user=current_user(request)
    )
    return web.json_response({"id": item_id}, status=201)


@roles()
async def update_equipment(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = await read_json(request)
    item_id = _int(request, "equipment_id")
    await services.clients.update_equipment(item_id, data, user=current_user(request))
    return web.json_response({"id": item_id})


@roles()
async def delete_equipment(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    item_id = _int(request, "equipment_id")
    await services.clients.delete_equipment(item_id, user=current_user(request))
    return web.json_response({"deleted": item_id})


@roles(Role.ADMIN)
async def set_field_rules(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = await read_json(request)
    fields = data.get("required")
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise InvalidClientInput("required", "a list of field names")
    entity = request.match_info["entity"]
    await services.clients.set_required_fields(entity, fields)
    return web.json_response({"entity": entity, "required": fields})


_COMPANY = {
    "name": {"type": "string", "example": "ООО «Ромашка»"},
    "legal_name": {"type": "string"},
    "legal_form": {"type": "string", "example": "ООО"},
    "inn": {"type": "string", "example": "7707083893"},
    "kpp": {"type": "string", "example": "770701001"},
    "ogrn": {"type": "string", "example": "1027700132195"},
    "address": {"type": "string"},
    "region": {"type": "string"},
    "industry": {"type": "string"},
    "size": {"type": "string"},
    "source": {"type": "string"},
    "segment": {"type": "string"},
    "status": {"enum": ["prospect", "client", "former"]},
    "responsible_id": {"type": "integer"},
    "notes": {"type": "string"},
    "phones": {"type": "array", "items": {"type": "string"}},
    "emails": {"type": "array", "items": {"type": "string"}},
    "force": {"type": "boolean", "description": "save even if likely duplicates exist"},
}
_CONTACT = {
    "last_name": {"type": "string"},
    "first_name": {"type": "string"},
    "middle_name": {"type": "string"},
    "position": {"type": "string"},
    "birthday": {"type": "string", "example": "04.12.1980"},
    "phones": {"type": "array", "items": {"type": "string"}},
    "emails": {"type": "array", "items": {"type": "string"}},
    "channels": {"type": "array", "items": {"type": "object"}},
    "notes": {"type": "string"},
}
_EQUIPMENT = {
    "kind": {"type": "string"},
    "vendor": {"type": "string"},
    "model": {"type": "string"},
    "quantity": {"type": "integer"},
    "serial_numbers": {"type": "array", "items": {"type": "string"}},
    "status": {"enum": ["installed", "planned"]},
    "installed_on": {"type": "string", "example": "04.12.2026"},
    "notes": {"type": "string"},
}
_DUPLICATES = {
    "description": "Likely duplicates: error.code duplicates_found, with candidates",
}

PATHS: dict[str, Any] = {
    "/api/clients": {
        "get": {
            "summary": "Client companies visible to the user",
            "parameters": [query("q", {"type": "string"}, "Part of the name")],
            "responses": {"200": {"description": "Clients"}},
        },
        "post": {
            "summary": "Create a company (with phones, e-mails, contacts)",
            "requestBody": body(_COMPANY, ["name"]),
            "responses": {
                "201": {"description": "Created"},
                "409": _DUPLICATES,
                "422": ERROR,
            },
        },
    },
    "/api/clients/duplicates": {
        "post": {
            "summary": "Likely duplicates of a draft, to show before saving",
            "requestBody": body(_COMPANY),
            "responses": {"200": {"description": "Candidates with reasons"}},
        }
    },
    "/api/clients/{company_id}": {
        "get": {
            "summary": "A client card: details, completeness, contacts, equipment, history",
            "parameters": [path_id("company_id")],
            "responses": {"200": {"description": "The card"}, "404": ERROR},
        },
        "patch": {
            "summary": "Change some fields (recorded in the change log)",
            "parameters": [path_id("company_id")],
            "requestBody": body(_COMPANY),
            "responses": {
                "200": {"description": "Saved"},
                "404": ERROR,
                "409": _DUPLICATES,
            },
        },
    },
    "/api/clients/{company_id}/history": {
        "get": {
            "summary": "Who changed what and when",
            "parameters": [path_id("company_id")],
            "responses": {"200": {"description": "Changes"}, "404": ERROR},
        }
    },
    "/api/clients/{company_id}/share": {
        "post": {
            "summary": "Share the client with another manager",
            "parameters": [path_id("company_id")],
            "requestBody": body({"user_id": {"type": "integer"}}, ["user_id"]),
            "responses": {"200": {"description": "Shared"}, "404": ERROR},
        }
    },
    "/api/clients/{company_id}/contacts": {
        "post": {
            "summary": "Add a contact person",
            "parameters": [path_id("company_id")],
            "requestBody": body(_CONTACT),
            "responses": {
                "201": {"description": "Created"},
                "404": ERROR,
                "422": ERROR,
            },
        }
    },
    "/api/contacts": {
        "post": {
            "summary": "Add a private client (a person without a company)",
            "requestBody": body(_CONTACT),
            "responses": {"201": {"description": "Created"}, "422": ERROR},
        }
    },
    "/api/contacts/{contact_id}": {
        "patch": {
            "summary": "Change a contact; move_to_company_id moves them with their history",
            "parameters": [path_id("contact_id")],
            "requestBody": body(
                {**_CONTACT, "move_to_company_id": {"type": "integer"}}
            ),
            "responses": {"200": {"description": "Saved"}, "404": ERROR},
        }
    },
    "/api/contacts/{contact_id}/history": {
        "get": {
            "summary": "Who changed what and when",
            "parameters": [path_id("contact_id")],
            "responses": {"200": {"description": "Changes"}, "404": ERROR},
        }
    },
    "/api/clients/{company_id}/equipment": {
        "post": {
            "summary": "Add equipment the client uses or plans",
            "parameters": [path_id("company_id")],
            "requestBody": body(_EQUIPMENT),
            "responses": {"201": {"description": "Created"}, "404": ERROR},
        }
    },
    "/api/equipment/{equipment_id}": {
        "patch": {
            "summary": "Change equipment",
            "parameters": [path_id("equipment_id")],
            "requestBody": body(_EQUIPMENT),
            "responses": {"200": {"description": "Saved"}, "404": ERROR},
        },
        "delete": {
            "summary": "Remove equipment",
            "parameters": [path_id("equipment_id")],
            "responses": {"200": {"description": "Removed"}, "404": ERROR},
        },
    },
    "/api/field-rules/{entity}": {
        "put": {
            "summary": "Admins: which fields a complete company/contact must have",
            "parameters": [
                {
                    "name": "entity",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ],
            "requestBody": body(
                {"required": {"type": "array", "items": {"type": "string"}}}
            ),
            "responses": {"200": {"description": "Saved"}, "422": ERROR},
        }
    },
}


def setup(app: web.Application) -> None:
    app.router.add_get("/api/clients", list_clients)
    app.router.add_post("/api/clients", create_client)
    app.router.add_post("/api/clients/duplicates", check_duplicates)
    app.router.add_get("/api/clients/{company_id}", get_client)
    app.router.add_patch("/api/clients/{company_id}", update_client)
    app.router.add_get("/api/clients/{company_id}/history", client_history)
    app.router.add_post("/api/clients/{company_id}/share", share_client)
    app.router.add_post("/api/clients/{company_id}/contacts", add_contact)
    app.router.add_post("/api/clients/{company_id}/equipment", add_equipment)
    app.router.add_post("/api/contacts", add_private_client)
    app.router.add_patch("/api/contacts/{contact_id}", update_contact)
    app.router.add_get("/api/contacts/{contact_id}/history", contact_history)
    app.router.add_patch("/api/equipment/{equipment_id}", update_equipment)
    app.router.add_delete("/api/equipment/{equipment_id}", delete_equipment)
    app.router.add_put("/api/field-rules/{entity}", set_field_rules)
    add_paths(app, PATHS)
