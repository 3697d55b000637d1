"""Imports into the client base (page and JSON API) and exports of lists to Excel.

An import goes in three steps: the file is uploaded and read (``POST
/api/imports/files``: headers, a sample, a suggested mapping), a run is started with
a mapping (``POST /api/imports/runs``, ``dry_run`` true for "Проверить"), and the
page polls the run (``GET /api/imports/runs/{id}``) for progress and the per-row
report. Uploaded files are kept in memory for an hour, for their owner only, so the
dry run and the real run read the same file without a second upload.

Imports use an engine of their own (two connections): a long import must not take
the connections the panel and the call log need.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp_jinja2
from aiohttp import BodyPartReader, web
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clients.selections import NoSuchSelection
from callcenter.db import SessionFactory, create_engine, create_session_factory
from callcenter.exports import XLSX_TYPE, calls_workbook, clients_workbook
from callcenter.imports.errors import (
    ImportProblem,
    InvalidMapping,
    NoSuchImport,
    UnreadableFile,
)
from callcenter.imports.fields import FIELDS
from callcenter.imports.readers import FORMAT_LABELS, FORMATS, Sheet
from callcenter.imports.service import ImportService
from callcenter.users.service import UserView
from web import i18n
from web.auth import current_user, roles
from web.keys import SERVICES, SETTINGS
from web.middleware import error_response
from web.openapi import ERROR, add_paths, body, query
from web.routes.api import call_filters, read_json
from web.routes.search import SELECTIONS

logger = logging.getLogger(__name__)

MAX_UPLOAD = 10 * 1024**2
UPLOAD_TTL = 3600.0
MAX_UPLOADS = 20
UPLOADS_PER_USER = 2
MAX_EXPORT_CALLS = 50_000
_EXPORT_PAGE = 500

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class Upload:
    owner_id: int
    file_name: str
    sheet: Sheet
    at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class ImportsState:
    engine: AsyncEngine
    sessions: SessionFactory
    service: ImportService
    uploads: dict[str, Upload] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def keep(self, owner_id: int, file_name: str, sheet: Sheet) -> str:
        """Keep a read file for its owner; a read file takes far more memory than
        its bytes, so each user keeps only the latest few."""
        now = time.monotonic()
        for key in [k for k, u in self.uploads.items() if now - u.at > UPLOAD_TTL]:
            del self.uploads[key]
        own = sorted(
            (k for k, u in self.uploads.items() if u.owner_id == owner_id),
            key=lambda k: self.uploads[k].at,
        )
        for key in own[: max(len(own) - UPLOADS_PER_USER + 1, 0)]:
            del self.uploads[key]
        while len(self.uploads) >= MAX_UPLOADS:
            del self.uploads[min(self.uploads, key=lambda k: self.uploads[k].at)]
        upload_id = secrets.token_urlsafe(16)
        self.uploads[upload_id] = Upload(owner_id, file_name, sheet)
        return upload_id

    def upload(self, upload_id: Any, user: UserView) -> Upload:
        found = self.uploads.get(upload_id) if isinstance(upload_id, str) else None
        if found is None or found.owner_id != user.id:
            raise NoSuchImport("файл не найден: загрузите его ещё раз")
        return found


IMPORTS = web.AppKey("imports", ImportsState)


def _import_errors(handler: Handler) -> Handler:
    """Import problems are the user's to fix: 422 (or 404), with the reason."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except NoSuchImport as error:
            return error_response(request, 404, error.code, error.reason)
        except ImportProblem as error:
            return error_response(request, 422, error.code, error.reason)

    return wrapper


# -- page -----------------------------------------------------------------------------


@roles()
async def imports_page(request: web.Request) -> web.StreamResponse:
    state = request.app[IMPORTS]
    user = current_user(request)
    context = {
        "formats": [("auto", FORMAT_LABELS["auto"])]
        + [(f, FORMAT_LABELS[f]) for f in FORMATS],
        "fields": list(FIELDS.items()),
        "runs": await state.service.list_runs(user=user, limit=10),
        "max_upload_mb": MAX_UPLOAD // 1024**2,
    }
    return aiohttp_jinja2.render_template("imports.html", request, context)


# -- JSON API -------------------------------------------------------------------------


