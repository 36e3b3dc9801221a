"""Session -> debrief: the alliance over time, the flagged moments with the patient's thoughts
revealed, the key moment with alternative replies, counts, and a comparison of two branches.

Built after the visit, so the hidden states are fair game here. Deterministic: the
alternatives come from the coach's hint bank (`agent.feedback.hints`), never from an LLM.

Definitions used throughout:
- a *point* is the alliance the patient perceived: the persona's initial alliance (turn 0,
  `initial`), then the hidden state of each patient turn; its *mean* is that of goals,
  tasks and bond;
- an *exchange* is a learner turn and the patient's reply right after it;
- the *key moment* is the exchange whose reply shows the largest drop of the mean from the
  point before the learner spoke (ties: the earliest); with no drop, the exchange of the
  first rupture marker;
- a repair *worked* when the mean on the patient turn after it (the repair itself, for a
  patient repair) is above the mean on the point before it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from agent.debrief.model import (
    MAX_ALTERNATIVES,
    Alternative,
    BranchTrack,
    Comparison,
    Counts,
    Debrief,
    DebriefEvent,
    FlaggedMoment,
    KeyMoment,
    MissedRepair,
    RepairOutcome,
    TimelinePoint,
)
from agent.debrief.reading import reading_comparisons
from agent.domain.events import AllianceEvent
from agent.domain.reading import PatientReading
from agent.domain.session import HiddenState, Session, Turn
from agent.domain.taxonomy import (
    MARKERS,
    Emotion,
    EventKind,
    Lang,
    MarkerChannel,
    MetacommFunction,
    Move,
    RepairPrinciple,
    RuptureType,
    Speaker,
)
from agent.feedback.hints import Hint, hints_for
from agent.persona.model import Persona


def _point(turn: int, goals: int, tasks: int, bond: int, emotions: Sequence[Emotion], initial: bool) -> TimelinePoint:
    mean = round((goals + tasks + bond) / 3, 2)
    return TimelinePoint(
        turn=turn, initial=initial, goals=goals, tasks=tasks, bond=bond, mean=mean, emotions=list(emotions)
    )


def _hidden_point(turn: Turn) -> TimelinePoint | None:
    if turn.hidden is None:
        return None
    a = turn.hidden.alliance
    return _point(turn.id, a.goals, a.tasks, a.bond, turn.hidden.emotions, initial=False)


def timeline(session: Session, persona: Persona | None = None) -> list[TimelinePoint]:
    """The persona's initial alliance (when known), then the alliance after each patient turn."""
    points: list[TimelinePoint] = []
    if persona is not None:
        start = persona.initial_alliance
        points.append(_point(0, start.goals, start.tasks, start.bond, [], initial=True))
    points.extend(p for t in session.turns if (p := _hidden_point(t)) is not None)
    return points


def _debrief_event(event: AllianceEvent) -> DebriefEvent:
    return DebriefEvent(
        turn=event.turn,
        speaker=event.speaker,
        kind=event.kind,
        label=event.label(),
        rupture=event.rupture,
        function=event.function,
        principle=event.principle,
        subtype=event.subtype,
        evidence=event.evidence,
        rationale=event.rationale,
    )


def unique_events(events: Iterable[AllianceEvent]) -> list[DebriefEvent]:
    """One event per (turn, kind, label), in turn order (the evaluator may report a turn twice)."""
    seen: dict[tuple[int, str, str], DebriefEvent] = {}
    for event in events:
        seen.setdefault((event.turn, event.kind.value, event.label()), _debrief_event(event))
    return sorted(seen.values(), key=lambda e: e.turn)


