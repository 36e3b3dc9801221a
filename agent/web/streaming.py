"""A reply's tokens reach the browser in small batches: the first at once (the first word is what the learner
waits for), then at most one socket message every `interval_s` (50 ms: faster than reading, and far fewer
messages than tokens when the model or the server is fast). Whatever is held is sent at the end, or when the
interval has passed with no new token (a slow model never leaves words waiting)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

STREAM_INTERVAL_S = 0.05


class TokenBatcher:
    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        interval_s: float = STREAM_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send, self._interval, self._clock = send, interval_s, clock
        self._held: list[str] = []
        self._last: float | None = None
        self._timer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # sends keep the tokens' order
        self.sends = 0
        self.first_word = asyncio.Event()  # set when the first words are on their way

    async def add(self, token: str) -> None:
        if not token:  # nothing to show: it must not take the first word's place
            return
        self.first_word.set()
        self._held.append(token)
        if self._last is None or self._clock() - self._last >= self._interval:
            self._stop_timer()
            await self._flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later(self._interval - (self._clock() - self._last)))

    async def close(self) -> None:
        """Send what is held; call once the reply has ended."""
        self._stop_timer()
        await self._flush()

    def _stop_timer(self) -> None:
        # `_timer` is set only while the task sleeps (it clears it before sending): cancelling never cuts a send.
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _flush_later(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))
        self._timer = None
        await self._flush()

    async def _flush(self) -> None:
        async with self._lock:
            if not self._held:
                return
            text, self._held = "".join(self._held), []
            self._last = self._clock()
            self.sends += 1
            await self._send(text)
