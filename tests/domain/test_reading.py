"""The learner's reading of the patient, scored against her hidden state."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from agent.domain.reading import PatientReading, score_reading
from agent.domain.session import AlliancePerception, HiddenState
from agent.domain.taxonomy import Emotion, Move
from agent.domain.visit import VisitState

HIDDEN = HiddenState(
    inner_monologue="Il ne m'écoute pas.",
    emotions=[Emotion.anxiety, Emotion.frustration],
    alliance=AlliancePerception(goals=2, tasks=1, bond=3),
    intended_move=Move.withdrawal,
)


def _reading(emotions: list[Emotion], goals: int, tasks: int, bond: int, move: Move) -> PatientReading:
    return PatientReading(
        turn_id=1, emotions=emotions, alliance=AlliancePerception(goals=goals, tasks=tasks, bond=bond), move=move
    )


def test_a_reading_that_matches_the_hidden_state_scores_one() -> None:
    score = score_reading(_reading([Emotion.frustration, Emotion.anxiety], 2, 1, 3, Move.withdrawal), HIDDEN)
    assert (score.emotions, score.alliance, score.move, score.overall) == (1.0, 1.0, 1.0, 1.0)


def test_each_part_is_scored_on_its_own() -> None:
    # One emotion of three named in all; alliance off by 5, 0 and 0 points (mean 5/3 of 6); the wrong move.
    score = score_reading(_reading([Emotion.anxiety, Emotion.sadness], 7, 1, 3, Move.confrontation), HIDDEN)
    assert score.emotions == pytest.approx(1 / 3)
    assert score.alliance == pytest.approx(1 - 5 / 18)
    assert score.move == 0.0
    assert score.overall == pytest.approx((1 / 3 + 13 / 18 + 0) / 3)


def test_naming_no_emotion_when_she_felt_some_scores_zero_on_emotions() -> None:
    assert score_reading(_reading([], 2, 1, 3, Move.withdrawal), HIDDEN).emotions == 0.0


def test_a_reading_outside_the_scales_is_refused() -> None:
    with pytest.raises(ValidationError):
        _reading([Emotion.anxiety], 0, 1, 3, Move.none)
    with pytest.raises(ValidationError):
        PatientReading.model_validate(
            {"turn_id": 1, "emotions": ["joy"], "alliance": {"goals": 1, "tasks": 1, "bond": 1}, "move": "none"}
        )


def test_readings_are_kept_with_the_visit_and_old_rows_still_load() -> None:
    view = VisitState(readings=[_reading([Emotion.anxiety, Emotion.anxiety], 2, 2, 2, Move.none)])
    again = VisitState.from_json(view.to_json())
    assert again.readings == view.readings and again.readings[0].emotions == [Emotion.anxiety]
    assert VisitState.from_json('{"ended": true}').readings == []


def test_a_damaged_reading_loses_itself_never_the_others_nor_the_visit() -> None:
    good = PatientReading(
        turn_id=1, emotions=[Emotion.anxiety], alliance=AlliancePerception(goals=2, tasks=2, bond=2), move=Move.none
    )
    raw = VisitState(ended=True, readings=[good]).model_dump(mode="json")
    raw["readings"].append({"turn_id": 3, "emotions": ["joy"], "alliance": {}, "move": "none"})
    raw["branches"] = [{"broken": True}]

    state = VisitState.from_json(json.dumps(raw))

    assert state.ended and state.readings == [good]
