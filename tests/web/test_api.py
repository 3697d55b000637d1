"""The JSON API and the login form, driven over HTTP against the whole application.

The app runs on a real database with the bundled AMI simulator on loopback (fixtures in
``tests/web/conftest.py``). Click-to-call tests let the simulator play the captured
call to its end; the simulator plays faster than real time here (see ``fast_pbx``), so
they measure outcomes and legs, never durations.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ami.simulator import AmiSimulator
from callcenter.calls.models import Call, CallStatus, Direction, Outcome
from callcenter.db import SessionFactory, transaction
from tests.web.conftest import PASSWORD, log_in
from web.keys import SERVICES

CLIENT_E164 = "79161234567"
# Settings have no simulator speed, so the tests set it on the running simulator.
# 4x turns the ~11 s captured click-to-call into ~3 s.
SIM_SPEED = 4.0
CALL_END_TIMEOUT = 20.0


@pytest.fixture
def fast_pbx(app: web.Application, client: TestClient) -> AmiSimulator:
    simulator = app[SERVICES].simulator
    assert simulator is not None
    simulator.speed = SIM_SPEED
    return simulator


def originates(simulator: AmiSimulator) -> list[dict[str, Any]]:
    return [
        action
        for action in simulator.actions_received
        if str(action.get("Action", "")).lower() == "originate"
    ]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def user_id(app: web.Application, login: str) -> int:
    user = await app[SERVICES].users.find_user_by_login(login)
    assert user is not None
    return user.id


async def place_call(client: TestClient, csrf: str, number: str) -> dict[str, Any]:
    response = await client.post(
        "/api/calls", json={"number": number}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 202, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def wait_until_ended(client: TestClient, call_id: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CALL_END_TIMEOUT
    call: dict[str, Any] = {}
    while loop.time() < deadline:
        response = await client.get(f"/api/calls/{call_id}")
        assert response.status == 200, await response.text()
        call = await response.json()
        if call["status"] == "ended":
            return call
        await asyncio.sleep(0.2)
    raise AssertionError(f"call {call_id} did not end in time: {call}")


# -- login --------------------------------------------------------------------------


async def test_login_with_the_right_password_opens_a_session(
    client: TestClient,
) -> None:
    response = await client.post(
        "/login",
        data={"login": "manager", "password": PASSWORD},
        allow_redirects=False,
    )

    assert response.status == 302
    assert response.headers["Location"] == "/calls"
    cookie = response.cookies["cc_session"]
    assert cookie.value
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    me = await (await client.get("/api/me")).json()
    assert me["login"] == "manager"
    assert me["role"] == "manager"
    assert me["extensions"] == ["101"]


async def test_wrong_password_answers_401_with_the_russian_message(
    client: TestClient,
) -> None:
    response = await client.post(
        "/login",
        data={"login": "manager", "password": "wrong-horse"},
        allow_redirects=False,
    )

    assert response.status == 401
    assert "Неверный логин или пароль" in await response.text()
    assert "cc_session" not in response.cookies
    assert (await client.get("/api/me")).status == 401


async def test_eleventh_login_after_ten_failures_is_throttled(
    client: TestClient,
) -> None:
    for attempt in range(10):
        response = await client.post(
            "/login", data={"login": "manager", "password": f"guess-{attempt}"}
        )
        assert response.status == 401, attempt

    # Blocked even with the right password: the throttle is checked first.
    response = await client.post(
        "/login",
        data={"login": "manager", "password": PASSWORD},
        allow_redirects=False,
    )

    assert response.status == 429
    assert "cc_session" not in response.cookies


async def test_login_refuses_to_redirect_off_site(client: TestClient) -> None:
    hostile = [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:x",
    ]
    forms, redirects = {}, {}

    for next_path in hostile:
        page = await (await client.get("/login", params={"next": next_path})).text()
        match = re.search(r'name="next" value="([^"]*)"', page)
        forms[next_path] = match.group(1) if match else None
        response = await client.post(
            "/login",
            data={"login": "manager", "password": PASSWORD, "next": next_path},
            allow_redirects=False,
        )
        redirects[next_path] = (response.status, response.headers.get("Location"))

    assert forms == dict.fromkeys(hostile, "/calls")
    assert redirects == dict.fromkeys(hostile, (302, "/calls"))


async def test_login_follows_a_local_next_path(client: TestClient) -> None:
    response = await client.post(
        "/login",
        data={"login": "manager", "password": PASSWORD, "next": "/clients?q=abc"},
        allow_redirects=False,
    )

    assert response.status == 302
    assert response.headers["Location"] == "/clients?q=abc"


# -- authentication -------------------------------------------------------------------


async def test_api_without_credentials_answers_401_json(client: TestClient) -> None:
    response = await client.get("/api/calls")

    assert response.status == 401
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["error"]["code"] == "unauthenticated"


async def test_page_without_session_redirects_to_the_login_form(
    client: TestClient,
) -> None:
    response = await client.get("/clients", allow_redirects=False)

    assert response.status == 302
    assert response.headers["Location"] == "/login?next=/clients"


async def test_login_redirect_keeps_the_whole_query_of_the_page(
    client: TestClient,
) -> None:
    asked = "/calls?direction=inbound&outcome=missed"
    redirect = await client.get(asked, allow_redirects=False)
    login_form = await client.get(redirect.headers["Location"])

    form = await login_form.text()

    match = re.search(r'name="next" value="([^"]*)"', form)
    assert match is not None
    assert match.group(1) == "/calls?direction=inbound&amp;outcome=missed"


async def test_an_unknown_page_answers_404(client: TestClient) -> None:
    await log_in(client, "manager")

    # Browsers ask for /favicon.ico on every first visit.
    response = await client.get("/favicon.ico", allow_redirects=False)

    assert response.status == 404


async def test_an_unknown_api_path_answers_404_json(client: TestClient) -> None:
    await log_in(client, "manager")

    response = await client.get("/api/no-such-thing")

    assert response.status == 404
    assert response.content_type == "application/json"


async def test_a_page_outside_the_users_role_answers_a_403_page(
    client: TestClient,
) -> None:
    await log_in(client, "manager")

    response = await client.get("/live", allow_redirects=False)

    assert response.status == 403
    assert response.content_type == "text/html"


async def test_a_form_post_without_the_csrf_token_answers_a_403_page(
    client: TestClient,
) -> None:
    await log_in(client, "manager")

    response = await client.post(
        "/clients/new",
        data={"company_name": "ООО Ромашка", "phone": "+7 916 555-00-11"},
        allow_redirects=False,
    )

    assert response.status == 403
    assert response.content_type == "text/html"
    clients = await (await client.get("/api/clients")).json()
    assert clients["clients"] == []


async def test_api_token_authenticates_bearer_requests(
    app: web.Application, client: TestClient
) -> None:
    token = await app[SERVICES].users.issue_api_token("supervisor", "reports")

    response = await client.get("/api/me", headers=bearer(token))

    assert response.status == 200
    me = await response.json()
    assert me["login"] == "supervisor"
    assert me["role"] == "supervisor"


async def test_api_token_writes_need_no_csrf_token(
    app: web.Application, client: TestClient
) -> None:
    token = await app[SERVICES].users.issue_api_token("manager", "1c-sync")

    response = await client.post(
        "/api/clients",
        json={"company_name": "ООО Ромашка", "phone": "+7 916 555-00-11"},
        headers=bearer(token),
    )

    assert response.status == 201, await response.text()
    created = await response.json()
    card = await (
        await client.get(f"/api/clients/{created['id']}", headers=bearer(token))
    ).json()
    assert card["name"] == "ООО Ромашка"


async def test_bad_api_token_answers_401(client: TestClient) -> None:
    tokens = ["cct_not-a-real-token", "not-even-the-prefix", "cct_" + "x" * 300]
    answers = {}

    for token in tokens:
        response = await client.get("/api/me", headers=bearer(token))
        answers[token] = (response.status, (await response.json())["error"]["code"])

    assert answers == dict.fromkeys(tokens, (401, "bad_token"))


async def test_bad_api_token_is_refused_even_with_a_valid_session(
    client: TestClient,
) -> None:
    await log_in(client, "manager")

    response = await client.get("/api/me", headers=bearer("cct_forged"))

    assert response.status == 401


# -- CSRF ---------------------------------------------------------------------------


async def test_session_post_without_the_csrf_token_is_refused(
    fast_pbx: AmiSimulator, client: TestClient
) -> None:
    csrf = await log_in(client, "manager")
    sent_tokens = {"absent": {}, "empty": {"X-CSRF-Token": ""}}
    sent_tokens["another"] = {"X-CSRF-Token": "0" * len(csrf)}
    answers = {}

    for name, headers in sent_tokens.items():
        response = await client.post(
            "/api/calls", json={"number": CLIENT_E164}, headers=headers
        )
        answers[name] = (response.status, (await response.json())["error"]["code"])

    assert answers == dict.fromkeys(sent_tokens, (403, "csrf"))
    assert originates(fast_pbx) == []


# -- click-to-call ------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["8 916 123-45-67", "+7 (916) 123-45-67", "9161234567"]
)
async def test_click_to_call_rings_the_manager_then_logs_the_answered_call(
    app: web.Application, fast_pbx: AmiSimulator, client: TestClient, typed: str
) -> None:
    csrf = await log_in(client, "manager")
    manager_id = await user_id(app, "manager")

    placed = await place_call(client, csrf, typed)
    call = await wait_until_ended(client, placed["id"])

    assert placed["number"] == CLIENT_E164
    assert placed["status"] == "originating"
    [originate] = originates(fast_pbx)
    assert originate["Channel"] == "PJSIP/101"
    assert originate["Exten"] == CLIENT_E164
    assert call["outcome"] == "answered"
    assert call["direction"] == "originated"
    assert call["number"] == CLIENT_E164
    assert call["manager_id"] == manager_id
    assert call["manager_extension"] == "101"
    legs = {leg["kind"]: leg for leg in call["legs"]}
    assert legs["manager"]["extension"] == "101"
    assert legs["manager"]["user_id"] == manager_id
    assert legs["client"]["number"] == CLIENT_E164
    assert legs["client"]["answered_at"] is not None


BAD_CALL_REQUESTS: dict[str, tuple[dict[str, Any], str]] = {
    "AMI header injection": ({"number": "79161234567\r\nAction: Hangup"}, "number"),
    "bare newline": ({"number": "79161234567\nChannel: PJSIP/999"}, "number"),
    "letters": ({"number": "abcdefg"}, "number"),
    "empty": ({"number": ""}, "number"),
    "blank": ({"number": "   "}, "number"),
    "300 characters": ({"number": "7" * 300}, "number"),
    "not a string": ({"number": 79161234567}, "number"),
    "missing": ({}, "number"),
    "too short": ({"number": "12"}, "number"),
    "someone else's extension": (
        {"number": CLIENT_E164, "extension": "102"},
        "extension",
    ),
    "injected extension": (
        {"number": CLIENT_E164, "extension": "101\r\nAction: Hangup"},
        "extension",
    ),
    "company id not a number": (
        {"number": CLIENT_E164, "company_id": "1;"},
        "company_id",
    ),
}


async def test_click_to_call_refuses_bad_input_before_the_pbx(
    fast_pbx: AmiSimulator, client: TestClient
) -> None:
    csrf = await log_in(client, "manager")
    answers = {}

    for name, (body, _) in BAD_CALL_REQUESTS.items():
        response = await client.post(
            "/api/calls", json=body, headers={"X-CSRF-Token": csrf}
        )
        error = (await response.json()).get("error", {})
        answers[name] = (response.status, error.get("code"), error.get("field"))

    assert answers == {
        name: (422, "invalid_input", field)
        for name, (_, field) in BAD_CALL_REQUESTS.items()
    }
    assert originates(fast_pbx) == []


async def test_click_to_call_refuses_letters_mixed_with_digits(
    fast_pbx: AmiSimulator, client: TestClient
) -> None:
    # A "vanity" spelling is turned into other digits by phonenumbers: the PBX would
    # dial 79163569377, a number nobody typed.
    csrf = await log_in(client, "manager")

    response = await client.post(
        "/api/calls", json={"number": "8 916 FLOWERS"}, headers={"X-CSRF-Token": csrf}
    )

    assert response.status == 422, await response.text()
    assert originates(fast_pbx) == []


async def test_click_to_call_refuses_a_json_list_body_with_422(
    fast_pbx: AmiSimulator, client: TestClient
) -> None:
    csrf = await log_in(client, "manager")

    response = await client.post(
        "/api/calls", json=[CLIENT_E164], headers={"X-CSRF-Token": csrf}
    )

    assert response.status == 422, await response.text()
    assert originates(fast_pbx) == []


async def test_click_to_call_refuses_a_body_that_is_not_json_with_400(
    fast_pbx: AmiSimulator, client: TestClient
) -> None:
    csrf = await log_in(client, "manager")
    bodies = [b"number=79161234567", b"{'number': '79161234567'}", b"\xff\xfe{}", b""]
    answers = {}

    for raw in bodies:
        response = await client.post(
            "/api/calls",
            data=raw,
            headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
        )
        answers[raw] = (response.status, (await response.json())["error"]["code"])

    assert answers == dict.fromkeys(bodies, (400, "http_error"))
    assert originates(fast_pbx) == []


async def test_click_to_call_by_a_user_without_an_extension_answers_409(
    fast_pbx: AmiSimulator, client: TestClient
) -> None:
    csrf = await log_in(client, "head")

    response = await client.post(
        "/api/calls", json={"number": CLIENT_E164}, headers={"X-CSRF-Token": csrf}
    )

    assert response.status == 409
    assert (await response.json())["error"]["code"] == "no_extension"
    assert originates(fast_pbx) == []


async def test_a_manager_cannot_read_another_managers_call_but_a_supervisor_can(
    app: web.Application, fast_pbx: AmiSimulator, client: TestClient
) -> None:
    csrf = await log_in(client, "manager")
    users = app[SERVICES].users
    manager2 = bearer(await users.issue_api_token("manager2", "test"))
    supervisor = bearer(await users.issue_api_token("supervisor", "test"))
    placed = await place_call(client, csrf, CLIENT_E164)
    await wait_until_ended(client, placed["id"])

    hidden = await client.get(f"/api/calls/{placed['id']}", headers=manager2)
    hidden_events = await client.get(
        f"/api/calls/{placed['id']}/events", headers=manager2
    )
    others_list = await (await client.get("/api/calls", headers=manager2)).json()
    seen = await client.get(f"/api/calls/{placed['id']}", headers=supervisor)
    supervisor_list = await (await client.get("/api/calls", headers=supervisor)).json()

    assert hidden.status == 404
    assert (await hidden.json())["error"]["code"] == "no_such_call"
    assert hidden_events.status == 404
    assert placed["id"] not in [c["id"] for c in others_list["calls"]]
    assert seen.status == 200
    assert (await seen.json())["outcome"] == "answered"
    assert placed["id"] in [c["id"] for c in supervisor_list["calls"]]


async def test_an_unknown_or_malformed_call_id_answers_404(client: TestClient) -> None:
    await log_in(client, "supervisor")

    missing = await client.get(f"/api/calls/{uuid.uuid4()}")
    malformed = await client.get("/api/calls/not-a-uuid")

    assert missing.status == 404
    assert malformed.status == 404
    assert (await malformed.json())["error"]["code"] == "no_such_call"


# -- OpenAPI ------------------------------------------------------------------------

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


async def test_openapi_document_is_valid_openapi_3_1(client: TestClient) -> None:
    response = await client.get("/api/openapi.json")

    assert response.status == 200
    document = await response.json()
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"]
    assert document["info"]["version"]
    paths = document["paths"]
    for path in (
        "/api/calls",
        "/api/calls/{call_id}",
        "/api/calls/{call_id}/recording",
    ):
        assert path in paths
    assert {"get", "post"} <= set(paths["/api/calls"])
    assert "get" in paths["/api/calls/{call_id}/recording"]

    for ref in _refs(document):
        assert _resolve(document, ref) is not None, ref
    for path, item in paths.items():
        assert path.startswith("/")
        templated = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            assert method in HTTP_METHODS | {"parameters", "summary"}, method
            if method not in HTTP_METHODS:
                continue
            assert operation["responses"], f"{method} {path} has no responses"
            for status in operation["responses"]:
                assert re.fullmatch(r"[1-5](\d\d|XX)|default", status), status
            declared = {
                p["name"]
                for p in operation.get("parameters", []) + item.get("parameters", [])
                if p["in"] == "path"
            }
            assert declared == templated, f"{method} {path}"
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    assert parameter["required"] is True
    for scheme in document.get("security", []):
        for name in scheme:
            assert name in document["components"]["securitySchemes"]


# -- call list filters ----------------------------------------------------------------

MSK = dt.timezone(dt.timedelta(hours=3))


async def _log_calls(sessions: SessionFactory, manager_id: int) -> dict[str, uuid.UUID]:
    """Calls of the manager around the local day 04.12.2026 (Moscow, UTC+3)."""
    rows = {
        # 04.12 00:30 Moscow is still 03.12 in UTC: it belongs to the 4th.
        "inbound_early": (Direction.INBOUND, Outcome.ANSWERED, "79161234567",
                          dt.datetime(2026, 12, 4, 0, 30, tzinfo=MSK)),
        "inbound_missed": (Direction.INBOUND, Outcome.MISSED, "79035550000",
                           dt.datetime(2026, 12, 4, 13, 0, tzinfo=MSK)),
        "originated_busy": (Direction.ORIGINATED, Outcome.BUSY, "79161234567",
                            dt.datetime(2026, 12, 4, 18, 0, tzinfo=MSK)),
        "next_day": (Direction.ORIGINATED, Outcome.ANSWERED, "79035550000",
                     dt.datetime(2026, 12, 5, 0, 30, tzinfo=MSK)),
        "day_before": (Direction.OUTBOUND, Outcome.ANSWERED, "79161234567",
                       dt.datetime(2026, 12, 3, 23, 59, tzinfo=MSK)),
    }  # fmt: skip
    ids = {}
    async with transaction(sessions) as session:
        for name, (direction, outcome, number, started) in rows.items():
            call = Call(
                id=uuid.uuid4(),
                linkedid=f"test-{name}",
                direction=direction,
                status=CallStatus.ENDED,
                outcome=outcome,
                client_number=number,
                manager_id=manager_id,
                manager_extension="101",
                started_at=started,
                ended_at=started + dt.timedelta(minutes=1),
            )
            session.add(call)
            ids[name] = call.id
    return ids


ALL_LOGGED = {
    "inbound_early",
    "inbound_missed",
    "originated_busy",
    "next_day",
    "day_before",
}
ON_THE_4TH = {"inbound_early", "inbound_missed", "originated_busy"}
# (query, the calls it must list); each query string is the key of the result.
FILTERS: list[tuple[dict[str, str], set[str]]] = [
    ({}, ALL_LOGGED),
    ({"direction": "inbound"}, {"inbound_early", "inbound_missed"}),
    ({"outcome": "answered"}, {"inbound_early", "next_day", "day_before"}),
    ({"direction": "originated", "outcome": "busy"}, {"originated_busy"}),
    (
        {"number": "8 (916) 123-45-67"},
        {"inbound_early", "originated_busy", "day_before"},
    ),
    ({"number": "+7 903 555 00 00"}, {"inbound_missed", "next_day"}),
    ({"since": "04.12.2026", "until": "04.12.2026"}, ON_THE_4TH),
    ({"since": "2026-12-04", "until": "2026-12-04"}, ON_THE_4TH),
    ({"since": "05.12.2026"}, {"next_day"}),
    ({"until": "03.12.2026"}, {"day_before"}),
    (
        {"since": "2026-12-04T12:00:00+03:00", "until": "2026-12-04T18:00:00+03:00"},
        {"inbound_missed"},
    ),
    # A date-time without an offset is Moscow time (the panel's zone).
    (
        {"since": "2026-12-04T12:00:00"},
        {"inbound_missed", "originated_busy", "next_day"},
    ),
    (
        {"since": "2026-12-04T09:00:00Z"},
        {"inbound_missed", "originated_busy", "next_day"},
    ),
]


async def test_call_list_filters(
    app: web.Application, client: TestClient, sessions: SessionFactory
) -> None:
    ids = await _log_calls(sessions, await user_id(app, "manager"))
    names = {str(call_id): name for name, call_id in ids.items()}
    await log_in(client, "manager")
    listed: dict[str, list[str]] = {}

    for query, _ in FILTERS:
        response = await client.get("/api/calls", params=query)
        assert response.status == 200, (query, await response.text())
        calls = (await response.json())["calls"]
        listed[str(query)] = sorted(names[call["id"]] for call in calls)

    assert listed == {str(query): sorted(expected) for query, expected in FILTERS}


async def test_call_list_is_newest_first(
    app: web.Application, client: TestClient, sessions: SessionFactory
) -> None:
    ids = await _log_calls(sessions, await user_id(app, "manager"))
    await log_in(client, "manager")

    calls = (await (await client.get("/api/calls")).json())["calls"]

    assert [c["id"] for c in calls] == [
        str(ids[name])
        for name in (
            "next_day",
            "originated_busy",
            "inbound_missed",
            "inbound_early",
            "day_before",
        )
    ]


BAD_FILTERS: list[tuple[dict[str, str], str]] = [
    ({"since": "31.02.2026"}, "since"),
    ({"since": "yesterday"}, "since"),
    ({"until": "2026-13-01"}, "until"),
    ({"until": "04/12/2026"}, "until"),
    ({"direction": "sideways"}, "direction"),
    ({"outcome": "maybe"}, "outcome"),
    ({"number": "not a phone"}, "number"),
    ({"manager_id": "abc"}, "manager_id"),
]


async def test_call_list_refuses_bad_filters_with_422(client: TestClient) -> None:
    await log_in(client, "manager")
    answers = {}

    for query, _ in BAD_FILTERS:
        response = await client.get("/api/calls", params=query)
        error = (await response.json()).get("error", {})
        answers[str(query)] = (response.status, error.get("code"), error.get("field"))

    assert answers == {
        str(query): (422, "invalid_input", field) for query, field in BAD_FILTERS
    }
