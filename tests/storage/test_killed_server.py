"""Keeping sessions through a crash: the real app (`chainlit run`) on the fake model, killed with SIGKILL
mid-visit, then restarted: no turn is lost, the login still works, the visit resumes where it was.
"""

from __future__ import annotations

import stat
from pathlib import Path

from tests.support.live_app import FAKE_MONOLOGUE, Tab, kept_session, learner_tab, wait_for_turns
from tests.support.storage import chainlit_cells_with


async def test_a_killed_server_loses_no_turn_and_the_visit_resumes_with_the_same_login(tmp_path: Path) -> None:
    async with learner_tab(tmp_path) as (app, token, tab):
        db = app.data_dir / "alliance.db"
        await tab.say("Bonjour Madame Bertrand, comment allez-vous ?")
        await tab.say("Qu'est-ce qui vous inquiète le plus ?")
        first = await wait_for_turns(db, 4)
        thread_id, _ = kept_session(db)
        app.kill()  # the socket drops with the server; no disconnect handler runs
        await tab.client.disconnect()
        assert stat.S_IMODE((app.data_dir / "chainlit_auth_secret").stat().st_mode) == 0o600

        await app.start()
        tab = Tab()
        await tab.open(app, token, thread_id)  # the login from before the crash still works
        resumed = [d for e, d in tab.events if e == "resume_thread"]
        assert resumed and [s["output"] for s in resumed[0]["steps"] if s["type"] == "user_message"] == [
            "Bonjour Madame Bertrand, comment allez-vous ?",
            "Qu'est-ce qui vous inquiète le plus ?",
        ]
        await tab.say("Et le travail, comment ça se passe ?")
        final = await wait_for_turns(db, 6)
        await tab.client.disconnect()

    assert [t.text for t in final.turns[:4]] == [t.text for t in first.turns[:4]]
    assert final.id == first.id and final.turns[4].text == "Et le travail, comment ça se passe ?"
    assert [t.hidden is not None for t in final.turns] == [False, True] * 3
    assert all(t.hidden.inner_monologue == FAKE_MONOLOGUE for t in final.turns if t.hidden is not None)
    assert FAKE_MONOLOGUE not in tab.sent()
    assert chainlit_cells_with(db, FAKE_MONOLOGUE) == []
    assert chainlit_cells_with(db, "Et le travail, comment ça se passe ?")  # the scan sees the visible turns
