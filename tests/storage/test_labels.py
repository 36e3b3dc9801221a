"""The faculty's labels and consensus labels, kept in the database: SQLite always, PostgreSQL when one is given."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.config import Settings
from agent.domain.annotation import TurnAnnotation
from agent.domain.taxonomy import Speaker
from agent.storage.access import AccessDenied, Requester
from agent.storage.labels import LabelStore
from agent.storage.sessions import SessionStore, database_url, make_engine
from tests.support.storage import DATABASES, POSTGRES_URL, drop_tables, make_rich_session

THREAD = "0b7c5a7e-3a52-4c6e-9f0e-4d1c2b3a4f50"
ANN = Requester("ann", "faculty")
BEN = Requester("ben", "faculty")
LEARNER = Requester("lea", "learner")


@pytest.fixture(params=DATABASES)
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[SessionStore, LabelStore]]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'alliance.db'}"
    else:
        url = database_url(Settings(_env_file=None, DATABASE_URL=POSTGRES_URL))  # type: ignore[call-arg]
        await drop_tables(url)
    engine = make_engine(url)
    sessions, labels = SessionStore(engine), LabelStore(engine)
    await sessions.save(THREAD, "lea", make_rich_session(2))
    yield sessions, labels
    await engine.dispose()


def _label(turn: int, label: str, evidence: str = "") -> TurnAnnotation:
    party = Speaker.patient if label in ("withdrawal", "confrontation") else None
    return TurnAnnotation(turn_id=turn, label=label, party=party, evidence=evidence)


async def test_each_rater_keeps_their_own_labels_and_saving_again_replaces_them(
    stores: tuple[SessionStore, LabelStore],
) -> None:
    _, labels = stores
    await labels.save(THREAD, ANN, [_label(0, "exploratory"), _label(1, "withdrawal", "Réponse 0")])
    await labels.save(THREAD, BEN, [_label(1, "none")])
    await labels.save(THREAD, ANN, [_label(1, "confrontation")])  # turn 0 left out: no longer labelled by ann
    ratings = await labels.ratings(THREAD, BEN)
    assert {r: {t: a.label for t, a in given.items()} for r, given in ratings.items()} == {
        "ann": {1: "confrontation"},
        "ben": {1: "none"},
    }
    assert ratings["ann"][1].party is Speaker.patient


async def test_a_consensus_is_recorded_once_per_turn_and_can_be_changed(
    stores: tuple[SessionStore, LabelStore],
) -> None:
    _, labels = stores
    await labels.decide(THREAD, ANN, _label(1, "withdrawal"))
    await labels.decide(THREAD, BEN, _label(1, "confrontation"))
    consensus = await labels.consensus(THREAD, ANN)
    assert list(consensus) == [1] and consensus[1].label == "confrontation"
    assert await labels.labelled_threads(ANN) == [THREAD]


async def test_learners_can_neither_read_nor_write_labels(stores: tuple[SessionStore, LabelStore]) -> None:
    _, labels = stores
    await labels.save(THREAD, ANN, [_label(0, "none")])
    for attempt in (
        labels.ratings(THREAD, LEARNER),
        labels.save(THREAD, LEARNER, [_label(0, "none")]),
        labels.decide(THREAD, LEARNER, _label(0, "none")),
        labels.consensus(THREAD, LEARNER),
        labels.labelled_threads(LEARNER),
    ):
        with pytest.raises(AccessDenied):
            await attempt
    assert list((await labels.ratings(THREAD, ANN))["ann"]) == [0]  # untouched


async def test_deleting_a_session_takes_its_labels_along(stores: tuple[SessionStore, LabelStore]) -> None:
    sessions, labels = stores
    await labels.save(THREAD, ANN, [_label(0, "none")])
    await labels.decide(THREAD, ANN, _label(0, "none"))
    await sessions.delete(THREAD)
    assert await labels.ratings(THREAD, ANN) == {} and await labels.consensus(THREAD, ANN) == {}
