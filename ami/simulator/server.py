"""The AMI simulator: a TCP server that speaks like Asterisk 22 and plays captured calls.

``AmiSimulator`` owns the listening socket, the client sessions, the scenario catalog,
the plays in progress and the live-channel registry; ``actions.CallActions`` handles
the actions that change calls. Plays hand the simulator every message to publish.
Published events go to every logged-in session whose event mask takes them, as
Asterisk's manager does, and they also feed the channel registry and the recordings
written to ``recordings_dir``.
"""

import asyncio
import itertools
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from ami.simulator.actions import CallActions
from ami.simulator.capture import (
    SAMPLE_RECORDING,
    TRACES_DIR,
    load_capture,
    login_end_index,
)
from ami.simulator.channels import ChannelRegistry, FinishedRecording, LiveChannel
from ami.simulator.player import OriginateRequest, Play, stretch_after
from ami.simulator.protocol import Headers, encode_message, get_header
from ami.simulator.recordings import UnsafeRecordingName, write_recording
from ami.simulator.rewrite import (
    IdAllocator,
    Parties,
    Rewriter,
    Seeds,
)
from ami.simulator.scenarios import (
    FLAVOURS,
    Catalog,
    OriginateInfo,
    Scenario,
    Step,
    StepKind,
    build_catalog,
    extension_of,
    inbound_key,
    outbound_key,
)
from ami.simulator.session import AmiSession

logger = logging.getLogger(__name__)

ActionRecord = dict[str, str | list[str]]

# Asterisk's Originate timeout when the action does not give one (manager.c).
_DEFAULT_ORIGINATE_TIMEOUT_S = 30.0


class SimulatorNotStarted(RuntimeError):
    """An API call that needs the scenario catalog came before ``start()``."""


