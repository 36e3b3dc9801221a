"""The alliance layer: what a reading of one turn means in the visit so far.

A repair is a repair because of its context (the article, Tables II and III: metacommunication and
the exploration of goals and tasks answer a rupture). The same reflection is an emotional repair
after a withdrawal, and ordinary empathy in an ordinary exchange; a question about the patient's
goals is a repair after a confrontation, and good history-taking otherwise. On real conversations
written by others, reading every reflection or open question as a repair flagged most ordinary
clinician turns (issue 13). So:

- a clinician's repair attempt is reported when a rupture may be open: one of the last WINDOW turns
  reads as a rupture marker with probability at least OPEN_FLOOR (a patient's turn: the detector's
  reading below its threshold, since a rupture the monitor did not show still calls for repair; a
  clinician's turn: a marker the monitor found); or when the clinician metacommunicates
  in so many words (a misunderstanding named, the exchange itself talked about, goals or roles put
  on the table), which is a repair move by itself;
- anything else the detector read as a repair function is ordinary clinical skill, and the monitor
  shows nothing for it, at any coaching level (the debrief's numbers count repairs the same way).

A rupture marker is not reported on a turn whose every sentence the act layer reads as ordinary talk
(a patient's greeting or thanks; a clinician's plain information). Three readings of withdrawal are
also context-bound:

- a patient's answer to a clinician's closed question is no withdrawal when every sentence of it gives
  what was asked (facts, agreement): the "minimal response" marker of withdrawal is a minimal answer to
  an invitation to say more, and "Since Thursday." answers "Since when?" in full;
- a patient's turn made only of questions to the clinician seeks the exchange, the opposite of
  withdrawing ("Alors, c'est cassé ?"); a question can still be a confrontation;
- a clinician's turn made only of open questions, reflections and summaries turns toward the patient,
  which is the opposite of withdrawing ("That sounds tiring." was once read as the learner's withdrawal).

A missed repair is reported only after a rupture marker read with at least MISSED_FLOOR confidence: a
weak reading of the patient's turn once made "Bonjour, merci pour votre question." a withdrawal, and
the learner's next turn a miss.
"""

from __future__ import annotations

import re

from agent.domain.acts import CommunicativeAct
from agent.domain.events import AllianceEvent
from agent.domain.session import PublicTurn
from agent.domain.taxonomy import EventKind, RuptureType, Speaker
from agent.evaluator.cues import cue_counts

WINDOW = 4  # turns back in which a rupture is still open
OPEN_FLOOR = 0.5  # the least rupture probability of a turn that leaves a rupture open (chosen on the dev split)
MISSED_FLOOR = 0.5  # the least confidence of the rupture marker a missed repair points back to
# Cue groups that name the relationship or the work itself: metacommunication in so many words.
EXPLICIT = ("clarifying", "reflective", "explore_perspectives")
# The clinician naming their own part in what just went wrong: "I came across as harsh", "j'ai été brusque".
SELF_CRITIQUE = re.compile(
    r"\b(came|come|coming) across as\b"
    r"|\bi (was|have been|'ve been|am being|'m being) (a bit |too |rather |very )?"
    r"(harsh|blunt|abrupt|pushy|short|dismissive|quick|rushed|insensitive)"
    r"|\bi (pushed|rushed|cut you off|interrupted)"
    r"|\bj'ai [ée]t[ée] (un peu |trop |assez )?(brusque|dur|sec|s[èe]che|direct|expéditi|maladroit)"
    r"|\bje (suis all[ée]e? trop vite|vous ai coup[ée]|vous ai bouscul)",
    re.IGNORECASE,
)
ACT_FLOOR = 0.5  # the act layer's reading of a sentence (as metacommunication, as ordinary talk), to count
# Turns whose every sentence is one of these acts are no rupture marker: a greeting or a thanks from the
# patient ("Bonjour, merci pour votre question." was once a withdrawal), test results or plain information
# from the clinician ("Your blood tests came back normal" was once a confrontation).
ORDINARY = {
    Speaker.patient: {CommunicativeAct.social},
    Speaker.clinician: {CommunicativeAct.social, CommunicativeAct.information},
}


