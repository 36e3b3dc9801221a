"""The real app over its socket.io protocol (as a browser speaks it), with the stub LLM:
the leak suite through the app, injected faults, and a scan for the API key everywhere.

Each test starts `chainlit run agent/web/app.py` and the stub (`python -m agent.devtools.stub_llm`) as
processes on loopback; visitors are `agent.devtools.loadtest.Visitor`s.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.config import REPO_ROOT
from agent.devtools.loadtest import Served, Visitor, running, serve_chainlit, serve_stub, stub_env
from agent.i18n.catalog import t
from agent.persona.loader import load_persona

pytestmark = pytest.mark.e2e

KEY = "sk-socket-never-shown-81d2e4"
ATTACKS = REPO_ROOT / "evals" / "probes" / "leak_attacks.jsonl"
PROFILE = {"fr": "bertrand.fr", "en": "bertrand.en"}
STUB_MONOLOGUE = {
    "en": "I wonder whether they are really listening to me.",
    "fr": "Je me demande s'il m'écoute vraiment.",
}


class App:
    def __init__(self, app: Served, stub: Served, data: Path):
        self.app, self.stub, self.data = app, stub, data

    def configure_stub(self, **config: Any) -> None:
        httpx.post(f"{self.stub.url}/stub/config", json=config, timeout=10).raise_for_status()

    def stub_stats(self) -> dict[str, int]:
        return dict(httpx.get(f"{self.stub.url}/stub/stats", timeout=10).json())

    def kept_sessions(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.data / "alliance.db") as conn:
            rows = conn.execute("SELECT thread_id, session_json FROM alliance_sessions").fetchall()
        return [{"thread_id": r[0], **json.loads(r[1])} for r in rows]


# A request timeout the stub's hang (HANG_S) always outlasts, and that a busy machine never reaches by
# itself: on 2 cores shared with two CPU hogs, a 2 s timeout failed replies the stub had already sent.
TIMEOUT_S, HANG_S = 20, 120
TURN_S = 180  # the longest a learner turn may take here: regenerations and retries under load included


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    work = tmp_path_factory.mktemp("socket")
    with running(serve_stub(work / "stub.log")) as stub:
        env = stub_env(
            stub, work / "data", OPENAI_API_KEY=KEY, ALLIANCE_TIMEOUT_S=str(TIMEOUT_S), ALLIANCE_MAX_RETRIES="1"
        )
        with running(serve_chainlit("agent/web/app.py", env, work / "app.log")) as served:
            yield App(served, stub, work / "data")


def _shown(visitor: Visitor) -> str:
    """Everything the learner's browser was sent: every event payload, as text."""
    return json.dumps([(name, data) for _, name, data in visitor.events], ensure_ascii=False, default=str)


def _spans(text: str, size: int = 8) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def _leaks(shown: str, secrets: list[str]) -> list[str]:
    seen = " ".join(re.findall(r"\w+", shown.lower()))
    return [span for secret in secrets for span in _spans(secret) if span in seen]


async def test_the_leak_suite_through_the_app_never_shows_hidden_text(app: App) -> None:
    app.configure_stub(leak_rate=0.7, seed=11)
    attacks = [json.loads(line) for line in ATTACKS.read_text(encoding="utf-8").splitlines() if line.strip()]
    reached: list[str] = []
    answered = 0
    for attack in attacks:
        lang = attack["lang"]
        persona = load_persona(REPO_ROOT / "personas" / f"{PROFILE[lang]}.yaml")
        visitor = Visitor(app.app.url, PROFILE[lang])
        await visitor.connect()
        await visitor.wait_quiet()
        timing = await visitor.say(attack["text"], timeout_s=TURN_S)
        await visitor.close()
        shown = _shown(visitor)
        answered += timing.reply_done is not None
        found = _leaks(shown, [persona.inner_monologue, STUB_MONOLOGUE[lang] + " " + STUB_MONOLOGUE[lang]])
        if found or STUB_MONOLOGUE[lang] in shown or '"inner_monologue"' in shown:
            reached.append(f"{attack['id']}: {found[:1]}")
    stats = app.stub_stats()
    assert stats.get("leaks", 0) >= len(attacks) // 2, "the stub leaked too little for the test to mean anything"
    assert reached == []
    assert answered == len(attacks)  # a leaking reply is repaired, regenerated or replaced, never dropped
    app.configure_stub()


async def test_faults_keep_every_turn_tell_the_learner_and_recover(app: App) -> None:
    visitor = Visitor(app.app.url, "bertrand.en")
    await visitor.connect()
    await visitor.wait_quiet()
    sent = []
    for failures, fault in enumerate(("500", "429", "timeout", "truncate", "malformed"), start=1):
        app.configure_stub(fault_rates={fault: 1.0}, hang_s=HANG_S)
        line = f"Hello again, can you hear me? ({fault})"
        sent.append(line)
        timing = await visitor.say(line, timeout_s=TURN_S)
        assert timing.error is None, f"{fault}: the turn never ended"
        failed_messages = [
            d
            for _, n, d in visitor.events
            if n == "new_message" and d.get("output", "").startswith("The patient could not")
        ]
        assert len(failed_messages) == failures, f"{fault}: no clear message for the learner"
        app.configure_stub()  # the endpoint recovers
        sent.append(f"And now? ({fault})")
        timing = await visitor.say(sent[-1], timeout_s=TURN_S)
        assert timing.reply_done is not None, f"{fault}: no recovery"
    await visitor.close()
    assert t("ui.patient_failed", "en", reason="x").split("(")[0] in _shown(visitor)
    kept = next(s for s in app.kept_sessions() if any(turn["text"] == sent[0] for turn in s["turns"]))
    learner = [turn["text"] for turn in kept["turns"] if turn["speaker"] == "clinician"]
    assert learner == sent  # no lost turn, even those the patient never answered


async def test_the_api_key_is_in_no_page_log_export_or_database(app: App) -> None:
    visitor = Visitor(app.app.url, "bertrand.fr")
    await visitor.connect()
    await visitor.wait_quiet()
    await visitor.say("Bonjour madame Bertrand, comment allez-vous ?")
    thread = app.kept_sessions()[-1]["thread_id"]
    async with httpx.AsyncClient(base_url=app.app.url, headers={"Cookie": visitor.cookie}) as http:
        assert (await http.get(f"/alliance/debrief/{thread}")).status_code == 403  # not before the end
        await visitor.act("end_visit")
        await visitor.wait_quiet()
        for fmt in ("html", "md", "json"):
            export = await http.get(f"/alliance/debrief/{thread}?format={fmt}")
            assert export.status_code == 200 and KEY not in export.text
            assert "Bertrand" in export.text
    await visitor.close()
    assert KEY not in _shown(visitor)
    assert KEY not in app.app.log.read_text(errors="replace")
    for path in app.data.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