@roles()
@_import_errors
async def upload_file(request: web.Request) -> web.Response:
    """multipart/form-data: ``file`` and optionally ``format`` (before the file)."""
    state = request.app[IMPORTS]
    user = current_user(request)
    if not request.content_type.startswith("multipart/"):
        raise UnreadableFile("файл отправляется как multipart/form-data (поле file)")

    format, file_name, data = "auto", "", b""
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "format":
            format = (await part.text()).strip()[:20] or "auto"
        elif part.name == "file":
            file_name = (part.filename or "import")[:300]
            data = await _read_limited(part)
    if not file_name:
        raise UnreadableFile("не выбран файл")
    if format != "auto" and format not in FORMATS:
        raise UnreadableFile(f"неизвестный формат «{format}»")

    sheet = await state.service.read(data, file_name, format)
    upload_id = state.keep(user.id, file_name, sheet)
    presets = await state.service.list_presets(sheet.format)
    logger.info(
        "import file uploaded user_id=%s upload_id=%s format=%s rows=%s",
        user.id,
        upload_id[:6],
        sheet.format,
        len(sheet.rows),
    )
    return web.json_response(
        {
            "upload_id": upload_id,
            "file_name": file_name,
            "format": sheet.format,
            "format_label": FORMAT_LABELS[sheet.format],
            "rows": len(sheet.rows),
            "headers": sheet.headers,
            "sample": sheet.sample(),
            "mapping": sheet.suggested_mapping(),
            "fields": FIELDS,
            "presets": presets,
        }
    )


async def _read_limited(part: BodyPartReader) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(256 * 1024):
        size += len(chunk)
        if size > MAX_UPLOAD:
            raise UnreadableFile(
                f"файл больше {MAX_UPLOAD // 1024**2} МБ: разделите его на части"
            )
        chunks.append(chunk)
    return b"".join(chunks)


@roles()
@_import_errors
async def start_run(request: web.Request) -> web.Response:
    """Body: ``upload_id``, ``mapping`` (or ``preset_id``), ``dry_run``."""
    state = request.app[IMPORTS]
    user = current_user(request)
    data = await read_json(request)
    upload = state.upload(data.get("upload_id"), user)
    mapping = await _mapping_of(state, data)
    dry_run = data.get("dry_run", True) is not False

    groups, rejected, total = await asyncio.to_thread(
        state.service.prepare, upload.sheet, mapping
    )
    run_id = await state.service.start_run(
        user=user,
        file_name=upload.file_name,
        format=upload.sheet.format,
        dry_run=dry_run,
        total_rows=total,
    )

    async def execute() -> None:
        try:
            await state.service.execute(
                run_id, groups, rejected, user=user, dry_run=dry_run
            )
        except asyncio.CancelledError:
            await state.service.fail_run(run_id, "прервано остановкой сервера")
            raise
        except Exception:  # noqa: BLE001 - recorded in the run and logged there
            pass

    task = asyncio.get_running_loop().create_task(execute(), name=f"import-{run_id}")
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)
    return web.json_response(
        {"id": str(run_id), "status_url": f"/api/imports/runs/{run_id}"}, status=202
    )


async def _mapping_of(state: ImportsState, data: dict[str, Any]) -> dict[str, str]:
    if data.get("preset_id") is not None:
        preset_id = data["preset_id"]
        if not isinstance(preset_id, int):
            raise NoSuchImport("нет такого шаблона")
        preset = await state.service.find_preset(preset_id=preset_id)
        return dict(preset["mapping"])
    mapping = data.get("mapping")
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise InvalidMapping("mapping: объект «колонка → поле»")
    return {k: v for k, v in mapping.items() if v}


def _run_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["run_id"])
    except ValueError:
        raise NoSuchImport("нет такого импорта") from None


@roles()
@_import_errors
async def get_run(request: web.Request) -> web.Response:
    state = request.app[IMPORTS]
    run = await state.service.get_run(
        _run_id(request),
        user=current_user(request),
        with_report=request.query.get("report", "1") != "0",
    )
    return web.json_response(run)


@roles()
async def list_runs(request: web.Request) -> web.Response:
    state = request.app[IMPORTS]
    runs = await state.service.list_runs(user=current_user(request))
    return web.json_response({"runs": runs})


@roles()
async def list_presets(request: web.Request) -> web.Response:
    state = request.app[IMPORTS]
    format = request.query.get("format") or None
    return web.json_response({"presets": await state.service.list_presets(format)})


