"""Coalesced work: many requests, few runs, the latest state always shown.

The monitor is redrawn after each evaluation, each settings change, each retry; two evaluations of one turn
often finish together. Every request returns once a run that *started after it* has finished, so what that run
read is at least as new as the state the request saw: no request is dropped, and the last one is always served.
Requests that arrive while a run is in flight share the one next run: a burst costs at most two runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Coalescer:
    def __init__(self, work: Callable[[], Awaitable[None]]):
        self._work = work
        self._lock = asyncio.Lock()  # one run at a time
        self._asked = 0  # requests so far
        self._served = 0  # every request up to this one is covered by a finished run
        self.runs = 0

    async def request(self) -> None:
        self._asked += 1
        ticket = self._asked
        async with self._lock:
            if self._served >= ticket:  # a run that began after this request has ended meanwhile
                return
            covers = self._asked  # the run reads the state now: it serves every request made until now
            self.runs += 1
            await self._work()  # raising (or cancelled) covers nothing: the next waiter runs again
            self._served = max(self._served, covers)
