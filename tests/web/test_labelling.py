"""Faculty label a kept session blind, then see the agreement (with one another and the monitor) and record a
consensus; learners and strangers see none of it."""

from __future__ import annotations

import uuid

import pytest

from agent.domain.taxonomy import Speaker
from agent.domain.visit import VisitState
from agent.storage.access import Requester
from agent.storage.labels import LabelStore
from tests.support.storage import flagged_rich_session
from tests.support.web_client import Web

pytestmark = pytest.mark.filterwarnings("ignore:coroutine 'chat_profiles' was never awaited:RuntimeWarning")

# Turns: 0 "Bonjour, question 0 ?", 1 "Réponse 0.", 2 "Bonjour, question 1 ?", 3 "Réponse 1."
PROF = {
    "label_0": "exploratory",
    "label_1": "withdrawal",
    "evidence_1": "réponse 0",
    "label_2": "none",
    "label_3": "none",
}
DEAN = {"label_0": "exploratory", "label_1": "confrontation", "label_2": "none", "label_3": "none"}


async def _kept(web: Web) -> str:
    thread_id = str(uuid.uuid4())
    session = flagged_rich_session()
    await web.layer.sessions.save(thread_id, "alice", session, VisitState(ended=True))
    return thread_id


async def test_only_faculty_label_and_see_agreement(web: Web) -> None:
    thread = await _kept(web)
    alice = await web.login("alice")
    for path in (f"/alliance/label/{thread}", f"/alliance/agreement/{thread}"):
        assert (await web.client().get(path)).status_code == 401
        assert (await alice.get(path)).status_code == 403
    assert (await alice.post(f"/alliance/label/{thread}", data=DEAN)).status_code == 403
    prof = await web.login("prof")
    assert (await prof.get(f"/alliance/label/{uuid.uuid4()}")).status_code == 404
    review = await prof.get("/alliance/review?lang=en")
    assert f"/alliance/label/{thread}" in review.text and f"/alliance/agreement/{thread}" in review.text
    assert "/alliance/label/" not in (await alice.get("/alliance/review?lang=en")).text


async def test_labelling_is_blind_and_saving_leads_to_the_agreement_with_the_monitor(web: Web) -> None:
    thread = await _kept(web)
    prof = await web.login("prof")
    page = await prof.get(f"/alliance/label/{thread}?lang=en")
    assert page.status_code == 200 and "Réponse 0." in page.text
    assert "Monitor" not in page.text and "<script" not in page.text
    before = await prof.get(f"/alliance/agreement/{thread}?lang=en")
    assert "once you have labelled this session yourself" in before.text and "Withdrawal" not in before.text

    saved = await prof.post(f"/alliance/label/{thread}?lang=en", data=PROF)
    assert saved.status_code == 303 and saved.headers["location"].startswith(f"/alliance/agreement/{thread}")
    after = await prof.get(f"/alliance/agreement/{thread}?lang=en")
    assert "Only one rater so far" in after.text
    assert (
        "Each rater, and the consensus, with the monitor" in after.text
        and "<td>prof</td><td>Monitor</td>" in after.text
    )
    again = await prof.get(f"/alliance/label/{thread}?lang=en")
    assert "<option value='withdrawal' selected>" in again.text and "value='Réponse 0'" in again.text
    stored = await LabelStore(web.layer.engine).ratings(thread, Requester("prof", "faculty"))
    assert {t: a.label for t, a in stored["prof"].items()} == {0: "exploratory", 1: "withdrawal", 2: "none", 3: "none"}
    assert stored["prof"][1].evidence == "Réponse 0" and stored["prof"][1].party is Speaker.patient


async def test_evidence_not_in_the_turn_saves_nothing_and_keeps_what_was_typed(web: Web) -> None:
    thread = await _kept(web)
    prof = await web.login("prof")
    refused = await prof.post(f"/alliance/label/{thread}?lang=en", data={**PROF, "evidence_1": "je m'en vais"})
    assert refused.status_code == 422
    assert "Nothing was saved" in refused.text and "These words are not in the turn" in refused.text
    assert "value='je m&#39;en vais'" in refused.text and "<option value='exploratory' selected>" in refused.text
    assert await LabelStore(web.layer.engine).ratings(thread, Requester("prof", "faculty")) == {}


async def test_two_raters_get_kappa_and_their_disagreement_takes_a_consensus(web: Web) -> None:
    thread = await _kept(web)
    prof, dean = await web.login("prof"), await web.login("dean")
    await prof.post(f"/alliance/label/{thread}", data=PROF)
    await dean.post(f"/alliance/label/{thread}", data=DEAN)
    page = await dean.get(f"/alliance/agreement/{thread}?lang=en")
    assert (
        "Cohen&#39;s kappa" in page.text
        and "<td>dean</td><td>prof</td><td>4</td><td>3</td><td class='kappa'>0.64</td>" in page.text
    )  # (3/4 - 5/16) / (11/16)
    assert "<tr id='turn-1' class='disagreed'>" in page.text and "<tr id='turn-0' class='disagreed'>" not in page.text
    decided = await dean.post(
        f"/alliance/agreement/{thread}/consensus?lang=en", data={"turn": "1", "label": "withdrawal"}
    )
    assert decided.status_code == 303
    consensus = await LabelStore(web.layer.engine).consensus(thread, Requester("dean", "faculty"))
    assert consensus[1].label == "withdrawal" and consensus[1].party is Speaker.patient
    shown = await prof.get(f"/alliance/agreement/{thread}?lang=en")
    assert "<td>Consensus</td><td>Monitor</td><td>1</td><td>1</td>" in shown.text
    bad = await dean.post(f"/alliance/agreement/{thread}/consensus", data={"turn": "9", "label": "withdrawal"})
    assert bad.status_code == 422


async def test_a_form_posted_from_another_site_is_refused(web: Web) -> None:
    thread = await _kept(web)
    prof = await web.login("prof")
    forged = await prof.post(f"/alliance/label/{thread}", data=PROF, headers={"origin": "https://evil.example"})
    assert forged.status_code == 403
    assert await LabelStore(web.layer.engine).ratings(thread, Requester("prof", "faculty")) == {}
