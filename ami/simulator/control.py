"""A small HTTP control API for a simulator running in another process.

It is bound to 127.0.0.1 only, whatever host the AMI port uses: it starts calls and
needs no credentials, so it must never be reachable from another machine.

- ``POST /inbound`` with JSON ``{caller, caller_name?, did?, extensions?, scenario?}``
  starts an inbound call and answers ``{"linkedid": ...}``;
- ``GET /channels`` lists the live channels (the CoreShowChannel fields);
- ``GET /health`` answers ``{"status": "ok", ...}``.
"""

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ami.simulator.scenarios import INBOUND_KINDS

if TYPE_CHECKING:
    from ami.simulator.server import AmiSimulator

logger = logging.getLogger(__name__)

CONTROL_HOST = "127.0.0.1"
SIMULATOR_KEY: web.AppKey["AmiSimulator"] = web.AppKey("ami_simulator")


class BadRequest(ValueError):
    """The JSON body of a control request does not describe a call."""


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int):
        raise BadRequest(f"{key} must be a string")

    return str(value)


def _parse_inbound(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object")

    caller = _optional_text(body, "caller")
    if caller is None:
        raise BadRequest("caller is required")

    scenario = _optional_text(body, "scenario") or "answered"
    if scenario not in INBOUND_KINDS:
        raise BadRequest(f"scenario must be one of {', '.join(INBOUND_KINDS)}")

    extensions = body.get("extensions")
    if isinstance(extensions, str | int):
        extensions = [extensions]
    if extensions is not None and not isinstance(extensions, list):
        raise BadRequest("extensions must be a list of strings")

    return {
        "caller": caller,
        "caller_name": _optional_text(body, "caller_name"),
        "did": _optional_text(body, "did"),
        "extensions": tuple(str(item) for item in extensions) if extensions else None,
        "scenario": scenario,
    }


async def post_inbound(request: web.Request) -> web.Response:
    simulator = request.app[SIMULATOR_KEY]
    try:
        arguments = _parse_inbound(await request.json())
    except (BadRequest, ValueError) as error:
        return web.json_response({"error": str(error)}, status=400)

    linkedid = await simulator.start_inbound(**arguments)
    logger.info(
        "inbound call requested over HTTP linkedid=%s scenario=%s",
        linkedid,
        arguments["scenario"],
    )
    return web.json_response({"linkedid": linkedid})


async def get_channels(request: web.Request) -> web.Response:
    return web.json_response({"channels": request.app[SIMULATOR_KEY].live_channels()})


async def get_health(request: web.Request) -> web.Response:
    simulator = request.app[SIMULATOR_KEY]
    return web.json_response(
        {
            "status": "ok",
            "ami_port": simulator.port,
            "sessions": simulator.session_count,
            "plays": simulator.play_count,
            "paused": simulator.paused,
        }
    )


def create_control_app(simulator: "AmiSimulator") -> web.Application:
    app = web.Application()
    app[SIMULATOR_KEY] = simulator
    app.router.add_post("/inbound", post_inbound)
    app.router.add_get("/channels", get_channels)
    app.router.add_get("/health", get_health)
    return app


async def start_control_api(
    simulator: "AmiSimulator", port: int
) -> tuple[web.AppRunner, int]:
    """Serve the control API on 127.0.0.1:``port`` (0 picks a free port)."""
    runner = web.AppRunner(create_control_app(simulator), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, CONTROL_HOST, port)
    await site.start()

    bound = port
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            bound = int(address[1])
            break

    logger.info(
        "AMI simulator control API listening host=%s port=%s", CONTROL_HOST, bound
    )
    return runner, bound


async def stop_control_api(runner: object) -> None:
    if isinstance(runner, web.AppRunner):
        await runner.cleanup()