# A patient's sentence that gives what a closed question asked for.
ANSWERING = {CommunicativeAct.self_disclosure, CommunicativeAct.information, CommunicativeAct.agreement}
# A clinician's sentence that turns toward the patient: it asks for or gives back the patient's own words.
TURNING_TOWARD = {
    CommunicativeAct.open_question,
    CommunicativeAct.simple_reflection,
    CommunicativeAct.complex_reflection,
    CommunicativeAct.summary_check,
}

Acts = list[tuple[CommunicativeAct, float]]


QUESTIONS = {CommunicativeAct.open_question, CommunicativeAct.closed_question}


def only(acts: Acts, kinds: set[CommunicativeAct], floor: float = 0.0) -> bool:
    """Whether the turn has sentences and every one reads as one of `kinds`, with at least `floor` probability."""
    return bool(acts) and all(act in kinds and p >= floor for act, p in acts)


def answers_closed_question(acts: Acts, prev_acts: Acts) -> bool:
    """A patient's turn that answers the closed question ending the clinician's previous turn."""
    asked = bool(prev_acts) and prev_acts[-1][0] is CommunicativeAct.closed_question
    return asked and only(acts, ANSWERING)


def turning_toward(acts: Acts) -> bool:
    """A clinician's turn made only of open questions, reflections and summaries."""
    return only(acts, TURNING_TOWARD)


def _not_withdrawal(turn: PublicTurn, acts: Acts, prev_acts: Acts) -> bool:
    if turn.speaker is Speaker.patient:
        return answers_closed_question(acts, prev_acts) or only(acts, QUESTIONS)
    return turning_toward(acts)


def ordinary_talk(speaker: Speaker, acts: Acts) -> bool:
    """Every sentence read, with confidence, as an act that is no rupture marker for this speaker."""
    return only(acts, ORDINARY[speaker], ACT_FLOOR)


def rupture_open(history: list[float]) -> bool:
    """Whether a rupture may be open, from the rupture probabilities of the previous turns (oldest first)."""
    return any(p >= OPEN_FLOOR for p in history[-WINDOW:])


def missed_rupture(previous: list[AllianceEvent]) -> AllianceEvent | None:
    """The patient's rupture marker, read with confidence, that the clinician's next turn should answer."""
    return next(
        (e for e in previous if e.kind is EventKind.rupture_marker and e.confidence >= MISSED_FLOOR),
        None,
    )


def explicit_metacommunication(text: str, acts: Acts | None = None) -> bool:
    """Metacommunication in so many words: a cue naming the relationship, the clinician's own part, or a
    sentence the act layer reads as metacommunication (`acts`: each sentence's act and its probability)."""
    counts = cue_counts(text)
    if any(counts[group] for group in EXPLICIT) or SELF_CRITIQUE.search(text):
        return True
    return any(act is CommunicativeAct.metacommunication and p >= ACT_FLOOR for act, p in acts or [])


def in_context(
    events: list[AllianceEvent],
    turn: PublicTurn,
    rupture_may_be_open: bool,
    acts: Acts | None = None,
    prev_acts: Acts | None = None,
) -> list[AllianceEvent]:
    """The events of `turn` that mean something given what came before (see the module's docstring), and
    given what the turn does (`acts`: each sentence's communicative act and its probability; `prev_acts`:
    the same for the previous turn, when the other party spoke it)."""
    if acts and ordinary_talk(turn.speaker, acts):
        events = [e for e in events if e.kind is not EventKind.rupture_marker]
    if acts and _not_withdrawal(turn, acts, prev_acts or []):
        events = [
            e for e in events if e.rupture is not RuptureType.withdrawal or e.kind is not EventKind.rupture_marker
        ]
    if turn.speaker is not Speaker.clinician or rupture_may_be_open or explicit_metacommunication(turn.text, acts):
        return events
    return [e for e in events if e.kind is not EventKind.repair_attempt]
