"""The OpenAPI 3.1 document of the JSON API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

ERROR = {"$ref": "#/components/responses/Error"}
_CALL_ID = {
    "name": "call_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Call-center CRM API",
        "version": "1.0",
        "description": (
            "Calls logged from Asterisk, click-to-call and the client base. "
            "Authenticate with the panel's session cookie, or with "
            "`Authorization: Bearer <token>` (tokens: `callcenter users token LOGIN`). "
            "Requests with the session cookie that change state need the "
            "`X-CSRF-Token` header. Times are ISO 8601 with offset."
        ),
    },
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "cc_session"},
        },
        "responses": {
            "Error": {
                "description": "An error with a machine-readable code",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "error": {
                                    "type": "object",
                                    "properties": {
                                        "code": {"type": "string"},
                                        "message": {"type": "string"},
                                        "field": {"type": "string"},
                                    },
                                    "required": ["code", "message"],
                                }
                            },
                        }
                    }
                },
            }
        },
        "schemas": {
            "Recording": {
                "type": ["object", "null"],
                "properties": {
                    "status": {"enum": ["pending", "ready", "empty", "missing"]},
                    "duration_seconds": {"type": ["number", "null"]},
                    "url": {"type": "string"},
                },
            },
            "Call": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "linkedid": {"type": ["string", "null"]},
                    "direction": {
                        "enum": [
                            "inbound",
                            "outbound",
                            "internal",
                            "originated",
                            "listen",
                        ]
                    },
                    "status": {"enum": ["originating", "ringing", "active", "ended"]},
                    "outcome": {
                        "enum": [
                            "answered",
                            "missed",
                            "busy",
                            "no_answer",
                            "failed",
                            "cancelled",
                            None,
                        ]
                    },
                    "failure_stage": {"enum": ["manager", "client", "pbx", None]},
                    "number": {
                        "type": ["string", "null"],
                        "description": "E.164 digits",
                    },
                    "number_display": {"type": ["string", "null"]},
                    "company_id": {"type": ["integer", "null"]},
                    "company_name": {"type": ["string", "null"]},
                    "manager_id": {"type": ["integer", "null"]},
                    "manager_name": {"type": ["string", "null"]},
                    "started_at": {"type": "string", "format": "date-time"},
                    "answered_at": {"type": ["string", "null"], "format": "date-time"},
                    "ended_at": {"type": ["string", "null"], "format": "date-time"},
                    "ring_seconds": {"type": ["integer", "null"]},
                    "talk_seconds": {"type": ["integer", "null"]},
                    "hangup_cause": {"type": ["integer", "null"]},
                    "hangup_cause_text": {"type": ["string", "null"]},
                    "recording": {"$ref": "#/components/schemas/Recording"},
                },
            },
            "CallDetail": {
                "allOf": [
                    {"$ref": "#/components/schemas/Call"},
                    {
                        "type": "object",
                        "properties": {
                            "legs": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "kind": {
                                            "enum": ["manager", "client", "other"]
                                        },
                                        "channel": {"type": "string"},
                                        "extension": {"type": ["string", "null"]},
                                        "ring_seconds": {"type": ["integer", "null"]},
                                        "talk_seconds": {"type": ["integer", "null"]},
                                        "dial_status": {"type": ["string", "null"]},
                                        "hangup_cause": {"type": ["integer", "null"]},
                                    },
                                },
                            },
                            "ami_event_count": {"type": "integer"},
                        },
                    },
                ]
            },
        },
    },
    "security": [{"bearer": []}, {"session": []}],
    "paths": {
        "/api/calls": {
            "get": {
                "summary": "Calls visible to the user, newest first",
                "parameters": [
                    query(
                        "since",
                        {"type": "string"},
                        "From this date (2026-12-04 or 04.12.2026) or date-time",
                    ),
                    query("until", {"type": "string"}, "Up to and including this date"),
                    query("manager_id", {"type": "integer"}, "Manager (user id)"),
                    query("company_id", {"type": "integer"}, "Client company"),
                    query(
                        "direction",
                        {"type": "string"},
                        "inbound, outbound, internal, originated",
                    ),
                    query(
                        "outcome",
                        {"type": "string"},
                        "answered, missed, busy, no_answer, failed, cancelled",
                    ),
                    query("number", {"type": "string"}, "Client number in any format"),
                    query(
                        "limit", {"type": "integer", "maximum": 500}, "Page size (100)"
                    ),
                    query("offset", {"type": "integer"}, "Rows to skip"),
                ],
                "responses": {
                    "200": {
                        "description": "Calls",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "calls": {
                                            "type": "array",
                                            "items": {
                                                "$ref": "#/components/schemas/Call"
                                            },
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "422": ERROR,
                },
            },
            "post": {
                "summary": "Click-to-call: ring the user's phone, then dial the number",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["number"],
                                "properties": {
                                    "number": {
                                        "type": "string",
                                        "example": "+7 (916) 123-45-67",
                                    },
                                    "extension": {"type": "string"},
                                    "company_id": {"type": "integer"},
                                    "contact_id": {"type": "integer"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "Asked the PBX; progress follows on the websocket"
                    },
                    "409": ERROR,
                    "422": ERROR,
                    "503": ERROR,
                },
            },
        },
        "/api/calls/live": {
            "get": {
                "summary": "Calls in progress",
                "responses": {"200": {"description": "Live calls"}},
            }
        },
        "/api/calls/{call_id}": {
            "get": {
                "summary": "One call with its legs and recording",
                "parameters": [_CALL_ID],
                "responses": {
                    "200": {
                        "description": "The call",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CallDetail"}
                            }
                        },
                    },
                    "404": ERROR,
                },
            }
        },
        "/api/calls/{call_id}/events": {
            "get": {
                "summary": "The raw AMI events the call record was built from (audit)",
                "parameters": [_CALL_ID],
                "responses": {"200": {"description": "Events"}, "404": ERROR},
            }
        },
        "/api/calls/{call_id}/recording": {
            "get": {
                "summary": "The recording (audio/wav); supports Range requests",
                "parameters": [_CALL_ID],
                "responses": {
                    "200": {"description": "Audio"},
                    "206": {"description": "Part of the audio"},
                    "404": ERROR,
                },
            }
        },
        "/api/calls/{call_id}/listen": {
            "post": {
                "summary": "Supervisors: listen in (muted) on your phone to a live call",
                "parameters": [_CALL_ID],
                "responses": {
                    "202": {"description": "Your phone rings; answer to listen"},
                    "403": ERROR,
                    "422": ERROR,
                    "503": ERROR,
                },
            }
        },
        "/api/me": {
            "get": {
                "summary": "The authenticated user",
                "responses": {"200": {"description": "User"}},
            }
        },
        "/api/health": {
            "get": {
                "summary": "PBX link and call-log writer state (no authentication)",
                "security": [],
                "responses": {"200": {"description": "Health"}},
            }
        },
    },
}


PATHS = web.AppKey("openapi_paths", dict)


def add_paths(app: web.Application, paths: dict[str, Any]) -> None:
    """Route modules describe their own paths; the document is assembled on request."""
    app.setdefault(PATHS, {}).update(paths)


def document(app: web.Application) -> dict[str, Any]:
    return {**OPENAPI, "paths": {**OPENAPI["paths"], **app.get(PATHS, {})}}


def body(
    properties: dict[str, Any], required: list[str] | None = None
) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": required or [],
                    "properties": properties,
                }
            }
        },
    }


def path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
