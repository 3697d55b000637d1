"""Every mapped model, imported in one place so the metadata is complete."""

from callcenter.calls.models import AmiEvent, Call, CallLeg, Recording
from callcenter.clients.models import (
    ChangeRecord,
    ClientShare,
    Company,
    Contact,
    Email,
    Equipment,
    FieldRule,
    ImportPreset,
    ImportRun,
    Merge,
    Phone,
    Selection,
)
from callcenter.db import Base
from callcenter.interactions.models import Interaction
from callcenter.users.models import ApiToken, Extension, User, WebSession

__all__ = [
    "ChangeRecord",
    "ClientShare",
    "Email",
    "Equipment",
    "FieldRule",
    "ImportPreset",
    "ImportRun",
    "Merge",
    "Selection",
    "AmiEvent",
    "ApiToken",
    "Base",
    "Call",
    "CallLeg",
    "Company",
    "Contact",
    "Extension",
    "Interaction",
    "Phone",
    "Recording",
    "User",
    "WebSession",
]