class _Visit:
    """Index of one session: turns by id, the reply to each learner turn, events by turn."""

    def __init__(self, session: Session, points: list[TimelinePoint], events: list[DebriefEvent]):
        self.session = session
        self.turns = session.turns
        self.points = points
        self.events = events
        self.position = {t.id: i for i, t in enumerate(self.turns)}

    def turn(self, turn_id: int | None) -> Turn | None:
        index = self.position.get(turn_id) if turn_id is not None else None
        return self.turns[index] if index is not None else None

    def next_turn(self, turn_id: int, speaker: Speaker, immediate: bool) -> Turn | None:
        """The next turn by `speaker` after `turn_id` (only the very next turn when `immediate`)."""
        if turn_id not in self.position:
            return None
        for turn in self.turns[self.position[turn_id] + 1 :]:
            if turn.speaker is speaker:
                return turn
            if immediate:
                return None
        return None

    def reply_to(self, learner_turn: int) -> Turn | None:
        return self.next_turn(learner_turn, Speaker.patient, immediate=True)

    def prompt_of(self, patient_turn: int) -> Turn | None:
        index = self.position[patient_turn]
        previous = self.turns[index - 1] if index > 0 else None
        return previous if previous is not None and previous.speaker is Speaker.clinician else None

    def events_on(self, turn_id: int | None) -> list[DebriefEvent]:
        return [e for e in self.events if e.turn == turn_id]

    def point_at(self, turn_id: int | None) -> TimelinePoint | None:
        return next((p for p in self.points if not p.initial and p.turn == turn_id), None)

    def point_before(self, turn_id: int) -> TimelinePoint | None:
        earlier = [p for p in self.points if p.order < turn_id]
        return earlier[-1] if earlier else None


# --------------------------------------------------------------------------- flagged moments, missed repairs


def _exchanges(visit: _Visit) -> list[tuple[Turn | None, Turn | None]]:
    """Each learner turn with the reply right after it; a patient turn with no learner turn before stands alone."""
    pairs: list[tuple[Turn | None, Turn | None]] = []
    for turn in visit.turns:
        if turn.speaker is Speaker.clinician:
            pairs.append((turn, visit.reply_to(turn.id)))
        elif visit.prompt_of(turn.id) is None:
            pairs.append((None, turn))
    return pairs


def flagged_moments(visit: _Visit) -> list[FlaggedMoment]:
    moments: list[FlaggedMoment] = []
    for learner, patient in _exchanges(visit):
        learner_events = visit.events_on(learner.id) if learner else []
        patient_events = visit.events_on(patient.id) if patient else []
        if not learner_events and not patient_events:
            continue
        hidden: HiddenState | None = patient.hidden if patient else None
        moments.append(
            FlaggedMoment(
                learner_turn=learner.id if learner else None,
                learner_text=learner.text if learner else None,
                patient_turn=patient.id if patient else None,
                patient_reply=patient.text if patient else None,
                inner_monologue=hidden.inner_monologue if hidden else None,
                emotions=list(hidden.emotions) if hidden else [],
                alliance=visit.point_at(patient.id) if patient else None,
                learner_events=learner_events,
                patient_events=patient_events,
            )
        )
    return moments


def missed_repairs(visit: _Visit) -> list[MissedRepair]:
    missed: list[MissedRepair] = []
    for event in visit.events:
        if event.kind is not EventKind.missed_repair:
            continue
        learner = visit.turn(event.turn)
        index = visit.position.get(event.turn)
        before = visit.turns[index - 1] if index else None
        before = before if before is not None and before.speaker is Speaker.patient else None
        missed.append(
            MissedRepair(
                turn=event.turn,
                rupture=event.rupture,
                rupture_turn=before.id if before else None,
                patient_text=before.text if before else None,
                learner_text=learner.text if learner else "",
            )
        )
    return missed


# --------------------------------------------------------------------------- repairs and counts


def repair_outcomes(visit: _Visit) -> list[RepairOutcome]:
    outcomes: list[RepairOutcome] = []
    repair_turns = sorted({e.turn for e in visit.events if e.kind is EventKind.repair_attempt})
    for turn_id in repair_turns:
        events = [e for e in visit.events_on(turn_id) if e.kind is EventKind.repair_attempt]
        speaker = events[0].speaker
        if speaker is Speaker.patient:
            after = visit.point_at(turn_id)
        else:
            reply = visit.reply_to(turn_id) if turn_id in visit.position else None
            after = visit.point_at(reply.id) if reply else None
        before = visit.point_before(turn_id)
        worked = None if before is None or after is None else after.mean > before.mean
        outcomes.append(
            RepairOutcome(
                turn=turn_id,
                speaker=speaker,
                labels=[e.label for e in events],
                before=before.mean if before else None,
                after=after.mean if after else None,
                worked=worked,
            )
        )
    return outcomes


