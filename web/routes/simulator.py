"""Demo controls for the bundled AMI simulator (only when no Asterisk is configured).

They let a newcomer make "the city" call a manager without a real PBX: the simulator
then plays a call captured from a real Asterisk, and the panel reacts as it would.
"""

from __future__ import annotations

import logging

import aiohttp_jinja2
from aiohttp import web

from callcenter.calls.errors import InvalidCallRequest
from callcenter.phones import InvalidPhoneNumber, parse_phone
from web.auth import current_user, roles
from web.keys import SERVICES, SETTINGS

logger = logging.getLogger(__name__)

SCENARIOS = ("answered", "missed", "queue", "transfer")


def _simulator(request: web.Request):  # type: ignore[no-untyped-def]
    simulator = request.app[SERVICES].simulator
    if simulator is None:
        raise web.HTTPNotFound(reason="no simulator: a real Asterisk is configured")
    return simulator


@roles()
async def simulator_page(request: web.Request) -> web.StreamResponse:
    _simulator(request)
    user = current_user(request)
    context = {
        "scenarios": SCENARIOS,
        "extension": user.extensions[0] if user.extensions else "101",
        "message": request.query.get("started"),
    }
    return aiohttp_jinja2.render_template("simulator.html", request, context)


@roles()
async def simulator_inbound(request: web.Request) -> web.StreamResponse:
    simulator = _simulator(request)
    form = await request.post()
    region = request.app[SETTINGS].phone_region
    try:
        caller = parse_phone(str(form.get("caller", "")), region).e164
    except InvalidPhoneNumber as error:
        raise InvalidCallRequest("caller", error.reason) from None
    extension = str(form.get("extension", "101"))
    if not extension.isdigit() or len(extension) > 10:
        raise InvalidCallRequest("extension", "только цифры")
    scenario = str(form.get("scenario", "answered"))
    if scenario not in SCENARIOS:
        raise InvalidCallRequest("scenario", "неизвестный сценарий")
    name = str(form.get("caller_name", ""))[:60].replace("\r", " ").replace("\n", " ")

    extensions = (
        (extension, "102") if scenario in ("queue", "transfer") else (extension,)
    )
    linkedid = await simulator.start_inbound(
        caller=caller,
        caller_name=name or None,
        did="74950000000",
        extensions=extensions,
        scenario=scenario,
    )
    logger.info(
        "simulated inbound call linkedid=%s scenario=%s extension=%s",
        linkedid,
        scenario,
        extension,
    )
    if request.headers.get("Accept", "").startswith("application/json"):
        return web.json_response({"linkedid": linkedid}, status=202)
    raise web.HTTPFound(f"/simulator?started={linkedid}")


def setup(app: web.Application) -> None:
    app.router.add_get("/simulator", simulator_page)
    app.router.add_post("/simulator/inbound", simulator_inbound)