def _duration(seconds: float) -> str:
    total = max(0, int(seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


class AmiSimulator:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "crm",
        secret: str = "crmsecret",
        flavour: str = "sip",
        speed: float = 1.0,
        recordings_dir: Path | None = None,
        absent_extensions: frozenset[str] = frozenset({"109"}),
        write_chunk_size: int | None = None,
        control_port: int | None = None,
        traces_dir: Path | None = None,
    ) -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {FLAVOURS}, not {flavour!r}")
        if speed < 0:
            raise ValueError("speed must be >= 0 (0 plays without delays)")

        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.flavour = flavour
        self.speed = speed
        self.recordings_dir = (
            Path(recordings_dir) if recordings_dir is not None else None
        )
        self.absent_extensions = frozenset(absent_extensions)
        self.write_chunk_size = write_chunk_size
        self.control_port = control_port
        self.traces_dir = traces_dir or TRACES_DIR

        self.actions_received: list[ActionRecord] = []
        self.registry = ChannelRegistry()
        self.paused = False
        self.started_at = time.time()
        self.processed_calls = 0

        self._allocator = IdAllocator()
        self._catalog: Catalog | None = None
        self._server: asyncio.Server | None = None
        self._control_runner: object | None = None
        self._sessions: set[AmiSession] = set()
        self._session_tasks: set[asyncio.Task[None]] = set()
        self._session_numbers = itertools.count(1)
        self._plays: set[Play] = set()
        self._writes: set[asyncio.Task[None]] = set()
        self._play_numbers = itertools.count(1)
        self._foreign_numbers = itertools.count(1)
        self._idle = asyncio.Event()
        self._idle.set()
        self._logged_in = asyncio.Event()
        self.actions = CallActions(self)

    # -- lifecycle ------------------------------------------------------------------

    @property
    def login_failure_delay(self) -> float:
        """Asterisk's one-second pause before "Authentication failed", at play speed."""
        return 1.0 / self.speed if self.speed > 0 else 0.0

    async def start(self) -> None:
        self._catalog = await asyncio.to_thread(build_catalog, self.traces_dir)
        if self.recordings_dir is not None:
            await asyncio.to_thread(
                self.recordings_dir.mkdir, parents=True, exist_ok=True
            )

        self._server = await asyncio.start_server(self._on_client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.started_at = time.time()
        logger.info(
            "AMI simulator listening host=%s port=%s flavour=%s speed=%s",
            self.host,
            self.port,
            self.flavour,
            self.speed,
        )

        if self.control_port is not None:
            from ami.simulator.control import start_control_api

            self._control_runner, self.control_port = await start_control_api(
                self, self.control_port
            )

    async def stop(self) -> None:
        if self._control_runner is not None:
            from ami.simulator.control import stop_control_api

            await stop_control_api(self._control_runner)
            self._control_runner = None

        if self._server is not None:
            self._server.close()

        for play in list(self._plays):
            play.detach()

        await self.drop_connections()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

        if self._writes:
            await asyncio.wait(self._writes, timeout=5)
        logger.info("AMI simulator stopped port=%s", self.port)

    async def drop_connections(self) -> None:
        """Close every client socket abruptly, as a network failure would."""
        for session in list(self._sessions):
            session.abort()

        if self._session_tasks:
            await asyncio.wait(self._session_tasks, timeout=5)

    async def _on_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        session = AmiSession(self, reader, writer, next(self._session_numbers))
        self._sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._session_tasks.add(task)
        logger.debug(
            "AMI client connected session=%s peer=%s", session.session_id, session.peer
        )
        try:
            await session.run()
        except asyncio.CancelledError:
            # The loop is shutting down with the client still connected. This task is
            # the connection's top-level task and nothing awaits its result; on Python
            # 3.11 asyncio's streams log a cancelled one as an error, so end quietly.
            # TODO(PY312): drop this, 3.12 checks task.cancelled() first.
            logger.debug("AMI session cancelled session=%s", session.session_id)
        finally:
            if task is not None:
                self._session_tasks.discard(task)

    def session_closed(self, session: AmiSession) -> None:
        self._sessions.discard(session)

    def session_logged_in(self, session: AmiSession) -> None:
        self._logged_in.set()

    async def wait_for_login(self) -> None:
        """Wait until some client has logged in (``--replay`` waits for its audience)."""
        await self._logged_in.wait()

    async def wait_idle(self, timeout: float = 30) -> None:
        """Wait until every play has finished and every recording is on disk.

        Raises ``TimeoutError`` when that does not happen within ``timeout`` seconds.
        """
        await asyncio.wait_for(self._idle.wait(), timeout)

    def record_action(self, action: Sequence[tuple[str, str]]) -> None:
        record: ActionRecord = {}
        for key, value in action:
            previous = record.get(key)
            if previous is None:
                record[key] = value
            elif isinstance(previous, list):
                previous.append(value)
            else:
                record[key] = [previous, value]
        self.actions_received.append(record)

    # -- publishing ---------------------------------------------------------------------

    def broadcast(self, headers: Sequence[tuple[str, str]]) -> None:
        """Send one event to every logged-in session that takes its class."""
        if self.paused:
            return

        privilege = get_header(headers, "Privilege")
        data: bytes | None = None
        for session in list(self._sessions):
            if session.wants_event(privilege):
                data = data or encode_message(headers)
                session.send(data)

    def publish(self, headers: Headers, play: Play, capture_t: float) -> None:
        now = asyncio.get_running_loop().time()
        if get_header(headers, "Event") == "Newchannel":
            self.processed_calls += 1

        finished = self.registry.observe(headers, play, capture_t, now)
        if finished is not None:
            self._save_recording(finished)

        self.broadcast(headers)

    def _save_recording(self, finished: FinishedRecording) -> None:
        if self.recordings_dir is None:
            return

        task = asyncio.get_running_loop().create_task(
            self._write_recording(finished, self.recordings_dir)
        )
        self._writes.add(task)
        self._idle.clear()
        task.add_done_callback(self._write_done)

    async def _write_recording(
        self, finished: FinishedRecording, directory: Path
    ) -> None:
        try:
            path = await asyncio.to_thread(
                write_recording,
                directory,
                finished.path,
                finished.seconds,
                SAMPLE_RECORDING,
            )
        except UnsafeRecordingName:
            logger.warning(
                "refusing recording outside the folder path=%r channel=%s",
                finished.path,
                finished.channel,
            )
        except OSError:
            logger.exception(
                "recording write failed path=%s channel=%s",
                finished.path,
                finished.channel,
            )
        else:
            logger.info(
                "recording written path=%s seconds=%.1f channel=%s",
                path,
                finished.seconds,
                finished.channel,
            )

    def _write_done(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        self._update_idle()

    def _update_idle(self) -> None:
        if not self._plays and not self._writes:
            self._idle.set()

    # -- plays --------------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            raise SimulatorNotStarted("call start() first")

        return self._catalog

    def _foreign_action_id(self) -> str:
        return f"sim-foreign-{next(self._foreign_numbers)}"

    def new_play(
        self,
        scenario: Scenario,
        parties: Parties,
        *,
        steps: Sequence[Step] | None = None,
        requester: OriginateRequest | None = None,
        seeds: Seeds | None = None,
        spyee: LiveChannel | None = None,
        speed: float | None = None,
    ) -> Play:
        rewriter = Rewriter(scenario, parties, self._allocator, time.time(), seeds)
        return Play(
            host=self,
            play_id=next(self._play_numbers),
            scenario=scenario,
            rewriter=rewriter,
            speed=self.speed if speed is None else speed,
            foreign_action_id=self._foreign_action_id(),
            steps=steps,
            requester=requester,
            spyee=spyee,
        )

    def start_play(self, play: Play) -> None:
        self._plays.add(play)
        self._idle.clear()
        logger.info(
            "scenario started scenario=%s linkedid=%s play=%s",
            play.label,
            play.linkedid,
            play.play_id,
        )
        play.start()

    def play_finished(self, play: Play) -> None:
        self._plays.discard(play)
        logger.info(
            "scenario finished scenario=%s linkedid=%s play=%s",
            play.label,
            play.linkedid,
            play.play_id,
        )
        self._update_idle()

    def play_outbound(
        self,
        info: OriginateInfo,
        requester: OriginateRequest | None,
        channel_ids: tuple[str, str] = ("", ""),
    ) -> Play:
        """A click-to-call: the manager's phone rings first, then the client is dialled."""
        key = outbound_key(info.channel, info.exten, self.absent_extensions)
        scenario = self.catalog.get(key)
        parties = Parties(
            client_number=info.exten or None,
            client_name=info.caller_name or "",
            managers=(extension_of(info.channel),),
            variables=info.variables,
        )

        steps: tuple[Step, ...] | None = None
        if key == "sip-03" and scenario.timeout_s is not None:
            # The manager never answers: the failure comes when the Originate times out.
            timeout = (
                info.timeout_s
                if info.timeout_s is not None
                else _DEFAULT_ORIGINATE_TIMEOUT_S
            )
            anchor = next(
                step.t
                for step in scenario.steps
                if step.kind is StepKind.OWN_ORIGINATE_RESPONSE
            )
            steps = stretch_after(scenario.steps, anchor, timeout - scenario.timeout_s)

        seeds = Seeds()
        for captured_uid, assigned in zip(
            scenario.uid_roles, channel_ids, strict=False
        ):
            if assigned:
                seeds.uids[captured_uid] = assigned

        play = self.new_play(
            scenario, parties, steps=steps, requester=requester, seeds=seeds
        )
        self.start_play(play)
        return play

    def play_inbound(
        self,
        caller: str,
        caller_name: str | None,
        did: str | None,
        extensions: Sequence[str] | None,
        scenario: str,
    ) -> Play:
        chosen = self.catalog.get(inbound_key(scenario, self.flavour))
        parties = Parties(
            client_number=caller,
            # A trunk without a name shows the number as the name, as in the captures.
            client_name=caller_name or caller,
            managers=tuple(extensions or ()),
            did=did,
        )
        play = self.new_play(chosen, parties)
        self.start_play(play)
        return play

    async def start_inbound(
        self,
        caller: str,
        caller_name: str | None = None,
        did: str | None = None,
        extensions: Sequence[str] | None = None,
        scenario: str = "answered",
    ) -> str:
        """Start an inbound call now; returns its Linkedid while it plays in the background.

        ``scenario`` is one of answered, missed, queue, transfer. ``did`` and
        ``extensions`` default to the captured ones (DIDs 74950000000/...09/...01,
        managers 101, 109, 101+102).
        """
        if not caller:
            raise ValueError("caller is required")

        play = self.play_inbound(caller, caller_name, did, extensions, scenario)
        return play.linkedid

    def replay_file(
        self, path: Path | str, speed: float | None = None
    ) -> "asyncio.Task[None]":
        """Play one timeline file exactly as captured (events after the capture's login)
        to every session; the returned task can be awaited for the end of the replay."""
        return asyncio.get_running_loop().create_task(self._replay(Path(path), speed))

    async def _replay(self, path: Path, speed: float | None) -> None:
        capture = await asyncio.to_thread(load_capture, path)
        steps = [
            Step(entry.t, entry.headers)
            for entry in capture.entries[login_end_index(capture) :]
            if entry.direction == "in"
            and entry.headers
            and entry.headers[0][0].lower() != "response"
        ]
        if not steps:
            logger.warning("nothing to replay path=%s", path)
            return

        scenario = Scenario(
            key=f"replay:{capture.name}",
            capture_name=capture.name,
            steps=tuple(steps),
            origin_t=steps[0].t,
            epoch_at_zero=capture.epoch_at_zero,
            client_number=None,
            client_name=None,
            managers=(),
        )
        rewriter = Rewriter(
            scenario, Parties(), self._allocator, time.time(), verbatim=True
        )
        play = Play(
            host=self,
            play_id=next(self._play_numbers),
            scenario=scenario,
            rewriter=rewriter,
            speed=self.speed if speed is None else speed,
            foreign_action_id=self._foreign_action_id(),
        )
        self.start_play(play)
        if play.task is not None:
            await asyncio.shield(play.task)

    async def run_traffic(
        self,
        managers: int = 10,
        calls_per_minute: float = 30,
        duration: float | None = None,
    ) -> None:
        """A steady random mix of inbound and outbound calls until cancelled or
        ``duration`` seconds have passed."""
        from ami.simulator.traffic import run_traffic

        await run_traffic(
            self,
            managers=managers,
            calls_per_minute=calls_per_minute,
            duration=duration,
        )

    def live_channels(self) -> list[dict[str, str]]:
        now = asyncio.get_running_loop().time()
        channels: list[dict[str, str]] = []
        for channel in self.registry.all():
            entry = dict(channel.snapshot())
            entry.update(
                Application=channel.application,
                ApplicationData=channel.app_data,
                Duration=_duration(now - channel.created),
                BridgeId=channel.bridge_id,
            )
            channels.append(entry)

        return channels

    @property
    def session_count(self) -> int:
        return sum(1 for session in self._sessions if session.logged_in)

    @property
    def play_count(self) -> int:
        return len(self._plays)
