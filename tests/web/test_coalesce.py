"""Monitor refreshes coalesced: a burst gives at most two drawings, the last state is always drawn, none is lost."""

from __future__ import annotations

import asyncio

import pytest

from agent.web.coalesce import Coalescer


class Panel:
    """A drawing that reads the state when it starts and can be held mid-run (an emit waiting on the socket)."""

    def __init__(self) -> None:
        self.state = 0
        self.drawn: list[int] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    async def draw(self) -> None:
        seen = self.state
        self.started.set()
        await self.release.wait()
        self.drawn.append(seen)


async def test_a_burst_during_a_drawing_gives_one_more_drawing_with_the_last_state() -> None:
    panel = Panel()
    panel.release.clear()
    coalescer = Coalescer(panel.draw)
    first = asyncio.create_task(coalescer.request())
    await panel.started.wait()  # the first drawing has read state 0 and is held
    burst = []
    for state in range(1, 11):
        panel.state = state
        burst.append(asyncio.create_task(coalescer.request()))
    panel.release.set()
    await asyncio.gather(first, *burst)
    assert panel.drawn == [0, 10]
    assert coalescer.runs == 2


async def test_requests_made_together_give_at_most_two_drawings_of_the_last_state() -> None:
    panel = Panel()
    panel.release.clear()
    coalescer = Coalescer(panel.draw)
    panel.state = 7
    together = asyncio.gather(*(coalescer.request() for _ in range(5)))
    await panel.started.wait()
    panel.release.set()
    await together
    assert len(panel.drawn) <= 2 and panel.drawn[-1] == 7


async def test_a_request_after_a_drawing_is_never_dropped() -> None:
    panel = Panel()
    coalescer = Coalescer(panel.draw)
    for state in (1, 2, 3):
        panel.state = state
        await coalescer.request()
    assert panel.drawn == [1, 2, 3]


async def test_a_failed_drawing_serves_nobody_the_next_waiter_draws_again() -> None:
    panel = Panel()
    panel.release.clear()
    failures = [RuntimeError("socket closed")]

    async def draw() -> None:
        await panel.draw()
        if failures:
            raise failures.pop()

    coalescer = Coalescer(draw)
    first = asyncio.create_task(coalescer.request())
    await panel.started.wait()
    panel.state = 1
    second = asyncio.create_task(coalescer.request())
    panel.release.set()
    with pytest.raises(RuntimeError):
        await first
    await second
    assert panel.drawn == [0, 1]


async def test_a_cancelled_drawing_leaves_the_waiters_served_by_the_next() -> None:
    panel = Panel()
    panel.release.clear()
    coalescer = Coalescer(panel.draw)
    first = asyncio.create_task(coalescer.request())
    await panel.started.wait()
    panel.state = 5
    second = asyncio.create_task(coalescer.request())
    first.cancel()
    panel.started.clear()
    await panel.started.wait()  # the waiter's own drawing has begun, with the state of now
    panel.release.set()
    await second
    assert panel.drawn == [5]
