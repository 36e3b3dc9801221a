"""One patient reply at a time for a visit, across processes: the claim (`agent.storage.claims`) taken around a
learner turn, under the visit's own turn lock.

A tab whose visit another process is answering says so once, then waits for that claim to end (its reply kept,
or its process gone and its lease run out) before its own turn goes on: the turn then starts from what the other
process kept (`keeping.sync`), so the patient neither answers one turn twice nor answers out of order. A
database that does not answer does not stop the visit: the turn goes on as it would in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator

from agent.storage.claims import LEASE, AnswerClaims
from agent.web import keeping, tab
from agent.web.live import LiveVisit

log = logging.getLogger(__name__)

HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this process
POLL_S = 0.5  # how often a waiting tab looks again (a read of one row)
WAIT_AT_MOST_S = 600.0  # a claim renewed longer than this is a fault elsewhere: the turn goes on regardless
RENEW_S = LEASE.total_seconds() / 3


async def _try(claims: AnswerClaims, thread_id: str) -> bool | None:
    """True: ours; False: another process's; None: the database did not answer."""
    try:
        return await claims.claim(thread_id, HOLDER)
    except Exception:
        log.exception("thread %s: could not claim the visit before the turn", thread_id)
        return None


async def _wait(claims: AnswerClaims, thread_id: str) -> bool:
    """Wait for the other process's claim to end; True once ours, False if given up (see WAIT_AT_MOST_S)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_AT_MOST_S
    while loop.time() < deadline:
        await asyncio.sleep(POLL_S)
        won = await _try(claims, thread_id)
        if won is None:
            return False
        if won:
            return True
    log.warning("thread %s: another process held the visit for %.0f s; the turn goes on", thread_id, WAIT_AT_MOST_S)
    return False


async def _keep_renewing(claims: AnswerClaims, thread_id: str) -> None:
    while True:
        await asyncio.sleep(RENEW_S)
        try:
            if not await claims.renew(thread_id, HOLDER):
                log.warning("thread %s: the claim ran out and another process took it", thread_id)
        except Exception:
            log.exception("thread %s: could not renew the claim", thread_id)


@contextlib.asynccontextmanager
async def answering(live: LiveVisit) -> AsyncIterator[None]:
    """Hold the visit's claim for the body (a learner turn), renewed while it runs and let go after."""
    claims = keeping.claims()
    won = await _try(claims, live.thread_id) if claims is not None else None
    if claims is not None and won is False:
        await tab.say("ui.answering_elsewhere")
        won = await _wait(claims, live.thread_id)
    if claims is None or not won:
        yield
        return
    renewing = asyncio.create_task(_keep_renewing(claims, live.thread_id))
    try:
        yield
    finally:
        renewing.cancel()
        try:
            await claims.release(live.thread_id, HOLDER)
        except Exception:  # its lease runs out on its own
            log.exception("thread %s: could not let go of the claim", live.thread_id)
