"""The live monitor's view model: which flags the learner sees, and the alliance trend.

Pure data for the UI (the Chainlit custom element renders it). Built only from the observer
transcript and the evaluator's events: the patient's hidden state has no way in.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from agent.domain.events import AllianceEvent
from agent.domain.session import PublicTurn
from agent.domain.taxonomy import EVENT_KINDS, EventKind, Lang, Speaker, display
from agent.i18n.catalog import messages, t


class CoachingLevel(StrEnum):
    exam = "exam"  # nothing live; everything at the debrief
    learner = "learner"  # flags on the learner's own turns (default)
    coach = "coach"  # also the patient's observable markers, and hints


def level_name(level: CoachingLevel, lang: Lang) -> str:
    return t(f"level.{level.value}", lang)


# Confidence is shown as words, never as a percentage. A flag the evaluator marked tentative (below the threshold
# chosen on dev for precision, `agent.evaluator.calibration`) is shown muted, as a possibility; a finding is worded
# from its calibrated confidence: the probability, measured on dev, that a flag like it is right.
CONFIDENCE_WORDS = (
    (0.8, "monitor.confidence_likely"),
    (0.93, "monitor.confidence_very_likely"),
    (1.01, "monitor.confidence_near_certain"),
)


def confidence_words(event: AllianceEvent, lang: Lang) -> str:
    if event.tentative:
        return t("monitor.confidence_possible", lang)
    return t(next(key for below, key in CONFIDENCE_WORDS if event.confidence < below), lang)


TREND_WEIGHT = {EventKind.repair_attempt: 1.0, EventKind.rupture_marker: -1.0, EventKind.missed_repair: -0.5}


def visible(event: AllianceEvent, level: CoachingLevel) -> bool:
    if level is CoachingLevel.exam:
        return False
    return level is CoachingLevel.coach or event.speaker is Speaker.clinician


def trend(transcript: list[PublicTurn], events: list[AllianceEvent]) -> list[dict[str, float]]:
    """Cumulative evaluator reading per turn: repairs lift it, ruptures and missed repairs lower it."""
    by_turn: dict[int, float] = {}
    for event in events:
        by_turn[event.turn] = by_turn.get(event.turn, 0.0) + TREND_WEIGHT[event.kind] * event.confidence
    value, points = 0.0, []
    for turn in transcript:
        value += by_turn.get(turn.id, 0.0)
        points.append({"turn": turn.id, "value": round(value, 3)})
    return points


def _flag(event: AllianceEvent, lang: Lang) -> dict[str, Any]:
    tone = {"rupture_marker": "rupture", "repair_attempt": "repair", "missed_repair": "missed"}[event.kind.value]
    return {
        "kind": event.kind.value,
        "kindName": EVENT_KINDS[event.kind].name(lang),
        "label": event.label(),
        "labelName": display(event.label(), lang),
        "subtype": display(event.subtype, lang) if event.subtype else None,
        "evidence": event.evidence,
        "confidence": round(event.confidence, 2),
        "confidenceText": confidence_words(event, lang),
        "rationale": event.rationale,
        "tone": tone,
        "source": event.source,
        "tentative": event.tentative,
    }


def monitor_props(
    transcript: list[PublicTurn],
    events: list[AllianceEvent],
    level: CoachingLevel,
    lang: Lang,
    unavailable: set[int] | None = None,
) -> dict[str, Any]:
    unavailable = unavailable or set()
    ui = {key.removeprefix("monitor."): text for key, text in messages(lang).items() if key.startswith("monitor.")}
    turns = []
    if level is not CoachingLevel.exam:
        for turn in transcript:
            flags = [_flag(e, lang) for e in events if e.turn == turn.id and visible(e, level)]
            missing = turn.id in unavailable and (level is CoachingLevel.coach or turn.speaker is Speaker.clinician)
            if flags or missing:
                turns.append(
                    {
                        "id": turn.id,
                        "speaker": turn.speaker.value,
                        "speakerName": t(
                            "monitor.you" if turn.speaker is Speaker.clinician else "monitor.patient", lang
                        ),
                        "text": turn.text,
                        "flags": flags,
                        "unavailable": missing,
                    }
                )
    return {
        "level": level.value,
        "ui": ui,
        "turns": turns,
        "trend": trend(transcript, events) if level is not CoachingLevel.exam else [],
    }
