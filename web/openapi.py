"""The OpenAPI 3.1 document of the JSON API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/responses/Error"}
_CALL_ID = {
    "name": "call_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
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
                    _query(
                        "since",
                        {"type": "string"},
                        "From this date (2026-12-04 or 04.12.2026) or date-time",
                    ),
                    _query(
                        "until", {"type": "string"}, "Up to and including this date"
                    ),
                    _query("manager_id", {"type": "integer"}, "Manager (user id)"),
                    _query("company_id", {"type": "integer"}, "Client company"),
                    _query(
                        "direction",
                        {"type": "string"},
                        "inbound, outbound, internal, originated",
                    ),
                    _query(
                        "outcome",
                        {"type": "string"},
                        "answered, missed, busy, no_answer, failed, cancelled",
                    ),
                    _query("number", {"type": "string"}, "Client number in any format"),
                    _query(
                        "limit", {"type": "integer", "maximum": 500}, "Page size (100)"
                    ),
                    _query("offset", {"type": "integer"}, "Rows to skip"),
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
                    "422": _ERROR,
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
                    "409": _ERROR,
                    "422": _ERROR,
                    "503": _ERROR,
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
                    "404": _ERROR,
                },
            }
        },
        "/api/calls/{call_id}/events": {
            "get": {
                "summary": "The raw AMI events the call record was built from (audit)",
                "parameters": [_CALL_ID],
                "responses": {"200": {"description": "Events"}, "404": _ERROR},
            }
        },
        "/api/calls/{call_id}/recording": {
            "get": {
                "summary": "The recording (audio/wav); supports Range requests",
                "parameters": [_CALL_ID],
                "responses": {
                    "200": {"description": "Audio"},
                    "206": {"description": "Part of the audio"},
                    "404": _ERROR,
                },
            }
        },
        "/api/calls/{call_id}/listen": {
            "post": {
                "summary": "Supervisors: listen in (muted) on your phone to a live call",
                "parameters": [_CALL_ID],
                "responses": {
                    "202": {"description": "Your phone rings; answer to listen"},
                    "403": _ERROR,
                    "422": _ERROR,
                    "503": _ERROR,
                },
            }
        },
        "/api/clients": {
            "get": {
                "summary": "Client companies visible to the user",
                "parameters": [_query("q", {"type": "string"}, "Part of the name")],
                "responses": {"200": {"description": "Clients"}},
            },
            "post": {
                "summary": "Create a client company with a phone (and a contact person)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["company_name", "phone"],
                                "properties": {
                                    "company_name": {"type": "string"},
                                    "phone": {"type": "string"},
                                    "contact_name": {"type": "string"},
                                    "position": {"type": "string"},
                                    "email": {"type": "string"},
                                    "inn": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {"201": {"description": "Created"}, "422": _ERROR},
            },
        },
        "/api/clients/{company_id}": {
            "get": {
                "summary": "A client card",
                "parameters": [
                    {
                        "name": "company_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {"200": {"description": "The card"}, "404": _ERROR},
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
