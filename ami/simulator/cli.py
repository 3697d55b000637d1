"""Command line for the AMI simulator (wired to ``callcenter ami-sim``).

Runs the simulator until interrupted (Ctrl-C or SIGTERM), optionally replaying one
capture to the first client that logs in, generating random traffic, or stopping after
``--duration`` seconds.
"""

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from ami.simulator.server import AmiSimulator

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ami-sim",
        description="Asterisk Manager Interface simulator playing captured Asterisk 22 calls.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="AMI bind address (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=5038, help="AMI port (default 5038, 0 = any)"
    )
    parser.add_argument("--username", default="crm", help="AMI user (default crm)")
    parser.add_argument(
        "--secret", default="crmsecret", help="AMI secret (default crmsecret)"
    )
    parser.add_argument(
        "--flavour",
        choices=("sip", "local"),
        default="sip",
        help="channel flavour of inbound calls",
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="time scale; 0 plays without delays"
    )
    parser.add_argument(
        "--recordings-dir", type=Path, help="folder for MixMonitor recordings"
    )
    parser.add_argument(
        "--control-port", type=int, help="HTTP control API port on 127.0.0.1"
    )
    parser.add_argument(
        "--replay",
        type=Path,
        metavar="FILE",
        help="replay one timeline file to the first client",
    )
    parser.add_argument(
        "--traffic", action="store_true", help="generate a random mix of calls"
    )
    parser.add_argument(
        "--managers", type=int, default=10, help="managers 101..100+N for --traffic"
    )
    parser.add_argument(
        "--calls-per-minute", type=float, default=30, help="call rate for --traffic"
    )
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument(
        "--log-level", default="INFO", help="logging level (default INFO)"
    )
    return parser


async def _serve(args: argparse.Namespace) -> int:
    simulator = AmiSimulator(
        host=args.host,
        port=args.port,
        username=args.username,
        secret=args.secret,
        flavour=args.flavour,
        speed=args.speed,
        recordings_dir=args.recordings_dir,
        control_port=args.control_port,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)

    await simulator.start()
    try:
        await _work(simulator, args, stop)
    finally:
        await simulator.stop()

    return 0


async def _work(
    simulator: AmiSimulator, args: argparse.Namespace, stop: asyncio.Event
) -> None:
    jobs: list[asyncio.Task[object]] = [asyncio.create_task(stop.wait())]
    if args.duration is not None:
        jobs.append(asyncio.create_task(asyncio.sleep(args.duration)))

    if args.replay is not None:
        logger.info(
            "waiting for a client to log in before replaying path=%s", args.replay
        )
        waiter = asyncio.create_task(simulator.wait_for_login())
        done, _ = await asyncio.wait(
            [waiter, *jobs], return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            waiter.cancel()
            await _cancel(jobs)
            return

        await simulator.replay_file(args.replay)
        logger.info("replay finished path=%s", args.replay)

    if args.traffic:
        jobs.append(
            asyncio.create_task(
                simulator.run_traffic(
                    managers=args.managers,
                    calls_per_minute=args.calls_per_minute,
                    duration=args.duration,
                )
            )
        )

    await asyncio.wait(jobs, return_when=asyncio.FIRST_COMPLETED)
    await _cancel(jobs)


async def _cancel(tasks: list[asyncio.Task[object]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.speed < 0:
        parser.error("--speed must be >= 0")
    if args.replay is not None and not args.replay.is_file():
        parser.error(f"--replay: no such file {args.replay}")

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=args.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )

    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0
