"""Composition root: builds the application from settings and wires the adapters.

Lifecycles live in cleanup contexts, in this order: the database (embedded PostgreSQL
when no URL is configured, then migrations), the services and their background tasks,
then the AMI link (to the configured Asterisk, or to the bundled simulator started on
loopback when no Asterisk is configured). Shutdown runs them in reverse.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ami.connection import AmiLink
from ami.handlers import AmiEventHandler
from ami.simulator import AmiSimulator
from ami.telephony import AmiTelephony
from callcenter.calls.service import CallService, DialPlan
from callcenter.calls.tracker import CallTracker, ChannelClassifier
from callcenter.clients.service import ClientService
from callcenter.db import create_engine, create_session_factory
from callcenter.migrate import upgrade_async
from callcenter.users.service import UserService
from config.database import start_embedded
from config.settings import Settings
from recordings.store import FileRecordingStore
from web import i18n
from web.auth import LoginThrottle
from web.context import page_context
from web.keys import SERVICES, SETTINGS, Services
from web.middleware import auth_middleware, errors_middleware
from web.routes import (
    api,
    clients,
    duplicates,
    imports,
    pages,
    search,
    session,
    simulator,
)
from web.ws import WebsocketHub

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent


async def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return await asyncio.to_thread(start_embedded, settings.data_dir)


def create_app(
    settings: Settings, *, database_url: str | None = None
) -> web.Application:
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware], client_max_size=2 * 1024**2
    )
    app[SETTINGS] = settings

    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        # Templates do not change while the service runs: no stat() per render.
        auto_reload=False,
        context_processors=[_template_context],
    )
    zone = ZoneInfo(settings.timezone)
    environment.filters.update(
        {
            "phone": i18n.format_phone,
            "datetime": lambda value: i18n.format_datetime(value, zone),
            "duration": i18n.format_duration,
            "money": i18n.format_money,
        }
    )

    app.router.add_static("/static/", WEB_DIR / "static", name="static")
    session.setup(app)
    pages.setup(app)
    api.setup(app)
    clients.setup(app)
    imports.setup(app)
    duplicates.setup(app)
    search.setup(app)
    simulator.setup(app)

    app.on_shutdown.append(_close_websockets)
    app.cleanup_ctx.append(_database_ctx(database_url))
    app.cleanup_ctx.append(_ami_ctx)
    return app


async def _template_context(request: web.Request) -> dict[str, object]:
    return page_context(request)


async def _close_websockets(app: web.Application) -> None:
    # aiohttp waits for open websocket handlers before cleanup: close them first.
    await app[SERVICES].hub.close_all()


def _database_ctx(override_url: str | None):  # type: ignore[no-untyped-def]
    async def database(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        url = override_url or await resolve_database_url(settings)
        await upgrade_async(url)
        engine = create_engine(url)
        sessions = create_session_factory(engine)

        hub = WebsocketHub()
        clients = ClientService(sessions, region=settings.phone_region)
        classifier = ChannelClassifier(
            trunk_endpoints=settings.trunk_endpoints,
            trunk_local_contexts=settings.trunk_local_contexts,
            phone_local_contexts=settings.phone_local_contexts,
            internal_extension_pattern=settings.internal_extension_pattern,
        )
        calls = CallService(
            sessions,
            CallTracker(classifier, region=settings.phone_region),
            clients,
            hub,
            recordings=FileRecordingStore(settings.recordings_dir),
            dial_plan=DialPlan(
                channel_template=settings.manager_channel_template,
                context=settings.dial_context,
                timeout_ms=settings.originate_timeout_ms,
                caller_id_template=settings.originate_caller_id,
            ),
            region=settings.phone_region,
        )
        app[SERVICES] = Services(
            users=UserService(
                sessions,
                session_max_age=dt.timedelta(hours=settings.session_max_age_hours),
            ),
            clients=clients,
            calls=calls,
            hub=hub,
            throttle=LoginThrottle(),
            zone=ZoneInfo(settings.timezone),
            database_url=url,
            sessions=sessions,
        )
        await calls.refresh_extensions()

        loop = asyncio.get_running_loop()
        tasks = [
            loop.create_task(calls.writer.run(), name="call-writer"),
            loop.create_task(calls.run_housekeeping(), name="call-housekeeping"),
            loop.create_task(_refresh_extensions(calls), name="extension-refresh"),
        ]
        logger.info("services started")

        yield

        await hub.close_all()
        try:
            await asyncio.wait_for(calls.writer.wait_idle(), timeout=10)
        except TimeoutError:
            logger.error(
                "call log not fully written at shutdown backlog=%s",
                calls.writer.backlog,
            )
        await calls.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await engine.dispose()
        logger.info("services stopped")

    return database


async def _refresh_extensions(calls: CallService) -> None:
    while True:
        await asyncio.sleep(30)
        try:
            await calls.refresh_extensions()
        except Exception as error:  # noqa: BLE001 - retried on the next pass
            logger.warning("extension refresh failed: %s", error)


async def _ami_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    services = app[SERVICES]
    host, port = settings.ami_host, settings.ami_port

    if settings.uses_simulator:
        await asyncio.to_thread(
            settings.recordings_dir.mkdir, parents=True, exist_ok=True
        )
        services.simulator = AmiSimulator(
            host="127.0.0.1",
            port=settings.sim_port,
            username=settings.ami_username,
            secret=settings.ami_secret,
            flavour=settings.sim_flavour,
            recordings_dir=settings.recordings_dir,
        )
        await services.simulator.start()
        host, port = "127.0.0.1", services.simulator.port
        logger.info("no Asterisk configured: AMI simulator on 127.0.0.1:%s", port)

    link = AmiLink(
        host=host or "127.0.0.1",
        port=port,
        username=settings.ami_username,
        secret=settings.ami_secret,
        on_event=AmiEventHandler(services.calls),
        on_login=services.calls.reconcile,
        ping_interval=settings.ami_ping_interval,
        ping_timeout=settings.ami_ping_timeout,
        reconnect_max_delay=settings.ami_reconnect_max_delay,
        action_timeout=settings.ami_action_timeout,
    )
    services.link = link
    services.calls.set_telephony(AmiTelephony(link))
    await link.start()

    traffic = None
    if services.simulator is not None and settings.sim_traffic_calls_per_minute > 0:
        traffic = asyncio.get_running_loop().create_task(
            services.simulator.run_traffic(
                managers=5, calls_per_minute=settings.sim_traffic_calls_per_minute
            )
        )

    yield

    if traffic is not None:
        traffic.cancel()
        await asyncio.gather(traffic, return_exceptions=True)
    await link.stop()
    if services.simulator is not None:
        await services.simulator.stop()