def counts(events: list[DebriefEvent], repairs: list[RepairOutcome]) -> Counts:
    ruptures = [e for e in events if e.kind is EventKind.rupture_marker]
    attempts = [e for e in events if e.kind is EventKind.repair_attempt]
    return Counts(
        ruptures_by_type={r: sum(e.rupture is r for e in ruptures) for r in RuptureType},
        ruptures_by_party={s: sum(e.speaker is s for e in ruptures) for s in Speaker},
        repairs_by_label=dict(Counter(e.label for e in attempts)),
        repairs_by_party={s: sum(e.speaker is s for e in attempts) for s in Speaker},
        repairs_worked=sum(r.worked is True for r in repairs),
        repairs_assessed=sum(r.worked is not None for r in repairs),
        missed_repairs=sum(e.kind is EventKind.missed_repair for e in events),
    )


# --------------------------------------------------------------------------- the key moment


def _largest_drop(visit: _Visit) -> KeyMoment | None:
    best: KeyMoment | None = None
    for learner, patient in _exchanges(visit):
        if learner is None or patient is None:
            continue
        before, after = visit.point_before(learner.id), visit.point_at(patient.id)
        if before is None or after is None:
            continue
        drop = round(before.mean - after.mean, 2)
        if drop > 0 and (best is None or best.drop is None or drop > best.drop):
            best = KeyMoment(
                learner_turn=learner.id,
                patient_turn=patient.id,
                reason="largest_drop",
                before=before.mean,
                after=after.mean,
                drop=drop,
            )
    return best


def _first_rupture(visit: _Visit) -> KeyMoment | None:
    first = next((e for e in visit.events if e.kind is EventKind.rupture_marker), None)
    if first is None:
        return None
    turn = visit.turn(first.turn)
    if turn is not None and turn.speaker is Speaker.patient:
        learner = visit.prompt_of(turn.id)
        return KeyMoment(learner_turn=learner.id if learner else None, patient_turn=turn.id, reason="first_rupture")
    reply = visit.reply_to(first.turn) if turn is not None else None
    return KeyMoment(learner_turn=first.turn, patient_turn=reply.id if reply else None, reason="first_rupture")


_EMOTION_RUPTURE = {m.label.id: m.rupture for m in MARKERS if m.channel is MarkerChannel.emotional}


def _rupture_at(visit: _Visit, moment: KeyMoment, respond: Turn | None) -> RuptureType | None:
    """The rupture at stake: the patient's marker, the missed repair's, the patient's intended move,
    the learner's own marker, then the family of the patient's emotions (taxonomy, Table II)."""
    found = [e.rupture for e in visit.events_on(moment.patient_turn) if e.kind is EventKind.rupture_marker]
    found += [e.rupture for e in visit.events_on(respond.id if respond else None) if e.kind is EventKind.missed_repair]
    patient = visit.turn(moment.patient_turn)
    move = patient.hidden.intended_move if patient is not None and patient.hidden is not None else Move.none
    if move in (Move.withdrawal, Move.confrontation):
        found.append(RuptureType(move.value))
    found += [e.rupture for e in visit.events_on(moment.learner_turn) if e.kind is EventKind.rupture_marker]
    if patient is not None and patient.hidden is not None:
        felt = Counter(_EMOTION_RUPTURE[e.value] for e in patient.hidden.emotions if e.value in _EMOTION_RUPTURE)
        found += [r for r, _ in felt.most_common()]
    return next((r for r in found if r is not None), None)


def _alternative(hint: Hint, lang: Lang) -> Alternative:
    if hint.move in MetacommFunction.__members__:
        function = MetacommFunction(hint.move)
        return Alternative(
            move=hint.move,
            principle=RepairPrinciple.metacommunication,
            function=function,
            text=hint.example,
            language=lang,
        )
    return Alternative(move=hint.move, principle=RepairPrinciple(hint.move), text=hint.example, language=lang)