@roles()
@_import_errors
async def save_preset(request: web.Request) -> web.Response:
    state = request.app[IMPORTS]
    data = await read_json(request)
    mapping = data.get("mapping")
    if not isinstance(mapping, dict):
        mapping = {}
    preset_id = await state.service.save_preset(
        str(data.get("name") or ""),
        str(data.get("format") or ""),
        mapping,
        user=current_user(request),
    )
    return web.json_response({"id": preset_id}, status=201)


@roles()
@_import_errors
async def delete_preset(request: web.Request) -> web.Response:
    state = request.app[IMPORTS]
    raw = request.match_info["preset_id"]
    if not raw.isdigit() or len(raw) > 9:
        raise NoSuchImport("нет такого шаблона")
    await state.service.delete_preset(int(raw), user=current_user(request))
    return web.json_response({"deleted": int(raw)})


# -- exports --------------------------------------------------------------------------


def _xlsx(content: bytes, name: str) -> web.Response:
    quoted = urllib.parse.quote(name)
    return web.Response(
        body=content,
        content_type=XLSX_TYPE,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
            "Cache-Control": "no-store",
        },
    )


@roles()
async def export_clients(request: web.Request) -> web.Response:
    state = request.app[IMPORTS]
    services = request.app[SERVICES]
    user = current_user(request)
    selection = None
    name = "Клиенты.xlsx"
    if "selection" in request.query:
        raw = request.query["selection"]
        if not raw.isdigit() or len(raw) > 18:
            raise web.HTTPUnprocessableEntity(reason="selection: a selection id")
        # Readable by the user, or "not found"; its companies follow their rights.
        try:
            saved = await request.app[SELECTIONS].get_selection(int(raw), user)
        except NoSuchSelection as error:
            return error_response(request, 404, error.code, str(error))
        selection = saved["filters"]
        name = f"Выборка {saved['name']}.xlsx"
    content = await clients_workbook(
        state.sessions,
        user,
        query=request.query.get("q", "")[:200],
        selection=selection,
        label=lambda key: i18n.translate(key, user.language),
        zone=services.zone,
    )
    return _xlsx(content, name)


@roles()
async def export_calls(request: web.Request) -> web.Response:
    """The calls list with its filters; all pages of it, up to MAX_EXPORT_CALLS."""
    services = request.app[SERVICES]
    user = current_user(request)
    filters = call_filters(request.query, services.zone)
    calls: list[dict[str, Any]] = []
    offset = 0
    while offset < MAX_EXPORT_CALLS:
        page = await services.calls.list_calls(
            user, dataclasses.replace(filters, limit=_EXPORT_PAGE, offset=offset)
        )
        calls.extend(page)
        if len(page) < _EXPORT_PAGE:
            break
        offset += _EXPORT_PAGE
    content = await calls_workbook(
        calls,
        label=lambda key: i18n.translate(key, user.language),
        zone=services.zone,
    )
    logger.info("calls exported user_id=%s rows=%s", user.id, len(calls))
    return _xlsx(content, "Звонки.xlsx")


# -- wiring ---------------------------------------------------------------------------

