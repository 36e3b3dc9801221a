"""`alliance chat --transcript-out` then `alliance debrief`: the report a learner takes away."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage, HumanMessage

from agent.cli.main import main
from agent.domain.session import Session
from agent.llm.backends import ChatBackend
from agent.llm.fake import ScriptedChatModel

LEARNER = [
    "Bonjour madame Bertrand, qu'est-ce qui vous amène ?",
    "Trois mois, c'est hors de question. Vous retournez au travail lundi, c'est tout.",
    "Je crois que j'ai été brusque. Qu'est-ce qui vous inquiète dans un retour rapide ?",
]
THOUGHTS = [
    "Bon, il a l'air pressé, mais je vais lui dire pour les trois mois.",
    "Il ne m'écoute pas. Il me prend pour une paresseuse, comme je le craignais.",
    "Enfin il me demande ce que je vis. Je peux peut-être lui parler du mur.",
]


def _patient(messages: Sequence[BaseMessage]) -> str:
    """The patient closes up after the refusal, then opens again after the repair."""
    turn = sum(isinstance(m, HumanMessage) for m in messages) - 1
    alliance = [
        {"goals": 3, "tasks": 3, "bond": 4},
        {"goals": 1, "tasks": 2, "bond": 2},
        {"goals": 3, "tasks": 3, "bond": 4},
    ]
    moves = ["none", "withdrawal", "repair"]
    replies = ["Je voudrais trois mois d'arrêt.", "Correct. Comme vous voulez.", "J'ai peur de frapper un mur encore."]
    hidden = {
        "inner_monologue": THOUGHTS[turn],
        "emotions": ["feeling_judged"] if turn == 1 else ["anxiety"],
        "alliance": alliance[turn],
        "intended_move": moves[turn],
        "move_subtype": None,
    }
    return json.dumps({"hidden": hidden, "reply": replies[turn]}, ensure_ascii=False)


@pytest.fixture
def transcript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    backend = ChatBackend(ScriptedChatModel(responder=_patient), "fake", structured_mode="json_schema")
    monkeypatch.setattr("agent.cli.chat.build_backend", lambda *_: backend)
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(LEARNER) + "\n"))
    path = tmp_path / "session.json"
    assert main(["chat", "--persona", "bertrand.fr", "--jsonl", "--transcript-out", str(path)]) == 0
    capsys.readouterr()
    return path


def test_debrief_markdown_has_the_timeline_the_revealed_thoughts_and_alternatives(
    transcript: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "debrief.md"
    assert main(["debrief", str(transcript), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    # The timeline, as a table and as an image beside the file.
    assert "| 0 |" in text or "|0|" in text.replace(" ", "")
    svg = out.with_suffix(".svg")
    assert svg.exists() and ET.fromstring(svg.read_text(encoding="utf-8")).tag.endswith("svg")
    assert svg.name in text
    # The patient's thought at the moment the learner refused, revealed beside the learner's words.
    assert THOUGHTS[1] in text
    assert "hors de question" in text
    # Alternatives for the key moment, in the persona's language, each naming its function or principle.
    session = Session.from_json(transcript.read_text(encoding="utf-8"))
    assert session.language == "fr"
    assert any(phrase in text for phrase in ("Qu'est-ce qui se passe pour vous", "Je remarque que vous parlez moins"))


@pytest.mark.parametrize("suffix", [".html", ".json"])
def test_debrief_other_formats(transcript: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"debrief{suffix}"
    assert main(["debrief", str(transcript), "--out", str(out), "--lang", "en"]) == 0
    text = out.read_text(encoding="utf-8")
    assert THOUGHTS[1] in text.replace("&#x27;", "'").replace("&#39;", "'") or THOUGHTS[1] in json.dumps(
        json.loads(text) if suffix == ".json" else {}, ensure_ascii=False
    )
    if suffix == ".html":
        assert "<svg" in text and "<script" not in text
    else:
        data = json.loads(text)
        assert data["timeline"] and data["counts"]


def test_debrief_of_a_broken_transcript_fails_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["debrief", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err
