"""Page → thread records, read by another process when a page's own process is gone (agent.web.failover)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text

from agent.config import Settings
from agent.domain.session import Session
from agent.domain.visit import VisitState
from agent.storage.access import Requester
from agent.storage.sessions import database_url, make_engine
from agent.storage.tabs import KEEP, TABS_TABLE, PageRecord, TabThreads
from agent.web import failover
from agent.web.failover import adopt_known_page, kept_already, known_page, unkept_message
from tests.support.storage import DATABASES, POSTGRES_URL, drop_tables, make_rich_session

THREAD = "0b7c5a7e-3a52-4c6e-9f0e-4d1c2b3a4f51"
OTHER = "0b7c5a7e-3a52-4c6e-9f0e-4d1c2b3a4f52"


@pytest.fixture(params=DATABASES)
async def tabs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TabThreads]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'alliance.db'}"
    else:
        url = database_url(Settings(_env_file=None, DATABASE_URL=POSTGRES_URL))  # type: ignore[call-arg]
        await drop_tables(url)
    engine = make_engine(url)
    yield TabThreads(engine)
    await engine.dispose()


async def test_a_page_record_names_its_thread_and_owner_and_a_later_record_replaces_it(tabs: TabThreads) -> None:
    await tabs.remember("page-1", THREAD, "alice")
    assert await tabs.page("page-1") == PageRecord(THREAD, "alice")  # the caller compares the owner (failover)
    assert await tabs.page("page-2") is None
    await tabs.remember("page-1", OTHER, "alice")  # the page went on to another thread
    assert await tabs.page("page-1") == PageRecord(OTHER, "alice")


async def test_records_older_than_the_keep_period_are_ignored_then_removed(tabs: TabThreads) -> None:
    await tabs.remember("old-page", THREAD, "alice")
    stale = (datetime.now(UTC) - KEEP * 2).isoformat()
    async with tabs.engine.begin() as conn:
        await conn.execute(text(f'UPDATE {TABS_TABLE} SET "updated_at" = :at'), {"at": stale})
    assert await tabs.page("old-page") is None
    await tabs.remember("new-page", OTHER, "alice")
    async with tabs.engine.connect() as conn:
        pages = [row[0] for row in (await conn.execute(text(f'SELECT "page_id" FROM {TABS_TABLE}'))).all()]
    assert pages == ["new-page"]


def _socket_session(**values: Any) -> Any:
    defaults: dict[str, Any] = {"id": "socket-1", "restored": False, "thread_id_to_resume": None, "thread_id": "fresh"}
    defaults["user"] = SimpleNamespace(identifier="alice")
    return SimpleNamespace(**(defaults | values))


async def test_a_new_socket_of_a_known_page_is_set_to_resume_its_thread(tabs: TabThreads) -> None:
    await tabs.remember("page-1", THREAD, "alice")
    assert await tabs.page("page-1") == PageRecord(THREAD, "alice")
    session = _socket_session()
    assert adopt_known_page(session, await known_page("page-1", tabs))
    assert session.thread_id == THREAD and session.thread_id_to_resume == THREAD
    assert await known_page("page-2", tabs) is None
    assert await known_page("", tabs) is None


@pytest.mark.parametrize(
    "values",
    [
        {"restored": True},  # this process still has the page: Chainlit's own restore
        {"thread_id_to_resume": OTHER},  # the page named its thread itself (Chainlit checks its author)
        {"user": SimpleNamespace(identifier="bob")},  # another user presenting alice's page id
        {"user": None},
    ],
)
async def test_other_sockets_are_left_as_chainlit_made_them(tabs: TabThreads, values: dict[str, Any]) -> None:
    await tabs.remember("page-1", THREAD, "alice")
    session = _socket_session(**values)
    before = dict(vars(session))
    assert not adopt_known_page(session, await known_page("page-1", tabs))
    assert vars(session) == before


def _steps(*texts: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [{"id": "brief", "type": "assistant_message", "output": "Brief"}]
    steps += [{"id": f"m{i}", "type": "user_message", "output": text} for i, text in enumerate(texts)]
    return steps


def test_a_message_on_the_page_that_the_kept_session_lacks_is_found() -> None:
    session, visit = make_rich_session(2), VisitState()
    learner = [t.text for t in session.turns if t.speaker.value == "clinician"]
    assert unkept_message(_steps(*learner), session, visit, 2000) is None
    assert unkept_message(_steps(*learner, "Et demain ?"), session, visit, 2000) == ("m2", "Et demain ?")
    assert unkept_message(_steps(*learner, "x" * 2001), session, visit, 2000) is None  # refused anyway: too long
    assert unkept_message(_steps(*learner, "  "), session, visit, 2000) is None
    fresh = Session(persona_id="p", language="fr", llm="fake")
    assert unkept_message(_steps("Bonjour"), fresh, visit, 2000) == ("m0", "Bonjour")
    assert unkept_message([], session, visit, 2000) is None


def test_the_same_words_sent_again_as_a_new_message_are_a_new_turn() -> None:
    """The learner said "Oui", it was kept (with its message's id), and said "Oui" again just before the process
    died: that second message is not kept yet. A turn kept without its message's id is compared by its words."""
    session = make_rich_session(1)
    session.add_learner_turn("Oui")
    last = session.turns[-1]
    assert unkept_message(_steps("Oui", "Oui"), session, VisitState(message_turns={"m0": last.id}), 2000) == (
        "m1",
        "Oui",
    )
    assert unkept_message(_steps("Oui"), session, VisitState(message_turns={"m0": last.id}), 2000) is None
    assert unkept_message(_steps("Oui"), session, VisitState(), 2000) is None  # no id kept: the same words


def test_an_answered_message_is_kept_even_when_chainlit_lost_the_later_ones() -> None:
    """The old process died before Chainlit wrote the last turns' steps: the page's last message is an older,
    answered one. It is kept (by its id), not kept again because it differs from the last learner turn."""
    session = make_rich_session(2)
    learner = [t for t in session.turns if t.speaker.value == "clinician"]
    visit = VisitState(message_turns={"m0": learner[0].id})
    assert unkept_message(_steps(learner[0].text), session, visit, 2000) is None
    assert unkept_message(_steps(learner[0].text), session, VisitState(), 2000) == ("m0", learner[0].text)


def test_a_message_a_resume_kept_is_recognised_when_it_reaches_on_message() -> None:
    session = make_rich_session(2)
    view = VisitState()
    turn = session.add_learner_turn("Et demain ?")
    view.record("m2", turn.id)
    assert kept_already(session, view, "m2", "Et demain ?")
    assert not kept_already(session, view, "m2", "Et après-demain ?")  # an edit: another text
    assert not kept_already(session, view, "m3", "Et demain ?")  # another message with the same words
    session.add_patient_turn("Je ne sais pas.", session.turns[1].hidden)  # type: ignore[arg-type]
    assert not kept_already(session, view, "m2", "Et demain ?")  # answered now: the same words again are an edit
    view.record("m0", 0)
    assert not kept_already(session, view, "m0", session.turns[0].text)  # an earlier turn: an edit, not this


async def test_another_user_cannot_repoint_a_page_they_do_not_own(tabs: TabThreads) -> None:
    await tabs.remember("page-1", THREAD, "alice")
    await tabs.remember("page-1", OTHER, "bob")  # bob presents alice's page id
    assert await tabs.page("page-1") == PageRecord(THREAD, "alice")  # still alice's, still her thread


def test_an_answered_turn_edited_to_the_same_words_is_an_edit_not_a_kept_message() -> None:
    session = make_rich_session(1)
    view = VisitState()
    view.record("m0", session.turns[0].id)
    assert not kept_already(session, view, "m0", session.turns[0].text)  # answered: an edit, it branches


class _Layer:
    def __init__(self) -> None:
        self.written: list[tuple[str, str | None]] = []

    async def update_thread(self, thread_id: str, user_id: str | None = None) -> None:
        self.written.append((thread_id, user_id))

    async def get_thread(self, thread_id: str) -> dict[str, Any]:
        return {"id": thread_id, "steps": []}


class _Store:
    async def read(self, thread_id: str, requester: Requester) -> Any:
        return SimpleNamespace(owner="lea") if thread_id == THREAD else None


@pytest.mark.parametrize(("who", "taken"), [(Requester("lea", "learner"), True), (Requester("dean", "faculty"), False)])
async def test_a_kept_session_without_its_thread_is_taken_over_by_its_owner_only(
    monkeypatch: pytest.MonkeyPatch, who: Requester, taken: bool
) -> None:
    """Faculty may read a learner's kept session, but a socket of theirs naming that thread must not become its
    author (Chainlit's thread is written for whoever takes it over)."""
    layer = _Layer()
    socket_session = SimpleNamespace(thread_id=THREAD, thread_id_to_resume=THREAD, has_first_interaction=False)
    monkeypatch.setattr(failover, "cl", SimpleNamespace(context=SimpleNamespace(session=socket_session)))
    monkeypatch.setattr(failover, "get_data_layer", lambda: layer)
    user = SimpleNamespace(id="user-id", identifier=who.identifier)
    thread = await failover.kept_without_its_thread(_Store(), who, user)  # type: ignore[arg-type]
    assert (thread is not None) is taken
    assert layer.written == ([(THREAD, "user-id")] if taken else [])