_MAPPING = {
    "type": "object",
    "additionalProperties": {"type": "string", "enum": list(FIELDS)},
    "description": "file column header → field",
    "example": {"Наименование": "company_name", "ИНН": "inn"},
}
_RUN_ID = {
    "name": "run_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
PATHS: dict[str, Any] = {
    "/api/imports/files": {
        "post": {
            "summary": "Upload a file to import: its columns, a sample, a suggested mapping",
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {
                                "format": {"enum": ["auto", *FORMATS]},
                                "file": {"type": "string", "format": "binary"},
                            },
                        }
                    }
                },
            },
            "responses": {"200": {"description": "The file as read"}, "422": ERROR},
        }
    },
    "/api/imports/runs": {
        "get": {
            "summary": "Recent imports (yours; head and admins: everyone's)",
            "responses": {"200": {"description": "Runs"}},
        },
        "post": {
            "summary": "Start a dry run or a real import of an uploaded file",
            "requestBody": body(
                {
                    "upload_id": {"type": "string"},
                    "mapping": _MAPPING,
                    "preset_id": {"type": "integer"},
                    "dry_run": {"type": "boolean", "default": True},
                },
                ["upload_id"],
            ),
            "responses": {
                "202": {"description": "Started; poll status_url"},
                "404": ERROR,
                "422": ERROR,
            },
        },
    },
    "/api/imports/runs/{run_id}": {
        "get": {
            "summary": "Progress, counts and the per-row report of an import",
            "parameters": [
                _RUN_ID,
                query("report", {"enum": ["0", "1"]}, "0: without the report"),
            ],
            "responses": {"200": {"description": "The run"}, "404": ERROR},
        }
    },
    "/api/imports/presets": {
        "get": {
            "summary": "Saved column mappings",
            "parameters": [
                query("format", {"enum": list(FORMATS)}, "Only this format")
            ],
            "responses": {"200": {"description": "Presets"}},
        },
        "post": {
            "summary": "Save a column mapping (same name and format: replaced)",
            "requestBody": body(
                {
                    "name": {"type": "string"},
                    "format": {"enum": list(FORMATS)},
                    "mapping": _MAPPING,
                },
                ["name", "format", "mapping"],
            ),
            "responses": {"201": {"description": "Saved"}, "422": ERROR},
        },
    },
    "/api/imports/presets/{preset_id}": {
        "delete": {
            "summary": "Delete a preset (its owner, head or admin)",
            "parameters": [
                {
                    "name": "preset_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer"},
                }
            ],
            "responses": {"200": {"description": "Deleted"}, "404": ERROR},
        }
    },
    "/api/export/clients.xlsx": {
        "get": {
            "summary": "The clients list (what the user may see) as an Excel file",
            "parameters": [
                query("q", {"type": "string"}, "Part of the name"),
                query(
                    "selection",
                    {"type": "integer"},
                    "A saved selection: its companies instead of the list",
                ),
            ],
            "responses": {
                "200": {"description": "xlsx", "content": {XLSX_TYPE: {}}},
            },
        }
    },
    "/api/export/calls.xlsx": {
        "get": {
            "summary": "The calls list with the same filters as GET /api/calls, as Excel",
            "parameters": [
                query("since", {"type": "string"}, "From this date"),
                query("until", {"type": "string"}, "Up to and including this date"),
                query("manager_id", {"type": "integer"}, "Manager (user id)"),
                query("company_id", {"type": "integer"}, "Client company"),
                query("direction", {"type": "string"}, "Direction"),
                query("outcome", {"type": "string"}, "Outcome"),
                query("number", {"type": "string"}, "Client number"),
            ],
            "responses": {
                "200": {"description": "xlsx", "content": {XLSX_TYPE: {}}},
                "422": ERROR,
            },
        }
    },
}


async def _start(app: web.Application) -> None:
    services = app[SERVICES]
    engine = create_engine(services.database_url, pool_size=2)
    sessions = create_session_factory(engine)
    service = ImportService(
        sessions, services.clients, region=app[SETTINGS].phone_region
    )
    app[IMPORTS] = ImportsState(engine=engine, sessions=sessions, service=service)


async def _cancel_runs(app: web.Application) -> None:
    state = app.get(IMPORTS)
    if state is None:
        return
    for task in list(state.tasks):
        task.cancel()
    await asyncio.gather(*state.tasks, return_exceptions=True)


async def _stop(app: web.Application) -> None:
    state = app.get(IMPORTS)
    if state is not None:
        await state.engine.dispose()


def setup(app: web.Application) -> None:
    app.router.add_get("/imports", imports_page)
    app.router.add_post("/api/imports/files", upload_file)
    app.router.add_get("/api/imports/runs", list_runs)
    app.router.add_post("/api/imports/runs", start_run)
    app.router.add_get("/api/imports/runs/{run_id}", get_run)
    app.router.add_get("/api/imports/presets", list_presets)
    app.router.add_post("/api/imports/presets", save_preset)
    app.router.add_delete("/api/imports/presets/{preset_id}", delete_preset)
    app.router.add_get("/api/export/clients.xlsx", export_clients)
    app.router.add_get("/api/export/calls.xlsx", export_calls)
    add_paths(app, PATHS)
    # on_startup handlers run after the cleanup contexts have started, so the
    # services (and the database URL they resolved) are there. Running imports are
    # stopped on shutdown, while the services they use are still up.
    app.on_startup.append(_start)
    app.on_shutdown.append(_cancel_runs)
    app.on_cleanup.append(_stop)