def alternatives(rupture: RuptureType | None, lang: Lang, tried: Iterable[str] = ()) -> list[Alternative]:
    """Two or three replies for this rupture; moves the learner already tried come last."""
    used = set(tried)
    hints = sorted(
        hints_for(rupture, lang)[:MAX_ALTERNATIVES], key=lambda h: h.move in used
    )  # stable: the bank's order otherwise
    return [_alternative(h, lang) for h in hints]


def key_moment(visit: _Visit, lang: Lang) -> KeyMoment | None:
    moment = _largest_drop(visit) or _first_rupture(visit)
    if moment is None:
        return None
    anchor = moment.patient_turn if moment.patient_turn is not None else moment.learner_turn
    respond = visit.next_turn(anchor, Speaker.clinician, immediate=False) if anchor is not None else None
    rupture = _rupture_at(visit, moment, respond)
    tried = [e.label for e in visit.events_on(respond.id if respond else None) if e.kind is EventKind.repair_attempt]
    return moment.model_copy(
        update={
            "rupture": rupture,
            "respond_turn": respond.id if respond else None,
            "respond_text": respond.text if respond else None,
            "alternatives": alternatives(rupture, lang, tried),
        }
    )


# --------------------------------------------------------------------------- branches


def branch_point(a: Session, b: Session) -> int:
    """The turn id where two branches of one visit part: the rewound learner turn, else the first different turn."""
    if b.parent_id == a.id and b.branch_turn is not None:
        return b.branch_turn
    if a.parent_id == b.id and a.branch_turn is not None:
        return a.branch_turn
    siblings = a.parent_id is not None and a.parent_id == b.parent_id
    if siblings and a.branch_turn is not None and b.branch_turn is not None:
        return min(a.branch_turn, b.branch_turn)
    shared = 0
    for x, y in zip(a.turns, b.turns, strict=False):
        if (x.speaker, x.text) != (y.speaker, y.text):
            break
        shared += 1
    return shared


def _track(session: Session, persona: Persona | None, turn: int) -> BranchTrack:
    points = timeline(session, persona)
    opening = next((t.text for t in session.turns if t.id == turn and t.speaker is Speaker.clinician), None)
    return BranchTrack(
        session_id=session.id,
        opening=opening,
        points=[p for p in points if p.order >= turn],
        final=points[-1] if points else None,
    )


def comparison(session: Session, other: Session, persona: Persona | None = None) -> Comparison:
    """Both branches from the branch point on, and their final alliance."""
    if session.persona_id != other.persona_id:
        raise ValueError(
            f"not two branches of one visit: persona {session.persona_id!r} and persona {other.persona_id!r}"
        )
    turn = branch_point(session, other)
    earlier = [p for p in timeline(session, persona) if p.order < turn]
    return Comparison(
        branch_turn=turn,
        start=earlier[-1] if earlier else None,
        this=_track(session, persona, turn),
        other=_track(other, persona, turn),
    )


# --------------------------------------------------------------------------- the report


def build_debrief(
    session: Session,
    persona: Persona | None = None,
    compare: Session | None = None,
    readings: Sequence[PatientReading] = (),
) -> Debrief:
    """The whole debrief of one session; `compare` is another branch of the same visit; `readings` are the
    learner's readings of the patient (those about this session's turns are compared with her hidden state).

    Raises ValueError when `compare` is a session with another persona.
    """
    lang: Lang = persona.language if persona is not None else session.language
    events = unique_events(session.events)
    visit = _Visit(session, timeline(session, persona), events)
    repairs = repair_outcomes(visit)
    return Debrief(
        session_id=session.id,
        persona_id=session.persona_id,
        patient_name=persona.display_name if persona is not None else None,
        language=lang,
        llm=session.llm,
        started_at=session.started_at,
        turn_count=len(session.turns),
        parent_id=session.parent_id,
        branch_turn=session.branch_turn,
        timeline=visit.points,
        events=events,
        flagged=flagged_moments(visit),
        missed_repairs=missed_repairs(visit),
        key_moment=key_moment(visit, lang),
        repairs=repairs,
        counts=counts(events, repairs),
        comparison=comparison(session, compare, persona) if compare is not None else None,
        readings=reading_comparisons(session, readings),
    )
