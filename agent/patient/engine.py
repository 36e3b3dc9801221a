"""The simulated patient: persona + hidden state + history -> the next turn.

Each turn is one structured generation, hidden state first, then the reply. The reply is
streamed as the JSON grows (`FieldWatcher`), through the leak guard (`StreamGuard`), so the
learner sees the words as they come and never a word of the hidden state. History is a
window: the last `history_turns` turns verbatim; older turns drop out, and the patient's
latest hidden state (alliance and emotions) carries the continuity instead.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.utils.json import parse_partial_json

from agent.config import Settings
from agent.domain.session import GuardReport, HiddenState, PatientLine, PatientTurnOutput, Session
from agent.domain.taxonomy import EMOTIONS, MOVES, Move, Speaker
from agent.llm.backends import ChatBackend, retrying
from agent.llm.prompts import render, template_text
from agent.llm.structured import FieldWatcher, StructuredOutputError, parse_output, stream_json
from agent.patient.appraisal import Appraisal, Appraiser, standing
from agent.patient.guard import LeakGuard, StreamGuard, fallback_reply
from agent.patient.voice import strip_problems, voice_problems
from agent.persona.model import Persona

TokenSink = Callable[[str], Awaitable[None]]
SHORT_MAX_TOKENS = 320
MAX_ATTEMPTS = 3  # one generation plus two regenerations (malformed output or a leak)


class StreamInterrupted(Exception):
    """The connection failed after part of the reply was shown: not retried automatically."""


@dataclass
class PatientTurnResult:
    output: PatientTurnOutput  # reply already checked (and repaired if needed) by the guard
    streamed: str  # what the learner saw while it streamed
    guard: GuardReport
    attempts: int


class PatientEngine:
    def __init__(self, persona: Persona, backend: ChatBackend, settings: Settings):
        self.persona = persona
        self.backend = backend
        self.settings = settings
        self.lang = persona.language
        self.template = f"patient.{self.lang}.md"
        self.appraiser = Appraiser(persona)
        # A small model with reaction rules writes only the reply, then the thought behind it (`PatientLine`): the
        # rules settle the rest of the hidden state before it speaks, and the reply starts at the first tokens.
        self.short = backend.compact_prompt and bool(persona.reactions)
        self.output_model: type[PatientTurnOutput | PatientLine] = PatientLine if self.short else PatientTurnOutput
        # A reply of a few sentences and a one-sentence thought: a small model that rambles is cut sooner.
        self.max_tokens = min(SHORT_MAX_TOKENS, settings.max_reply_tokens) if self.short else settings.max_reply_tokens

    def state_note(self, session: Session, react: Appraisal | None = None) -> str:
        """Where the patient stands now: her last alliance and emotions, how much history was left out, and
        what the learner's last turn does to her when it set off one of the persona's reaction rules."""
        omitted = max(0, len(session.turns) - self.settings.history_turns)
        return render(
            f"patient_state.{self.lang}.md",
            p=self.persona,
            last=session.last_hidden(),
            omitted=omitted,
            react=react,
            short=self.short,
        )

    @property
    def state_last(self) -> bool:
        """The embedded model gets the state after the history, in a system message of its own: the persona and
        the turns so far then stay in llama.cpp's prompt cache from turn to turn (the state changes every turn,
        and everything after a change is processed again). Endpoints keep it in the system prompt: some chat
        templates refuse a system message after the first."""
        return bool(self.backend.prefill)

    def system_prompt(self, session: Session, react: Appraisal | None = None) -> str:
        return render(
            self.template,
            p=self.persona,
            state="" if self.state_last else self.state_note(session, react),
            full=not self.backend.compact_prompt,
            short=self.short,
            limit=3 if self.backend.compact_prompt else 100,
            emotions=", ".join(e.value for e in EMOTIONS),
            moves=", ".join(f"`{m.value}` ({lab.name(self.lang)})" for m, lab in MOVES.items()),
        )

    def build_messages(self, session: Session, react: Appraisal | None = None) -> list[BaseMessage]:
        messages: list[BaseMessage] = [SystemMessage(content=self.system_prompt(session, react))]
        for turn in session.turns[-self.settings.history_turns :]:
            if turn.speaker is Speaker.clinician:  # labelled: the model answers the doctor, it is not one
                messages.append(HumanMessage(content=render(f"learner_turn.{self.lang}.md", text=turn.text)))
            else:
                messages.append(AIMessage(content=turn.text))
        if self.state_last:
            messages.append(SystemMessage(content=self.state_note(session, react)))
        return messages

    async def prefill(self, session: Session, slot: int | None = None) -> None:
        """Have a local model process the system prompt now (in `slot`, when given), so the first reply starts sooner.

        llama.cpp keeps the processed prefix in its cache (and in its host-memory prompt cache once the slot
        serves another prompt); the system prompt holds no per-turn state for it (`state_last`), so the
        persona part stays cached from turn to turn and across visits.
        """
        await asyncio.to_thread(self.appraiser.pool)  # the reaction rules' examples, embedded once per visit
        if not self.backend.prefill:
            return
        pinned = {"extra_body": {"id_slot": slot}} if slot is not None else {}
        await self.backend.model.bind(max_tokens=1, **pinned).ainvoke(
            [SystemMessage(content=self.system_prompt(session))]
        )

    def _completed(
        self, answer: PatientTurnOutput | PatientLine, session: Session, react: Appraisal | None
    ) -> PatientTurnOutput:
        """The whole turn: the model's, with the state the rules settled; or, for the short form, the thought and
        the reply around that state (ordinary talk: the move is none and the alliance and emotions carry on)."""
        if isinstance(answer, PatientTurnOutput):
            return _following(answer, react)
        last = session.last_hidden()
        hidden = HiddenState(
            inner_monologue=answer.inner_monologue,
            emotions=react.emotions if react else (list(last.emotions) if last else []),
            alliance=react.alliance if react else standing(self.persona, session),
            intended_move=react.move if react else Move.none,
        )
        return PatientTurnOutput(hidden=hidden, reply=answer.reply)

    def leak_guard(self, hidden_monologue: str, react: Appraisal | None = None) -> LeakGuard:
        """The guard for one turn: its hidden monologue, the persona's secrets, the instructions, the rule
        the turn set off.

        In the short form the thought is written after the reply: whatever it shares with the reply came from
        the reply, so it is no secret of this reply (the leak suite caught a thought that quoted its own reply
        as a "leak"). Earlier thoughts are never in a small model's prompt, so it cannot recite them."""
        rule = [react.rule.when, react.rule.disclose] if react else []
        return LeakGuard.for_turn(
            secrets=[
                "" if self.short else hidden_monologue,
                self.persona.inner_monologue,
                template_text(self.template),
                template_text(f"patient_state.{self.lang}.md"),
                *[text for text in rule if text],
            ],
            allowed=self.persona.speech.phrasings,
        )

    async def _generate(
        self, messages: list[BaseMessage], on_token: TokenSink | None, react: Appraisal | None = None
    ) -> tuple[str, str, bool]:
        """One generation: returns (full JSON text, text released to the learner, whether it was cut at the token
        limit: only the short form returns a cut answer, whose reply, written first, may be kept)."""
        watcher = FieldWatcher("reply")
        stream_guard: StreamGuard | None = None
        raw = ""
        released = ""
        cut = False
        try:
            async for delta in stream_json(self.backend, messages, self.output_model, "patient_turn", self.max_tokens):
                raw += delta
                grown = watcher.feed(delta)
                if not grown:
                    continue
                if stream_guard is None:
                    if not self.short and not _hidden_came_first(watcher.buffer):
                        # JSON mode and function calling do not enforce key order: with the reply
                        # first, the monologue is unknown, so nothing streams; the final check decides.
                        # (The short form puts the reply first on purpose: its thought, written after,
                        # cannot be in it, and the persona's secrets and the rule are known.)
                        on_token = None
                    stream_guard = StreamGuard(self.leak_guard(_partial_monologue(watcher.buffer), react))
                safe = stream_guard.feed(grown)
                if safe and on_token is not None:
                    released += safe
                    await on_token(safe)
        except openai.LengthFinishReasonError:
            if not self.short:
                raise
            # The short form writes its reply first and the model then rambled in its thought: the caller keeps
            # what the reply says (`_salvaged`) rather than take back words the learner has read.
            cut = True
        except Exception as exc:
            if released:
                raise StreamInterrupted(str(exc)) from exc
            raise
        if stream_guard is not None and on_token is not None:
            tail = stream_guard.finish()
            if tail:
                released += tail
                await on_token(tail)
        return raw, released, cut

    async def respond(self, session: Session, on_token: TokenSink | None = None) -> PatientTurnResult:
        """Generate, check and (if needed) repair or regenerate the patient's next turn.

        Raises the backend's error when the model cannot be reached after bounded retries;
        the session is left unchanged so the learner can simply send again.
        """
        react = await asyncio.to_thread(self.appraiser.appraise, session)  # embeddings: off the event loop
        messages = self.build_messages(session, react)
        report = GuardReport()
        streamed = ""
        last_error: StructuredOutputError | None = None
        fallback: PatientTurnOutput | None = None
        clinician = next((t.text for t in reversed(session.turns) if t.speaker is Speaker.clinician), "")
        voice_slip: PatientTurnOutput | None = None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            reminders = [] if attempt == 1 else [SystemMessage(content=render(f"reminder.{self.lang}.md"))]
            if report.voice:
                reminders.append(SystemMessage(content=render(f"voice_reminder.{self.lang}.md", p=self.persona)))
            prompt = [*messages, *reminders]
            sink = on_token if attempt == 1 else None  # regenerations replace the message at once
            raw = ""
            try:
                async for retry in retrying(self.settings):
                    with retry:
                        raw, released, cut = await self._generate(prompt, sink, react)
                        streamed = streamed or released
            except openai.LengthFinishReasonError:
                # The model rambled past the token limit: a malformed answer, regenerate.
                last_error = StructuredOutputError("the answer was cut at the token limit")
                continue
            try:
                if cut:
                    raise StructuredOutputError("the answer was cut at the token limit")
                output = self._completed(parse_output(raw, self.output_model), session, react)
            except StructuredOutputError as exc:
                # The short form keeps a reply already shown, or one the model finished before it rambled, or
                # at the last try whatever whole sentences it wrote; otherwise it asks again.
                keep = streamed or (cut and (_reply_closed(raw) or attempt == MAX_ATTEMPTS))
                salvaged = _salvaged(raw) if self.short and keep else None
                if salvaged is None:
                    last_error = exc
                    continue
                output = self._completed(salvaged, session, react)
            guard = self.leak_guard(output.hidden.inner_monologue, react)
            reasons = guard.reasons(output.reply)
            if not reasons and output.reply.strip():
                if problems := voice_problems(output.reply, clinician, self.persona.display_name):
                    # Not the patient's voice: regenerate with a reminder; keep this one in case none does better.
                    report.voice.extend(problems)
                    voice_slip = voice_slip or output
                    continue
                if report.leaked or report.voice:
                    report.action = "regenerated"
                return PatientTurnResult(output, streamed, report, attempt)
            report.leaked = report.leaked or bool(reasons)
            report.reasons.extend(reasons or ["empty reply"])
            repaired = guard.repair(output.reply)
            if repaired and not voice_problems(repaired, clinician, self.persona.display_name):
                report.action = "repaired"
                return PatientTurnResult(output.model_copy(update={"reply": repaired}), streamed, report, attempt)
            report.action = "regenerated"
            fallback = PatientTurnOutput(hidden=output.hidden, reply=fallback_reply(self.lang))
        if voice_slip is not None and (kept := strip_problems(voice_slip.reply, clinician, self.persona.display_name)):
            # The model kept slipping: its reply without the sentences that are not the patient's.
            report.action = "repaired"
            return PatientTurnResult(voice_slip.model_copy(update={"reply": kept}), streamed, report, MAX_ATTEMPTS)
        if voice_slip is not None:
            fallback = PatientTurnOutput(hidden=voice_slip.hidden, reply=fallback_reply(self.lang))
        if fallback is None:
            assert last_error is not None
            raise last_error
        report.action = "fallback"
        return PatientTurnResult(fallback, streamed, report, MAX_ATTEMPTS)


