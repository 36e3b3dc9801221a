"""In the app: End the visit (the debrief, its plot and links), Try again from here (branching,
from the action and from an edited message), and the review pages with their access rule."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import chainlit as cl
import chainlit.data
import pytest
from chainlit.chat_context import chat_context
from chainlit.user import User

from agent.domain.events import AllianceEvent
from agent.domain.taxonomy import EventKind, RuptureType, Speaker
from agent.domain.visit import VisitState
from agent.i18n.catalog import t
from agent.web import keeping, replies, sockets
from tests.support.chainlit_harness import LEARNER, MARKER, Harness, browser_tab, data_layer, drain
from tests.support.storage import make_rich_session
from tests.support.web_client import Web, make_session

pytestmark = pytest.mark.filterwarnings("ignore:coroutine 'chat_profiles' was never awaited:RuntimeWarning")

SECOND = "Trois mois, c'est non. Vous retournez au travail lundi."
RETRY = "Je comprends que trois mois vous semblent nécessaires. Qu'est-ce qui vous inquiète ?"


def _user_message(text: str, message_id: str | None = None) -> cl.Message:
    message = cl.Message(content=text, author="User", type="user_message")
    if message_id:
        message.id = message_id
    chat_context.add(message)  # as Chainlit's emitter does for a message the browser sent
    return message


async def test_end_the_visit_shows_the_debrief_with_its_plot_and_reveals_the_thoughts_only_then(
    harness: Harness,
) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await app.start()
        await app.on_message(_user_message(LEARNER))
        await app.on_message(_user_message(SECOND))
        await drain()
        before_end = socket.dump()
        await app.on_end_visit(cl.Action(name="end_visit", payload={}))
        at_the_form = socket.dump()  # first, the form to read the patient (issue 15); the learner skips it
        await app.on_skip_reading(cl.Action(name="skip_reading", payload={}))
        await app.on_message(_user_message("Encore une chose ?"))

    assert MARKER not in before_end  # hidden during the visit
    assert MARKER not in at_the_form and "PatientReading" in at_the_form
    debriefs = [m for m in socket.of("new_message") if m["output"].startswith(f"**{t('ui.debrief_intro', 'fr')}")]
    assert len(debriefs) == 1
    text = debriefs[0]["output"]
    assert MARKER in text  # the patient's thought, revealed now
    assert SECOND in text
    assert "/alliance/debrief/" in text and "/alliance/review" in text
    plots = [e for e in socket.of("element") if e.get("type") == "plotly"]
    assert len(plots) == 1 and plots[0]["forId"] == debriefs[0]["id"] and plots[0]["display"] == "inline"
    # After the end, a new message is not sent to the patient.
    assert any(m["output"] == t("ui.visit_over", "fr") for m in socket.of("new_message"))


async def test_try_again_from_here_branches_keeps_the_first_version_and_the_debrief_compares(
    harness: Harness,
) -> None:
    app, socket = harness.app, harness.socket
    alice = await (await data_layer()).create_user(User(identifier="alice"))
    async with browser_tab(socket, user=alice):
        await app.start()
        first_id = str(uuid.uuid4())
        await app.on_message(_user_message(LEARNER, first_id))
        second_id = str(uuid.uuid4())
        await app.on_message(_user_message(SECOND, second_id))
        original = (await drain()).session
        await app.on_retry(cl.Action(name="retry_here", payload={"message": second_id}))
        branched = cl.user_session.get("live").conversation.session
        await app.on_message(_user_message(RETRY))
        await drain()
        await app.on_end_visit(cl.Action(name="end_visit", payload={}))
        await app.on_skip_reading(cl.Action(name="skip_reading", payload={}))
        store = keeping.store()
        stored = await store.read(cl.context.session.thread_id, harness.opening.current_requester())

    assert branched.parent_id == original.id and branched.branch_turn == 2
    assert [t.text for t in branched.turns[:2]] == [LEARNER, original.turns[1].text]
    # The learner's second message and what followed left the screen.
    removed = {r["id"] for r in socket.of("delete_message")}
    assert second_id in removed and first_id not in removed
    assert any(m["output"] == t("ui.retry_done", "fr", turn="2") for m in socket.of("new_message"))
    # Kept: the new branch as the session, the first version among the branches.
    assert stored is not None
    assert [t.text for t in stored.session.turns if t.speaker is Speaker.clinician] == [LEARNER, RETRY]
    assert [b.id for b in stored.view.branches] == [original.id]
    assert SECOND in [t.text for t in stored.view.branches[0].turns]
    debrief = next(
        m["output"] for m in socket.of("new_message") if m["output"].startswith(f"**{t('ui.debrief_intro', 'fr')}")
    )
    assert t("debrief.comparison", "fr") in debrief


async def test_editing_an_earlier_message_branches_from_that_turn(harness: Harness) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await app.start()
        first_id = str(uuid.uuid4())
        await app.on_message(_user_message(LEARNER, first_id))
        await app.on_message(_user_message(SECOND))
        original = (await drain()).session
        # Chainlit's edit_message: the same message id, new words, the later messages removed.
        with sockets.as_edit():
            await app.on_message(_user_message("Bonjour madame, prenez le temps de m'expliquer.", first_id))
        conversation = await drain()

    assert conversation.session.parent_id == original.id and conversation.session.branch_turn == 0
    texts = [t.text for t in conversation.session.turns]
    assert texts[0] == "Bonjour madame, prenez le temps de m'expliquer." and len(texts) == 2
    assert len(original.turns) == 4  # the first version is untouched


async def test_a_kept_and_answered_message_delivered_again_is_not_answered_again(harness: Harness) -> None:
    """The same message reaches this process again, not as an edit (its page was taken over by another process
    while this one waited, and that one answered it): nothing branches, the patient does not answer twice."""
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await app.start()
        first_id = str(uuid.uuid4())
        await app.on_message(_user_message(LEARNER, first_id))
        before = (await drain()).session
        await app.on_message(_user_message(LEARNER, first_id))
        after = await drain()
    assert after.session is before and len(before.turns) == 2 and after.session.parent_id is None


def test_session_view_keeps_branches_through_json() -> None:
    branch = make_rich_session(2)
    view = VisitState(level="coach", unavailable=[1], branches=[branch], message_turns={"m-1": 0, "m-2": 2})
    again = VisitState.from_json(view.to_json())
    assert again.level == "coach" and again.unavailable == [1]
    assert again.message_turns == {"m-1": 0, "m-2": 2}
    assert [b.id for b in again.branches] == [branch.id]
    assert again.branches[0].turns[1].hidden == branch.turns[1].hidden
    assert VisitState.from_json('{"level": "learner"}').branches == []  # rows kept before branches existed


# --------------------------------------------------------------------------- review pages


async def _kept(web: Web, owner: str, ended: bool = True) -> str:
    """A kept session whose patient withdrew on turn 1 (a flagged moment: its thought is in the debrief)."""
    thread_id = str(uuid.uuid4())
    session = make_rich_session(2, marker=f"SECRET-{owner}")
    patient = session.turns[1]
    session.events.append(
        AllianceEvent(
            turn=1,
            speaker=Speaker.patient,
            kind=EventKind.rupture_marker,
            rupture=RuptureType.withdrawal,
            evidence=patient.text.split()[0],
            confidence=0.9,
        )
    )
    await web.layer.sessions.save(thread_id, owner, session, VisitState(ended=ended))
    return thread_id


async def test_review_pages_follow_the_access_rule(web: Web) -> None:
    alice_thread, bob_thread = await _kept(web, "alice"), await _kept(web, "bob")
    alice, prof = await web.login("alice"), await web.login("prof")
    anonymous = web.client()

    assert (await anonymous.get("/alliance/review")).status_code == 401
    assert (await anonymous.get(f"/alliance/debrief/{alice_thread}")).status_code == 401

    page = await alice.get("/alliance/review?lang=en")
    assert page.status_code == 200 and alice_thread in page.text and bob_thread not in page.text
    mine = await alice.get(f"/alliance/debrief/{alice_thread}?lang=en")
    assert mine.status_code == 200 and "SECRET-alice" in mine.text and "<script" not in mine.text
    assert (await alice.get(f"/alliance/debrief/{bob_thread}")).status_code == 403
    assert (await alice.get(f"/alliance/debrief/{uuid.uuid4()}")).status_code == 404

    everyone = await prof.get("/alliance/review")
    assert everyone.status_code == 200 and alice_thread in everyone.text and bob_thread in everyone.text
    markdown = await prof.get(f"/alliance/debrief/{bob_thread}?format=md")
    assert markdown.status_code == 200 and "SECRET-bob" in markdown.text
    assert markdown.headers["content-type"].startswith("text/markdown")
    data = (await prof.get(f"/alliance/debrief/{bob_thread}?format=json")).json()
    assert data["timeline"] and any("SECRET-bob" in (m.get("inner_monologue") or "") for m in data["flagged"])


async def test_a_learner_reads_the_debrief_only_once_the_visit_is_ended(web: Web) -> None:
    ongoing = await _kept(web, "alice", ended=False)
    alice, prof = await web.login("alice"), await web.login("prof")
    refused = await alice.get(f"/alliance/debrief/{ongoing}")
    assert refused.status_code == 403 and "SECRET-alice" not in refused.text
    page = await alice.get("/alliance/review?lang=en")
    assert page.status_code == 200 and "visit in progress" in page.text and f"/debrief/{ongoing}" not in page.text
    # Faculty review a visit in progress too (they are not the one playing it).
    assert "SECRET-alice" in (await prof.get(f"/alliance/debrief/{ongoing}")).text


async def test_a_session_without_turns_of_its_own_still_debriefs(web: Web) -> None:
    thread_id = str(uuid.uuid4())
    await web.layer.sessions.save(thread_id, "alice", make_session(), VisitState(ended=True))
    alice = await web.login("alice")
    response = await alice.get(f"/alliance/debrief/{thread_id}")
    assert response.status_code == 200


# --------------------------------------------------------------------------- the persona library, live


async def test_new_and_broken_persona_files_show_up_without_a_restart(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, socket = harness.app, harness.socket
    library = tmp_path / "personas"
    library.mkdir()
    shutil.copy(app.settings.personas_dir / "bertrand.fr.yaml", library / "bertrand.fr.yaml")
    monkeypatch.setattr(app.settings, "personas_dir", library)
    assert [p.name for p in await app.chat_profiles(None)] == ["bertrand.fr"]
    # A faculty member drops two files in the folder while the app runs.
    shutil.copy(app.settings.personas_dir / "bertrand.fr.yaml", library / "dupont.fr.yaml")
    (library / "broken.fr.yaml").write_text("language: fr\nfears: [\n", encoding="utf-8")
    assert [p.name for p in await app.chat_profiles(None)] == ["bertrand.fr", "dupont.fr"]
    async with browser_tab(socket, profile="dupont.fr"):
        await app.start()
    listing = next(m["output"] for m in socket.of("new_message") if t("ui.broken_personas", "fr") in m["output"])
    assert "broken.fr.yaml:3: YAML syntax" in listing


async def test_editing_a_message_after_a_restart_still_branches(harness: Harness) -> None:
    from chainlit.socket import persist_user_session, resume_thread

    from tests.support.chainlit_harness import FakeSocket, close_data_layer

    app, socket = harness.app, harness.socket
    alice = await (await data_layer()).create_user(User(identifier="alice"))
    first_id = str(uuid.uuid4())
    async with browser_tab(socket, user=alice) as tab:
        thread_id = tab.thread_id
        await app.start()
        for message_id, text in ((first_id, LEARNER), (str(uuid.uuid4()), SECOND)):
            # As Chainlit's socket handler delivers it: kept as a step (so the thread exists), then on_message.
            payload: Any = {
                "message": {
                    "id": message_id,
                    "type": "user_message",
                    "output": text,
                    "createdAt": "2026-01-01T00:00:00Z",
                },
                "fileReferences": [],
            }
            payload["message"]["threadId"] = thread_id
            await app.on_message(await cl.context.emitter.process_message(payload))
        original = (await drain()).session
        await persist_user_session(thread_id, tab.to_persistable())

    await close_data_layer()  # a new server process: nothing in memory survives
    chainlit.data._data_layer = None
    chainlit.data._data_layer_initialized = False
    async with browser_tab(FakeSocket(), user=alice, thread_id=thread_id) as tab:
        thread = await resume_thread(tab)
        assert thread is not None
        await app.resume(thread)
        with sockets.as_edit():
            await app.on_message(_user_message("Bonjour madame, je vous écoute.", first_id))
        conversation = await drain()

    assert conversation.session.parent_id == original.id and conversation.session.branch_turn == 0
    assert conversation.session.turns[0].text == "Bonjour madame, je vous écoute."


async def test_try_again_trusts_only_the_server_s_own_record_of_the_message(harness: Harness) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await app.start()
        await app.on_message(_user_message(LEARNER))
        await app.on_message(_user_message(SECOND))
        before = (await drain()).session
        # A forged or stale payload: an unknown message id, or a turn of the client's choosing.
        await app.on_retry(cl.Action(name="retry_here", payload={"message": str(uuid.uuid4()), "turn": 1}))
        await app.on_retry(cl.Action(name="retry_here", payload={"turn": 0}))
        after = cl.user_session.get("live").conversation.session
        visit = cl.user_session.get("live").visit

    assert after is before and visit.branches == []
    assert socket.of("delete_message") == []


async def test_late_monitor_results_of_a_branch_left_behind_change_nothing(harness: Harness) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await app.start()
        first_id = str(uuid.uuid4())
        await app.on_message(_user_message(LEARNER, first_id))
        old = (await drain()).session
        old_sink = replies.events_sink(old)
        with sockets.as_edit():  # edited: a new branch
            await app.on_message(_user_message("Bonjour, reprenons.", first_id))
        await drain()
        monitors_before = len(socket.of("set_sidebar_elements"))
        await old_sink(0, None)  # the old branch's evaluator fails late on turn 0
        visit = cl.user_session.get("live").visit

    assert visit.unavailable == []
    assert len(socket.of("set_sidebar_elements")) == monitors_before


async def test_a_removed_user_s_login_no_longer_opens_the_review_pages(web: Web) -> None:
    from agent.storage.users import read_users_file, write_users_file

    thread = await _kept(web, "alice")
    alice = await web.login("alice")
    assert (await alice.get(f"/alliance/debrief/{thread}")).status_code == 200
    accounts = read_users_file(web.users_file)
    accounts.pop("alice")
    write_users_file(web.users_file, accounts)  # `alliance users remove alice`
    assert (await alice.get(f"/alliance/debrief/{thread}")).status_code == 401
    assert (await alice.get("/alliance/review")).status_code == 401
