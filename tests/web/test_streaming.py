"""The reply's tokens in batches: the first at once, then one send per interval, nothing held back at the end."""

from __future__ import annotations

import asyncio

from agent.web.streaming import TokenBatcher


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_first_token_goes_at_once_then_tokens_are_batched_and_the_rest_sent_at_the_end() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    clock = Clock()
    batcher = TokenBatcher(send, interval_s=0.05, clock=clock)
    await batcher.add("")  # nothing to show: not the first word
    assert sent == [] and not batcher.first_word.is_set()
    await batcher.add("Bon")
    assert batcher.first_word.is_set()
    assert sent == ["Bon"]
    for token in ("jour", ",", " doc"):  # within the interval: held
        clock.now += 0.01
        await batcher.add(token)
    assert sent == ["Bon"]
    clock.now += 0.05
    await batcher.add("teur")  # the interval has passed: everything held goes, in order
    assert sent == ["Bon", "jour, docteur"]
    clock.now += 0.001
    await batcher.add(".")
    await batcher.close()
    assert sent == ["Bon", "jour, docteur", "."] and "".join(sent) == "Bonjour, docteur."
    assert batcher.sends == 3


async def test_a_token_followed_by_silence_is_sent_once_the_interval_has_passed() -> None:
    sent: list[str] = []
    arrived = asyncio.Event()

    async def send(text: str) -> None:
        sent.append(text)
        if len(sent) == 2:
            arrived.set()

    batcher = TokenBatcher(send, interval_s=0.02)
    await batcher.add("Je")
    await batcher.add(" sais")  # held; no further token comes
    await asyncio.wait_for(arrived.wait(), timeout=10)  # the timer sent it, with no close() needed
    assert sent == ["Je", " sais"]
    await batcher.close()
    assert sent == ["Je", " sais"]