def _following(output: PatientTurnOutput, react: Appraisal | None) -> PatientTurnOutput:
    """The model's turn with the hidden state the appraisal settled: the rule's move, alliance and emotions."""
    if react is None:
        return output
    hidden = output.hidden.model_copy(
        update={
            "intended_move": react.move,
            "move_subtype": output.hidden.move_subtype if output.hidden.intended_move is react.move else None,
            "alliance": react.alliance,
            "emotions": react.emotions or output.hidden.emotions,
        }
    )
    return output.model_copy(update={"hidden": hidden})


def _hidden_came_first(buffer: str) -> bool:
    monologue, reply = buffer.find('"inner_monologue"'), buffer.find('"reply"')
    return 0 <= monologue < reply


def _salvaged(raw: str) -> PatientLine | None:
    """A short-form answer cut at the token limit after its reply was shown: the reply up to its last whole
    sentence (all of it if none ended), and whatever thought was written."""
    try:
        partial = parse_partial_json(raw)
    except ValueError:
        return None
    reply = partial.get("reply") if isinstance(partial, dict) else None
    if not isinstance(reply, str) or not reply.strip():
        return None
    ended = max(reply.rfind(mark) for mark in ".!?…")
    thought = partial.get("inner_monologue")
    return PatientLine(
        reply=reply[: ended + 1] if ended > 0 else reply,
        inner_monologue=thought if isinstance(thought, str) and thought.strip() else "…",
    )


_CLOSED_REPLY = re.compile(r'"reply"\s*:\s*"(?:[^"\\]|\\.)*"')


def _reply_closed(raw: str) -> bool:
    """Whether the answer's reply string was written to its closing quote."""
    return _CLOSED_REPLY.search(raw) is not None


def _partial_monologue(buffer: str) -> str:
    try:
        partial = parse_partial_json(buffer)
    except ValueError:
        return ""
    if not isinstance(partial, dict):
        return ""
    hidden = partial.get("hidden", partial)  # the whole turn nests it; the short form does not
    monologue = hidden.get("inner_monologue") if isinstance(hidden, dict) else None
    return monologue if isinstance(monologue, str) else ""
