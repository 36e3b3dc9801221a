"""Access through Chainlit's own HTTP API (issue 12): each test is named after the item it covers."""

from __future__ import annotations

from tests.support.web_client import Web


async def test_4_a_feedback_row_of_another_learner_cannot_be_moved_or_overwritten(web: Web) -> None:
    alice, bob = await web.login("alice"), await web.login("bob")
    a_thread, a_step = await web.thread_of("alice", "Alice's visit")
    b_thread, b_step = await web.thread_of("bob", "Bob's visit")
    given = await bob.put(
        "/feedback", json={"feedback": {"forId": b_step, "value": 1, "comment": "bob's"}, "sessionId": "x"}
    )
    assert given.status_code == 200, given.text
    bobs = given.json()["feedbackId"]

    hijack = {"feedback": {"id": bobs, "forId": a_step, "value": 0, "comment": "alice's now"}, "sessionId": "x"}
    refused = await alice.put("/feedback", json=hijack)

    assert refused.status_code != 200 and "author" in refused.text  # Chainlit answers our refusal as an error
    rows = await web.layer.execute_sql('SELECT "forId" AS step, "threadId" AS t, comment FROM feedbacks', {})
    assert rows == [{"step": b_step, "t": b_thread, "comment": "bob's"}]  # untouched
    own = {"feedback": {"forId": a_step, "value": 0, "comment": "mine"}, "sessionId": "x"}
    assert (await alice.put("/feedback", json=own)).status_code == 200  # her own feedback still works
    assert a_thread


async def test_5_sharing_a_thread_is_refused_when_sharing_is_off(web: Web) -> None:
    alice, bob = await web.login("alice"), await web.login("bob")
    thread, _ = await web.thread_of("alice", "Alice's visit")

    shared = await alice.put("/project/thread/share", json={"threadId": thread, "isShared": True})

    assert shared.status_code == 403
    assert (await bob.get(f"/project/share/{thread}")).status_code == 404
    assert (await web.client().get(f"/project/share/{thread}")).status_code in (401, 404)
