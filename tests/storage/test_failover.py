"""Two app processes on one database: the process serving a page dies mid-reply (SIGKILL), the page reconnects to
the other one with the same page id, and the visit goes on there: the kept turns are shown again, the learner's
unanswered turn is answered, nothing is lost or doubled (agent/web/failover.py). `make scale-test` does the same
with HAProxy, PostgreSQL and 200 learners."""

from __future__ import annotations

from pathlib import Path

from agent.devtools.loadtest import running, serve_stub, stub_env
from agent.domain.taxonomy import Speaker
from agent.storage.users import Account, hash_password, write_users_file
from tests.support.live_app import LiveApp, Tab, kept_session, wait_for_turns

FIRST = "Bonjour Madame Bertrand, comment allez-vous ?"
SECOND = "Qu'est-ce qui vous inquiète le plus ?"
THIRD = "Et le travail, comment ça se passe ?"
PATIENT_S = 4.0  # the stub patient's answer time: the window in which the first process is killed


async def test_a_page_whose_process_dies_mid_reply_goes_on_in_another_process(tmp_path: Path) -> None:
    write_users_file(tmp_path / "users.toml", {"alice": Account("alice", "learner", hash_password("alice-pass-1"))})
    with running(serve_stub(tmp_path / "stub.log", "--latency", f"patient_turn={PATIENT_S}")) as stub:
        llm = stub_env(stub, tmp_path / "data")
        first, second = LiveApp(tmp_path, "first", llm), LiveApp(tmp_path, "second", llm)
        db = first.data_dir / "alliance.db"
        try:
            await first.start()
            await second.start()
            token = await first.login("alice", "alice-pass-1")
            tab = Tab()
            await tab.open(first, token)
            await tab.say(FIRST)
            await tab.send(SECOND)
            await wait_for_turns(db, 3)  # the learner's second turn is kept; the patient is still thinking
            first.kill()
            await tab.client.disconnect()

            again = Tab(tab.page_id)  # the same page, reconnected through the balancer to the other process
            await again.open(second, token)
            resumed = [d for e, d in again.events if e == "resume_thread"]
            assert resumed, f"the other process did not resume the page: {[e for e, _ in again.events]}"
            shown = [s["output"] for s in resumed[0]["steps"] if s["type"] == "user_message"]
            assert shown == [FIRST, SECOND]
            await again.wait_for(lambda: again.task_ends >= 2, timeout=120)  # the resume, then the answer
            answered = await wait_for_turns(db, 4)
            await again.say(THIRD)
            final = await wait_for_turns(db, 6)
            await again.client.disconnect()
        finally:
            first.kill()
            second.kill()

    thread_id, _ = kept_session(db)
    assert [(t.speaker, t.text) for t in final.turns if t.speaker is Speaker.clinician] == [
        (Speaker.clinician, FIRST),
        (Speaker.clinician, SECOND),
        (Speaker.clinician, THIRD),
    ]
    assert [t.speaker for t in final.turns] == [Speaker.clinician, Speaker.patient] * 3
    assert answered.turns[3].text == final.turns[3].text  # the answer the second process gave to the kept turn
    assert any(
        d.get("output") == final.turns[3].text for e, d in again.events if e in ("new_message", "update_message")
    )
    assert thread_id
