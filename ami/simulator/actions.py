"""The AMI actions that act on calls: Originate, Hangup, Redirect, BlindTransfer,
CoreShowChannels and CoreStatus.

Validation and reply texts follow Asterisk 22's ``main/manager.c`` (``Channel not
specified``, ``No such channel``, ``Transfer invalid``...). Each handler answers the
requesting session first and then changes the calls, as Asterisk acknowledges an
action before the resulting events reach the clients.
"""

import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ami.simulator.channels import LiveChannel
from ami.simulator.player import OriginateRequest, Play
from ami.simulator.protocol import Headers, get_header, is_true
from ami.simulator.rewrite import Parties, seeds_for_continuation
from ami.simulator.scenarios import OriginateInfo, extension_of, parse_originate

if TYPE_CHECKING:
    from ami.simulator.server import AmiSimulator
    from ami.simulator.session import AmiSession

logger = logging.getLogger(__name__)


class CallActions:
    def __init__(self, simulator: "AmiSimulator") -> None:
        self._simulator = simulator

    def originate(self, session: "AmiSession", action: Headers) -> None:
        channel = get_header(action, "Channel")
        priority = get_header(action, "Priority").strip()
        timeout = get_header(action, "Timeout").strip()
        if not channel:
            session.error(action, "Channel not specified")
            return
        if priority and not priority.isdigit():
            session.error(action, "Invalid priority")
            return
        if timeout and not timeout.lstrip("-").isdigit():
            session.error(action, "Invalid timeout")
            return
        if "/" not in channel:
            session.error(action, "Invalid channel")
            return

        info = parse_originate(action)
        asynchronous = is_true(get_header(action, "Async"))
        if (
            not asynchronous
            and not info.application
            and not (info.exten and info.context and priority and int(priority) > 0)
        ):
            session.error(
                action, "Originate with 'Exten' requires 'Context' and 'Priority'"
            )
            return

        request = OriginateRequest(
            session=session,
            action_id=info.action_id,
            channel=channel,
            context=info.context,
            exten=info.exten,
            caller_number=info.caller_number or "",
            caller_name=info.caller_name or "",
            asynchronous=asynchronous,
        )
        if asynchronous:
            session.respond(action, "Success", "Originate successfully queued")

        if info.application:
            self._play_application(info, request)
        else:
            channel_ids = (
                get_header(action, "ChannelId"),
                get_header(action, "OtherChannelId"),
            )
            self._simulator.play_outbound(info, request, channel_ids)

    def _play_application(self, info: OriginateInfo, request: OriginateRequest) -> None:
        """Originate to an application: the ChanSpy part of sip-08 (a supervisor listens)."""
        scenario = self._simulator.catalog.get("sip-08-spy")
        spyee = None
        if info.application.lower() == "chanspy":
            target = info.data.split(",", 1)[0].strip()
            spyee = self._simulator.registry.find(target) if target else None

        parties = Parties(
            client_name=info.caller_name or "",
            managers=(extension_of(info.channel),),
            application=info.application,
            app_data=info.data,
        )
        play = self._simulator.new_play(
            scenario, parties, requester=request, spyee=spyee
        )
        self._simulator.start_play(play)

    def hangup(self, session: "AmiSession", action: Headers) -> None:
        name = get_header(action, "Channel")
        if not name:
            session.error(action, "No channel specified")
            return

        cause_text = get_header(action, "Cause").strip()
        cause = (
            int(cause_text)
            if cause_text.isdigit() and 0 < int(cause_text) <= 127
            else 16
        )

        if len(name) > 1 and name.startswith("/") and name.endswith("/"):
            self._hangup_matching(session, action, name[1:-1], cause)
            return

        channel = self._simulator.registry.get(name)
        if channel is None:
            session.error(action, "No such channel")
            return

        session.respond(action, "Success", "Channel Hungup")
        self._cut(channel, cause)

    def _hangup_matching(
        self, session: "AmiSession", action: Headers, pattern: str, cause: int
    ) -> None:
        try:
            regex = re.compile(pattern)
        except re.error:
            session.error(action, f"Regex compile failed on: /{pattern}/")
            return

        action_id = get_header(action, "ActionID")
        id_header = [("ActionID", action_id)] if action_id else []
        session.respond(
            action,
            "Success",
            "Channels hung up will follow",
            extra=[("EventList", "start")],
        )
        matched = [
            channel
            for channel in self._simulator.registry.all()
            if regex.search(channel.name)
        ]
        for channel in matched:
            session.send_message(
                [("Event", "ChannelHungup"), ("Channel", channel.name), *id_header]
            )
        session.send_message(
            [
                ("Event", "ChannelsHungupListComplete"),
                *id_header,
                ("EventList", "Complete"),
                ("ListItems", str(len(matched))),
            ]
        )
        for channel in matched:
            if self._simulator.registry.get(channel.name) is not None:
                self._cut(channel, cause)

    def _cut(self, channel: LiveChannel, cause: int) -> None:
        owner = channel.owner
        if isinstance(owner, Play):
            logger.info(
                "hanging up channel=%s linkedid=%s cause=%s",
                channel.name,
                owner.linkedid,
                cause,
            )
            owner.cut(channel.name, cause)

    def redirect(self, session: "AmiSession", action: Headers) -> None:
        for header, message in (
            ("Channel", "Channel not specified"),
            ("Context", "Context not specified"),
            ("Exten", "Exten not specified"),
            ("Priority", "Priority not specified"),
        ):
            if not get_header(action, header):
                session.error(action, message)
                return

        priority = get_header(action, "Priority").strip()
        if not priority.isdigit() or int(priority) < 1:
            session.error(action, "Priority is invalid")
            return

        name = get_header(action, "Channel")
        if self._simulator.registry.get(name) is None:
            session.error(action, f"Channel does not exist: {name}")
            return

        session.respond(action, "Success", "Redirect successful")
        # TODO(a Redirect capture exists): play BridgeLeave, the old manager's Hangup and
        # the new Dial as Asterisk does; for now the call goes on as captured.
        logger.warning("Redirect acknowledged but not simulated channel=%s", name)

    def blind_transfer(self, session: "AmiSession", action: Headers) -> None:
        name = get_header(action, "Channel")
        exten = get_header(action, "Exten")
        if not name:
            session.error(action, "No channel specified")
            return
        if not exten:
            session.error(action, "No extension specified")
            return

        channel = self._simulator.registry.get(name)
        if channel is None:
            session.error(action, "Channel specified does not exist")
            return
        if not channel.bridge_id:
            # Asterisk finds no bridge to transfer out of.
            session.error(action, "Transfer invalid")
            return

        session.respond(action, "Success", "Transfer succeeded")
        owner = channel.owner
        if isinstance(owner, Play) and self._is_transferable(owner, channel):
            self._continue_with_transfer(owner, exten)
        else:
            logger.warning(
                "BlindTransfer acknowledged but not simulated channel=%s", name
            )

    def _is_transferable(self, play: Play, channel: LiveChannel) -> bool:
        # sip-07b continues exactly the call sip-04 plays, once its manager's channel
        # (the second channel of the call) is transferred.
        scenario = play.scenario
        if scenario.key != "sip-04" or len(scenario.channel_roles) < 2:
            return False

        return channel.name == play.rewriter.new_channel_name(scenario.channel_roles[1])

    def _continue_with_transfer(self, play: Play, exten: str) -> None:
        target = self._simulator.catalog.get("sip-07b-continue")
        capture_t = play.detach()
        seeds = seeds_for_continuation(play.rewriter, play.scenario, target, count=2)
        previous = play.rewriter.parties
        manager = (
            previous.managers[0] if previous.managers else play.scenario.managers[0]
        )
        parties = Parties(
            client_number=previous.client_number,
            client_name=previous.client_name,
            managers=(manager, exten),
            did=previous.did,
        )
        continuation = self._simulator.new_play(
            target, parties, seeds=seeds, speed=play.speed
        )
        self._simulator.registry.hand_over(play, continuation, capture_t)
        logger.info("blind transfer linkedid=%s to=%s", play.linkedid, exten)
        self._simulator.start_play(continuation)

    def core_show_channels(self, session: "AmiSession", action: Headers) -> None:
        action_id = get_header(action, "ActionID")
        id_header = [("ActionID", action_id)] if action_id else []
        session.respond(
            action, "Success", "Channels will follow", extra=[("EventList", "start")]
        )

        channels = self._simulator.live_channels()
        for entry in channels:
            session.send_message(
                [("Event", "CoreShowChannel"), *id_header, *entry.items()]
            )

        session.send_message(
            [
                ("Event", "CoreShowChannelsComplete"),
                *id_header,
                ("EventList", "Complete"),
                ("ListItems", str(len(channels))),
            ]
        )

    def core_status(self, session: "AmiSession", action: Headers) -> None:
        started = datetime.fromtimestamp(self._simulator.started_at, UTC)
        calls = {
            channel.fields.get("Linkedid", "")
            for channel in self._simulator.registry.all()
        }
        session.respond(
            action,
            extra=[
                ("CoreStartupDate", f"{started:%Y-%m-%d}"),
                ("CoreStartupTime", f"{started:%H:%M:%S}"),
                ("CoreReloadDate", f"{started:%Y-%m-%d}"),
                ("CoreReloadTime", f"{started:%H:%M:%S}"),
                ("CoreCurrentCalls", str(len(calls))),
                ("CoreProcessedCalls", str(self._simulator.processed_calls)),
            ],
        )
