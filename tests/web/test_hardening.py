"""Hostile or malformed input at the web edge (issue 12): each test is named after the item it covers."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import chainlit as cl
import pytest
from chainlit.chat_context import chat_context
from chainlit.user import PersistedUser, User

from agent.config import REPO_ROOT
from agent.domain.session import Session
from agent.i18n.catalog import number, t
from agent.storage.sessions import SESSIONS_TABLE
from tests.support.chainlit_harness import Harness, browser_tab, data_layer, drain

pytestmark = pytest.mark.filterwarnings("ignore:coroutine 'chat_profiles' was never awaited:RuntimeWarning")


def _user_message(text: str) -> cl.Message:
    message = cl.Message(content=text, author="User", type="user_message")
    chat_context.add(message)  # as Chainlit's emitter does for a message the browser sent
    return message


async def test_9_a_lone_surrogate_or_a_nul_in_a_message_never_poisons_the_visit(harness: Harness) -> None:
    app, socket = harness.app, harness.socket
    alice = await (await data_layer()).create_user(User(identifier="alice"))
    assert isinstance(alice, PersistedUser)
    async with browser_tab(socket, user=alice):
        await app.start()
        await app.on_message(_user_message("Bonjour \ud800 madame\x00 Bertrand\x1b[2J\x07"))
        await drain()
        await app.on_message(_user_message("Comment allez-vous ?"))
        await drain()
        await app.on_end_visit(cl.Action(name="end_visit", payload={}))
        assert cl.user_session.get("live").visit.ended

    failed = t("ui.patient_failed", "fr", reason="x").split("(")[0]
    assert not [m for m in socket.of("new_message") if m["output"].startswith(failed)]
    assert not [m for m in socket.of("new_message") if m["output"] == t("ui.not_saved", "fr")]
    with sqlite3.connect(harness.db_path) as conn:
        (kept,) = conn.execute(f"SELECT session_json FROM {SESSIONS_TABLE}").fetchone()
    turns = Session.from_json(kept).turns
    assert [turn.text for turn in turns[::2]] == ["Bonjour \ufffd madame Bertrand[2J", "Comment allez-vous ?"]
    assert all(turn.text for turn in turns[1::2])  # the patient answered both


async def test_15_a_one_megabyte_message_gets_a_clear_notice_and_the_visit_goes_on(harness: Harness) -> None:
    import chainlit.server

    app, socket = harness.app, harness.socket
    assert chainlit.server.sio.eio.max_http_buffer_size > 2_000_000  # the socket no longer drops at 1 MB
    alice = await (await data_layer()).create_user(User(identifier="alice"))
    async with browser_tab(socket, user=alice):
        await app.start()
        await app.on_message(_user_message("x" * 1_000_000))
        await app.on_message(_user_message("Bonjour madame."))
        await drain()
        conversation = cl.user_session.get("live").conversation
        assert [turn.text for turn in conversation.session.turns[::2]] == ["Bonjour madame."]
    limit = app.settings.max_message_chars
    notices = [m for m in socket.of("new_message") if m["output"].startswith("Votre message est trop long")]
    assert len(notices) == 1 and number(limit, "fr") in notices[0]["output"]


async def test_7_persona_load_errors_show_learners_file_names_not_server_paths(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    library = tmp_path / "srv" / "secret-folder" / "personas"
    library.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "personas" / "bertrand.fr.yaml", library)
    (library / "broken.fr.yaml").write_text("display_name: [unclosed\n", encoding="utf-8")
    monkeypatch.setattr(harness.app.settings, "personas_dir", library)
    alice = await (await data_layer()).create_user(User(identifier="alice"))
    async with browser_tab(harness.socket, user=alice):
        await harness.app.start()
    listing = next(m["output"] for m in harness.socket.of("new_message") if "broken.fr.yaml" in m["output"])
    assert "secret-folder" not in listing and str(tmp_path) not in listing
    assert "`broken.fr.yaml:" in listing  # the file and the line a faculty member can fix


async def test_19_the_default_patient_follows_the_browsers_language(harness: Harness) -> None:
    for browser, language in (("fr-CA", "fr"), ("fr", "fr"), ("en-US", "en"), ("de-DE", "en")):
        profiles = await harness.app.chat_profiles(None, browser)
        (default,) = [p for p in profiles if p.default]
        assert default.name.endswith(f".{language}"), (browser, default.name)
