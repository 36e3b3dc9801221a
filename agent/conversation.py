"""One learner message in, one patient turn out: the loop shared by the app and the CLI.

The learner's words are stored before anything can fail, so no turn is ever lost. The
patient and the evaluator start together; the evaluator's result never delays the reply,
and its failure is reported as "unavailable for this turn", never raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agent.config import Settings
from agent.domain.events import AllianceEvent
from agent.domain.session import PublicTurn, Session, Turn
from agent.domain.taxonomy import Speaker
from agent.evaluator.base import Evaluator
from agent.llm.backends import ChatBackend, describe_failure
from agent.patient.engine import PatientEngine, TokenSink
from agent.persona.model import Persona

log = logging.getLogger(__name__)

EventsSink = Callable[[int, list[AllianceEvent] | None], Awaitable[None]]
# A learner who types before the chat start's prefill has finished waits for it (at most this long): the
# prefill is the first part of the same work, and a second request beside it would process the whole prompt
# again on the other slot, both sharing the cores (252 s for a first reply on a busy machine, issue 14).
PREFILL_WAIT_S = 120.0


@dataclass
class TurnOutcome:
    learner_turn: Turn
    patient_turn: Turn | None = None
    error: str | None = None  # a short message for the learner when the patient failed
    streamed: str = ""
    events: list[AllianceEvent] = field(default_factory=list)


class Conversation:
    def __init__(
        self,
        persona_id: str,
        persona: Persona,
        backend: ChatBackend,
        settings: Settings,
        evaluator: Evaluator | None = None,
        session: Session | None = None,
    ):
        self.persona = persona
        self.patient = PatientEngine(persona, backend, settings)
        self.evaluator = evaluator
        self.settings = settings
        self.session = session or Session(persona_id=persona_id, language=persona.language, llm=backend.label)
        self._tasks: set[asyncio.Task[None]] = set()
        self._prefill: asyncio.Task[None] | None = None

    @property
    def lang(self) -> str:
        return self.persona.language

    async def _evaluate(self, transcript: list[PublicTurn], turn_id: int, on_events: EventsSink | None) -> None:
        assert self.evaluator is not None
        events: list[AllianceEvent] | None
        try:
            events = await self.evaluator.evaluate(transcript, self.lang)
        except Exception:  # the monitor degrades; the chat goes on
            log.exception("evaluator failed on turn %s", turn_id)
            events = None
        if events:
            self.session.events.extend(events)
        if on_events is not None:
            await on_events(turn_id, events)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start_prefill(self) -> None:
        """Warm the model's prompt cache in the background while the learner reads the brief."""

        async def run() -> None:
            try:
                await self.patient.prefill(self.session)
            except Exception as exc:  # only an optimisation: never surfaces
                log.info("prefill skipped: %s", type(exc).__name__)

        self._prefill = asyncio.create_task(run())
        self._track(self._prefill)

    async def _prefilled(self) -> None:
        """Wait for a prefill still running (bounded: past PREFILL_WAIT_S the turn goes on without it)."""
        if self._prefill is not None and not self._prefill.done():
            await asyncio.wait({self._prefill}, timeout=PREFILL_WAIT_S)

    def start_evaluation(self, on_events: EventsSink | None) -> asyncio.Task[None] | None:
        """Evaluate the transcript as it stands now, in the background."""
        if self.evaluator is None or not self.session.turns:
            return None
        transcript = self.session.observer_transcript()
        task = asyncio.create_task(self._evaluate(transcript, transcript[-1].id, on_events))
        self._track(task)
        return task

    async def learner_says(
        self,
        text: str,
        on_token: TokenSink | None = None,
        on_events: EventsSink | None = None,
    ) -> TurnOutcome:
        learner_turn = self.session.add_learner_turn(text)
        self.start_evaluation(on_events)  # concurrent with the patient, never awaited here
        return await self._answer(learner_turn, on_token, on_events)

    def unanswered(self) -> Turn | None:
        """The learner's last turn, if the patient has not answered it (its process was lost mid-turn, or the
        patient failed)."""
        turns = self.session.turns
        return turns[-1] if turns and turns[-1].speaker is Speaker.clinician else None

    async def answer_unanswered(
        self, on_token: TokenSink | None = None, on_events: EventsSink | None = None
    ) -> TurnOutcome | None:
        """The patient answers the learner's last turn, kept but never answered; None if there is none. The monitor
        reads that turn too, unless its flags were kept already."""
        learner_turn = self.unanswered()
        if learner_turn is None:
            return None
        if not any(event.turn == learner_turn.id for event in self.session.events):
            self.start_evaluation(on_events)
        return await self._answer(learner_turn, on_token, on_events)

    async def _answer(
        self, learner_turn: Turn, on_token: TokenSink | None, on_events: EventsSink | None
    ) -> TurnOutcome:
        outcome = TurnOutcome(learner_turn)
        try:
            await self._prefilled()
            result = await self.patient.respond(self.session, on_token)
        except Exception as exc:
            log.warning("patient failed on turn %s: %s", learner_turn.id, type(exc).__name__)
            outcome.error = describe_failure(exc, self.lang)
            self.session.failures.append(f"turn {learner_turn.id}: {type(exc).__name__}")
            return outcome
        outcome.streamed = result.streamed
        outcome.patient_turn = self.session.add_patient_turn(result.output.reply, result.output.hidden, result.guard)
        self.start_evaluation(on_events)
        return outcome

    def branch_at(self, turn_id: int) -> Conversation:
        """The same patient, backend and evaluator on a new session rewound to before learner turn `turn_id`.

        Raises ValueError for a turn that is not a learner turn. Evaluations still running
        write to this conversation's session, never to the branch.
        """
        return self.on_session(self.session.branch_at(turn_id))

    def on_session(self, session: Session) -> Conversation:
        """The same patient, backend and evaluator on another session (a branch of this visit)."""
        return Conversation(
            session.persona_id, self.persona, self.patient.backend, self.settings, self.evaluator, session=session
        )

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for pending evaluations (CLI end of input, tests)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    def pending_evaluations(self) -> int:
        """Evaluations still running (after a bounded `drain`, 0 unless the monitor is stuck)."""
        return sum(not task.done() for task in self._tasks)
