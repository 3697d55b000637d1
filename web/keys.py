"""Typed application keys: the long-lived objects every handler may reach."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter.calls.service import CallService
from callcenter.clients.service import ClientService
from callcenter.db import SessionFactory
from callcenter.users.service import UserService
from config.settings import Settings
from web.auth import LoginThrottle
from web.ws import WebsocketHub

if TYPE_CHECKING:
    from ami.connection import AmiLink
    from ami.simulator import AmiSimulator


@dataclass(slots=True)
class Services:
    users: UserService
    clients: ClientService
    calls: CallService
    hub: WebsocketHub
    throttle: LoginThrottle
    zone: ZoneInfo
    link: AmiLink | None = None
    simulator: AmiSimulator | None = None
    database_url: str = ""
    sessions: SessionFactory | None = None

    @property
    def pbx_connected(self) -> bool:
        return self.link is not None and self.link.connected


SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
