"""A router contender in a process of its own: prints ``elected`` and ``deposed`` lines as they
happen, and contends until it is killed.

    python -m tests.routing_leader.contender DATABASE_URL
"""

from __future__ import annotations

import asyncio
import logging
import sys

from hub.routing.leader import Leadership

RETRY_SECONDS = 0.2


async def say(line: str) -> None:
    print(line, flush=True)


async def contend(database_url: str) -> None:
    leadership = Leadership(database_url, retry_seconds=RETRY_SECONDS)
    await leadership.start(lambda: say("elected"), lambda: say("deposed"))
    await say("contending")
    await asyncio.Event().wait()


if __name__ == "__main__":
    # The election's own log lines end up in the test's failure message.
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="log %(levelname)s %(message)s")
    asyncio.run(contend(sys.argv[1]))
