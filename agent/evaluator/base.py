"""The one interface of every evaluator: the observer transcript in, alliance events out.

The conversation depends on this, never on a concrete evaluator; an evaluator never sees the
patient's hidden state nor the persona (the import contracts in pyproject.toml enforce it).
"""

from __future__ import annotations

from agent.domain.events import AllianceEvent
from agent.domain.session import PublicTurn


class Evaluator:
    """What the conversation needs from an evaluator: the observer transcript in, events out."""

    async def evaluate(self, transcript: list[PublicTurn], lang: str) -> list[AllianceEvent]:
        raise NotImplementedError
