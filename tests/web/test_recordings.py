"""Call recordings: linked to the call, measured, served (with Range) and confined.

The simulator writes the MixMonitor file of a played call into the app's recordings
folder (``tmp_path/recordings``), as Asterisk would. The captured click-to-call
(sip-01) records 7.4 s of talk.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydub import AudioSegment
from sqlalchemy import select

from ami.simulator import AmiSimulator
from callcenter.calls.models import Recording
from callcenter.db import SessionFactory
from tests.web.conftest import log_in
from web.keys import SERVICES

CLIENT_E164 = "79161234567"
CAPTURED_TALK_SECONDS = 7.4
SIM_SPEED = 4.0
TIMEOUT = 25.0


def simulator_of(app: web.Application) -> AmiSimulator:
    simulator = app[SERVICES].simulator
    assert simulator is not None
    return simulator


async def answered_call(client: TestClient, csrf: str) -> dict[str, Any]:
    """Click-to-call the captured client; return the call once its recording is in."""
    response = await client.post(
        "/api/calls", json={"number": CLIENT_E164}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 202, await response.text()
    call_id = (await response.json())["id"]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    call: dict[str, Any] = {}
    while loop.time() < deadline:
        call = await (await client.get(f"/api/calls/{call_id}")).json()
        recording = call.get("recording")
        if call["status"] == "ended" and recording and recording["status"] != "pending":
            return call
        await asyncio.sleep(0.25)
    raise AssertionError(f"no recording linked in time: {call}")


async def recording_file_name(sessions: SessionFactory, call_id: str) -> str:
    async with sessions() as session:
        name = await session.scalar(
            select(Recording.file_name).where(Recording.call_id == uuid.UUID(call_id))
        )
    assert name is not None
    return name


def wav_seconds(data: bytes) -> float:
    return len(AudioSegment.from_file(io.BytesIO(data), format="wav")) / 1000.0


async def test_answered_call_recording_is_linked_measured_and_served_as_wav(
    client: TestClient,
) -> None:
    # Real speed: the talk time the CRM measures is wall-clock time.
    csrf = await log_in(client, "manager")

    call = await answered_call(client, csrf)
    response = await client.get(call["recording"]["url"])
    body = await response.read()
    measured = await asyncio.to_thread(wav_seconds, body)

    assert call["outcome"] == "answered"
    assert call["recording"]["status"] == "ready"
    assert call["recording"]["url"] == f"/api/calls/{call['id']}/recording"
    assert response.status == 200
    assert response.content_type == "audio/wav"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE"
    assert measured == pytest.approx(CAPTURED_TALK_SECONDS, abs=0.2)
    assert call["recording"]["duration_seconds"] == pytest.approx(measured, abs=0.05)
    assert call["talk_seconds"] == pytest.approx(measured, abs=1.5)


async def test_a_range_request_gets_206_with_exactly_those_bytes(
    app: web.Application, client: TestClient
) -> None:
    simulator_of(app).speed = SIM_SPEED
    csrf = await log_in(client, "manager")
    call = await answered_call(client, csrf)
    url = call["recording"]["url"]
    whole = await (await client.get(url)).read()

    first = await client.get(url, headers={"Range": "bytes=0-99"})
    first_body = await first.read()
    middle = await client.get(url, headers={"Range": "bytes=100-199"})
    middle_body = await middle.read()

    assert len(whole) > 200
    assert first.status == 206
    assert first.headers["Content-Range"] == f"bytes 0-99/{len(whole)}"
    assert first_body == whole[:100]
    assert middle.status == 206
    assert middle.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert middle_body == whole[100:200]


async def test_another_manager_gets_404_for_the_recording_and_a_supervisor_200(
    app: web.Application, client: TestClient
) -> None:
    simulator_of(app).speed = SIM_SPEED
    users = app[SERVICES].users
    manager2 = await users.issue_api_token("manager2", "test")
    supervisor = await users.issue_api_token("supervisor", "test")
    csrf = await log_in(client, "manager")
    call = await answered_call(client, csrf)
    url = call["recording"]["url"]

    hidden = await client.get(url, headers={"Authorization": f"Bearer {manager2}"})
    heard = await client.get(url, headers={"Authorization": f"Bearer {supervisor}"})

    assert hidden.status == 404
    assert (await hidden.json())["error"]["code"] == "no_such_call"
    assert heard.status == 200
    assert heard.content_type == "audio/wav"


async def test_a_call_without_a_recording_answers_404(client: TestClient) -> None:
    await log_in(client, "supervisor")

    response = await client.get(f"/api/calls/{uuid.uuid4()}/recording")

    assert response.status == 404
    assert (await response.json())["error"]["code"] == "no_such_call"


async def test_recording_path_refuses_names_outside_the_folder(
    app: web.Application, client: TestClient, tmp_path: Path
) -> None:
    folder = tmp_path / "recordings"
    (folder / "sub").mkdir()
    (folder / "sub" / "inside.wav").write_bytes(b"RIFF")
    (folder / ".hidden.wav").write_bytes(b"RIFF")
    (tmp_path / "outside.wav").write_bytes(b"RIFF")
    names = [
        "../../etc/passwd",
        "../outside.wav",
        "/etc/passwd",
        str(tmp_path / "outside.wav"),
        "sub/inside.wav",
        "sub\\inside.wav",
        "..",
        ".",
        "",
        ".hidden.wav",
        "missing.wav",
        "inside.wav\x00.txt",
        "x" * 500 + ".wav",
    ]
    calls = app[SERVICES].calls

    found = {name: await calls.recording_path(name) for name in names}

    assert found == dict.fromkeys(names)


async def test_recording_path_finds_a_file_in_the_folder(
    app: web.Application, client: TestClient, tmp_path: Path
) -> None:
    folder = tmp_path / "recordings"
    (folder / "1733325539.12.wav").write_bytes(b"RIFF")

    found = await app[SERVICES].calls.recording_path("1733325539.12.wav")

    assert found == (folder / "1733325539.12.wav").resolve()


async def test_a_symlink_pointing_out_of_the_folder_is_refused(
    app: web.Application, client: TestClient, tmp_path: Path
) -> None:
    folder = tmp_path / "recordings"
    (tmp_path / "outside.wav").write_bytes(b"RIFF secret")
    (folder / "1733325539.13.wav").symlink_to(tmp_path / "outside.wav")
    (folder / "1733325539.14.wav").symlink_to("/etc/passwd")
    (folder / "1733325539.15.wav").symlink_to("../outside.wav")
    links = ["1733325539.13.wav", "1733325539.14.wav", "1733325539.15.wav"]
    calls = app[SERVICES].calls

    found = {name: await calls.recording_path(name) for name in links}

    assert found == dict.fromkeys(links)


async def test_a_recording_replaced_by_a_symlink_is_not_served(
    app: web.Application, client: TestClient, sessions: SessionFactory, tmp_path: Path
) -> None:
    simulator_of(app).speed = SIM_SPEED
    csrf = await log_in(client, "manager")
    call = await answered_call(client, csrf)
    name = await recording_file_name(sessions, call["id"])
    secret = tmp_path / "secret.txt"
    secret.write_text("not a recording")
    path = tmp_path / "recordings" / name
    path.unlink()
    path.symlink_to(secret)

    response = await client.get(call["recording"]["url"])

    assert response.status == 404
    assert "not a recording" not in await response.text()
