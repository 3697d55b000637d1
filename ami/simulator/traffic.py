"""A steady random mix of calls for demos and load tests.

Clients are random Russian mobiles (``79xxxxxxxxx``); managers are extensions 101 to
100+N. A manager already in a simulated call is not picked again until that call ends,
so the demo never shows one person in two conversations. Outbound calls here are
click-to-calls "from another AMI client": their OriginateResponse carries a foreign
ActionID, as any other client's would on a shared PBX.
"""

import asyncio
import logging
import random
from typing import TYPE_CHECKING

from ami.simulator.scenarios import OriginateInfo

if TYPE_CHECKING:
    from ami.simulator.player import Play
    from ami.simulator.server import AmiSimulator

logger = logging.getLogger(__name__)

# Invented caller names, Cyrillic on purpose: the CRM must carry them intact.
CALLER_NAMES = (
    "Иван Петров",
    "Анна Смирнова",
    "Сергей Кузнецов",
    "Ольга Иванова",
    "Дмитрий Соколов",
    "Елена Попова",
)
MIX = (
    ("outbound", 40),
    ("answered", 25),
    ("queue", 15),
    ("missed", 10),
    ("transfer", 10),
)


def random_mobile(rng: random.Random) -> str:
    return "79" + "".join(str(rng.randrange(10)) for _ in range(9))


def _start_call(
    simulator: "AmiSimulator", kind: str, extensions: list[str], rng: random.Random
) -> "Play":
    number = random_mobile(rng)
    if kind == "outbound":
        extension = extensions[0]
        local = simulator.flavour == "local"
        info = OriginateInfo(
            action_id="",
            channel=f"Local/{extension}@phones" if local else f"PJSIP/{extension}",
            exten=number,
            context="from-internal",
            caller_name=f"Client {number}",
            caller_number=number,
            timeout_s=30.0,
            # No CRM variables: this call was not started by the CRM under test.
            variables=(),
            application="",
            data="",
        )
        return simulator.play_outbound(info, requester=None)

    caller_name = rng.choice(CALLER_NAMES) if rng.random() < 0.7 else None
    return simulator.play_inbound(number, caller_name, None, extensions, kind)


async def run_traffic(
    simulator: "AmiSimulator",
    managers: int = 10,
    calls_per_minute: float = 30,
    duration: float | None = None,
    rng: random.Random | None = None,
) -> None:
    if managers < 1 or calls_per_minute <= 0:
        raise ValueError("managers must be >= 1 and calls_per_minute > 0")

    rng = rng or random.Random()
    extensions = [str(101 + index) for index in range(managers)]
    busy: set[str] = set()
    kinds = [kind for kind, _ in MIX]
    weights = [weight for _, weight in MIX]
    interval = 60.0 / calls_per_minute
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    logger.info(
        "traffic started managers=%s calls_per_minute=%s duration=%s",
        managers,
        calls_per_minute,
        duration,
    )

    while deadline is None or loop.time() < deadline:
        kind = rng.choices(kinds, weights)[0]
        needed = 2 if kind in ("queue", "transfer") else 1
        free = [extension for extension in extensions if extension not in busy]
        if len(free) >= needed:
            chosen = rng.sample(free, needed)
            play = _start_call(simulator, kind, chosen, rng)
            busy.update(chosen)
            if play.task is not None:
                play.task.add_done_callback(
                    lambda _, taken=tuple(chosen): busy.difference_update(taken)
                )
        else:
            logger.debug("traffic skipped a call, all managers busy kind=%s", kind)

        # Jitter keeps calls from arriving in lockstep while holding the average rate.
        pause = interval * rng.uniform(0.5, 1.5)
        if deadline is not None:
            pause = min(pause, max(0.0, deadline - loop.time()))
        await asyncio.sleep(pause)

    logger.info("traffic finished managers=%s", managers)
