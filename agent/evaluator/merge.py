"""The evaluator: transcript in, alliance events out. Detector and judge behind one interface.

Input is the observer transcript only (`PublicTurn`: speaker and words), never the hidden
state nor the persona. Events are about the last turn, read in context (`agent.evaluator.context`:
a clinician's repair attempt counts when a rupture is open or the clinician metacommunicates in so
many words); a `missed_repair` is added when the patient's previous turn showed a rupture (read with
at least `context.MISSED_FLOOR` confidence) and the clinician's turn attempts no repair.

Merging (when both tiers run): findings with the same kind and label are one event (the
higher confidence, the judge's quote and rationale, source "detector+judge"). The judge is
the more capable reader, so a finding only the detector made is kept when its confidence
is at least `DETECTOR_SOLO_MIN`; a finding only the judge made is kept. If the judge fails,
the detector's events stand alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from agent.config import Settings
from agent.domain.acts import CommunicativeAct
from agent.domain.events import AllianceEvent, validate_evidence
from agent.domain.language import as_lang
from agent.domain.session import PublicTurn
from agent.domain.taxonomy import EventKind, Lang, RuptureType, Speaker
from agent.evaluator.acts import shared_act_tagger
from agent.evaluator.base import Evaluator
from agent.evaluator.calibration import Calibration, default_calibration
from agent.evaluator.context import WINDOW, in_context, missed_rupture, rupture_open
from agent.evaluator.detector import Detector
from agent.evaluator.judge import Judge
from agent.i18n.catalog import t

log = logging.getLogger(__name__)

DETECTOR_SOLO_MIN = 0.75
EvaluatorKind = str  # detector | judge | both | none


def _key(event: AllianceEvent) -> tuple[str, str]:
    return event.kind.value, event.label()


def merge(detector: list[AllianceEvent], judge: list[AllianceEvent]) -> list[AllianceEvent]:
    by_key = {_key(e): e for e in judge}
    merged = list(judge)
    for event in detector:
        twin = by_key.get(_key(event))
        if twin is not None:
            index = merged.index(twin)
            merged[index] = twin.model_copy(
                update={
                    "confidence": max(twin.confidence, event.confidence),
                    "source": "detector+judge",
                    "subtype": twin.subtype or event.subtype,
                }
            )
        elif event.confidence >= DETECTOR_SOLO_MIN:
            merged.append(event)
    return merged


class AllianceEvaluator(Evaluator):
    def __init__(
        self, detector: Detector | None = None, judge: Judge | None = None, calibration: Calibration | None = None
    ):
        if detector is None and judge is None:
            raise ValueError("an evaluator needs a detector, a judge or both")
        self.detector = detector
        self.judge = judge
        self.calibration = calibration or default_calibration()
        self._memo: OrderedDict[tuple[int, str], list[AllianceEvent]] = OrderedDict()
        self._ruptures: OrderedDict[tuple[int, str, str], float] = OrderedDict()

    def _remember(self, turn: PublicTurn, events: list[AllianceEvent]) -> None:
        self._memo[(turn.id, turn.text)] = events
        if len(self._memo) > 512:
            self._memo.popitem(last=False)

    async def _detect(self, transcript: list[PublicTurn], lang: Lang) -> list[AllianceEvent]:
        if self.detector is None:
            return []
        last, prev = transcript[-1], (transcript[-2] if len(transcript) > 1 else None)
        # The detector is CPU-bound (embeddings): off the event loop so the chat never stalls.
        return await asyncio.to_thread(self.detector.detect_turn, last, prev, lang)

    async def _judge(self, transcript: list[PublicTurn], lang: Lang) -> list[AllianceEvent] | None:
        if self.judge is None:
            return None
        try:
            return await self.judge.judge(transcript, lang)
        except Exception as exc:
            if self.detector is None:
                raise
            log.warning("judge unavailable (%s); detector events only", type(exc).__name__)
            return None

    async def _events_for(self, transcript: list[PublicTurn], lang: Lang) -> list[AllianceEvent]:
        memo = self._memo.get((transcript[-1].id, transcript[-1].text))
        if memo is not None:
            return memo
        detected, judged = await asyncio.gather(self._detect(transcript, lang), self._judge(transcript, lang))
        events = detected if judged is None else merge(detected, judged)
        last = transcript[-1]
        kept = [self.calibration.apply(v) for e in events if (v := validate_evidence(e, last.text)) is not None]
        self._remember(last, kept)
        return kept

    async def _rupture_probability(self, transcript: list[PublicTurn], lang: Lang) -> float:
        """How likely the last turn is a rupture marker. A patient's turn: the detector's reading below any
        threshold (judge only: the highest confidence of the markers found). A clinician's turn: the markers
        found only, since the clinician head reads most openings and questions as possible withdrawals. A turn
        the judge alone never read costs no judge call: the judge reads the whole transcript itself."""
        last = transcript[-1]
        key = (last.id, last.text, transcript[-2].text if len(transcript) > 1 else "")
        cached = self._ruptures.get(key)
        if cached is not None:
            return cached
        if self.detector is not None and last.speaker is Speaker.patient:
            prev = transcript[-2] if len(transcript) > 1 else None
            value = await asyncio.to_thread(self.detector.rupture_probability, last, prev)
        else:
            known = self._memo.get((last.id, last.text))
            if known is None and self.detector is None:
                return 1.0  # the judge alone, on a turn it never read: it reads the context itself; gate nothing
            events = known if known is not None else await self._detect(transcript, lang)
            value = max((e.confidence for e in events if e.kind is EventKind.rupture_marker), default=0.0)
        self._ruptures[key] = value
        if len(self._ruptures) > 512:
            self._ruptures.popitem(last=False)
        return value

    @staticmethod
    def _acts(turn: PublicTurn) -> list[tuple[CommunicativeAct, float]]:
        """The communicative act of each sentence (the detector's embeddings are cached: little extra work)."""
        return [(a.act, a.probability) for a in shared_act_tagger().tag(turn.text, turn.speaker)]

    async def evaluate(self, transcript: list[PublicTurn], lang: str) -> list[AllianceEvent]:
        if not transcript:
            return []
        language = as_lang(lang)
        last = transcript[-1]
        events = await self._events_for(transcript, language)
        is_open = False
        if last.speaker is Speaker.clinician:  # only a clinician's repair depends on a rupture being open
            start = max(1, len(transcript) - WINDOW)
            ends = range(start, len(transcript))
            is_open = rupture_open([await self._rupture_probability(transcript[:end], language) for end in ends])
        acts = prev_acts = None
        gated = any(e.kind is EventKind.rupture_marker for e in events) or (
            last.speaker is Speaker.clinician and not is_open and bool(events)
        )
        if gated and self.detector is not None:
            acts = await asyncio.to_thread(self._acts, last)
            withdrawal = any(e.rupture is RuptureType.withdrawal for e in events)
            if withdrawal and len(transcript) > 1 and transcript[-2].speaker is not last.speaker:
                prev_acts = await asyncio.to_thread(self._acts, transcript[-2])
        events = in_context(events, last, is_open, acts, prev_acts)
        if last.speaker is Speaker.clinician and len(transcript) > 1 and transcript[-2].speaker is Speaker.patient:
            # The patient's turn read in its own context (a plain answer to a closed question is no withdrawal).
            rupture = missed_rupture(await self.evaluate(transcript[:-1], language))
            repaired = any(e.kind is EventKind.repair_attempt for e in events)
            if rupture is not None and not repaired:
                events = [*events, missed_repair(last, rupture, language)]
        return events


def missed_repair(turn: PublicTurn, rupture: AllianceEvent, lang: Lang) -> AllianceEvent:
    from agent.domain.taxonomy import RUPTURES

    name = RUPTURES[rupture.rupture].name(lang).lower() if rupture.rupture else ""
    rationale = t("evaluator.missed_repair", lang, rupture=name)
    return AllianceEvent(
        turn=turn.id,
        speaker=turn.speaker,
        kind=EventKind.missed_repair,
        rupture=rupture.rupture,
        evidence="",
        confidence=rupture.confidence,
        rationale=rationale,
        source="rule",
        tentative=rupture.tentative,
    )


def build_evaluator(kind: EvaluatorKind, settings: Settings, llm: str | None = None) -> AllianceEvaluator | None:
    """detector | judge | both | none. The judge uses the same backend factory as the patient."""
    if kind == "none":
        return None
    detector = Detector() if kind in ("detector", "both") else None
    judge = None
    if kind in ("judge", "both"):
        from agent.llm.backends import build_backend

        judge = Judge(build_backend(settings, llm), settings)
    return AllianceEvaluator(detector, judge)
