"""`alliance chat --transcript-out` then `alliance debrief`: the report a learner takes away, its formats, comparing
two branches, and the command's errors in one line."""

from __future__ import annotations

import argparse
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage, HumanMessage

from agent.cli import debrief as debrief_command
from agent.cli.arguments import build_parser
from agent.cli.main import main
from agent.config import Settings
from agent.debrief.model import Debrief
from agent.domain.session import Session
from agent.llm.backends import ChatBackend
from agent.llm.fake import ScriptedChatModel
from tests.support.visits import FR_SHAME, english_session, french_session

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
    assert "| 1 | 3 | 3 | 4 |" in text  # the patient's first reply: goals, tasks, bond
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


# --------------------------------------------------------------------------- the command on a kept transcript


def _args(
    transcript: Path, out: Path | None = None, compare: Path | None = None, lang: str | None = None
) -> argparse.Namespace:
    argv = ["debrief", str(transcript)]
    argv += ["--out", str(out)] if out else []
    argv += ["--compare", str(compare)] if compare else []
    argv += ["--lang", lang] if lang else []
    return build_parser().parse_args(argv)


@pytest.fixture
def fr_transcript(tmp_path: Path) -> Path:
    path = tmp_path / "visite.json"
    french_session().save(path)
    return path


def test_command_prints_markdown_with_the_persona_found(
    fr_transcript: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert debrief_command.run(_args(fr_transcript), settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Débriefing — Mme Bertrand") and "| 0 (début) | 3 | 3 | 4 |  |" in out
    assert FR_SHAME in out


def test_command_writes_markdown_and_svg_side_by_side(fr_transcript: Path, settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "report" / "visite.md"
    assert debrief_command.run(_args(fr_transcript, out, lang="en"), settings) == 0
    text = out.read_text(encoding="utf-8")
    assert "![Alliance trajectory](visite.svg)" in text and "## Key moment" in text
    ET.parse(out.with_suffix(".svg"))


def test_command_writes_html_and_json(fr_transcript: Path, settings: Settings, tmp_path: Path) -> None:
    assert debrief_command.run(_args(fr_transcript, tmp_path / "d.html"), settings) == 0
    assert "<svg" in (tmp_path / "d.html").read_text(encoding="utf-8")
    assert debrief_command.run(_args(fr_transcript, tmp_path / "d.json"), settings) == 0
    debrief = Debrief.model_validate_json((tmp_path / "d.json").read_text(encoding="utf-8"))
    assert debrief.key_moment is not None and debrief.key_moment.learner_turn == 2


def test_command_compares_two_branches(fr_transcript: Path, settings: Settings, tmp_path: Path) -> None:
    branch = Session.from_json(fr_transcript.read_text(encoding="utf-8")).branch_at(4)
    branch.save(tmp_path / "branch.json")
    assert debrief_command.run(_args(tmp_path / "branch.json", tmp_path / "c.json", fr_transcript), settings) == 0
    debrief = Debrief.model_validate_json((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert debrief.comparison is not None and debrief.comparison.branch_turn == 4


def test_command_works_without_the_persona(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    session = french_session()
    session.persona_id = "nobody.fr"
    session.save(tmp_path / "s.json")
    assert debrief_command.run(_args(tmp_path / "s.json"), settings) == 0
    captured = capsys.readouterr()
    assert "début" not in captured.out and "| 3 | 2 | 2 | 2 |" in captured.out
    assert "nobody.fr" in captured.err


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), ("{not json", "not a session transcript"), ('{"turns": []}', "not a session transcript")],
)
def test_command_reports_a_broken_transcript_in_one_line(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "broken.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert debrief_command.run(_args(path), settings) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_command_refuses_an_unknown_format_and_a_foreign_branch(
    fr_transcript: Path, tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert debrief_command.run(_args(fr_transcript, tmp_path / "d.pdf"), settings) == 2
    assert ".md, .html or .json" in capsys.readouterr().err
    english_session().save(tmp_path / "en.json")
    assert debrief_command.run(_args(fr_transcript, compare=tmp_path / "en.json"), settings) == 2
    assert "not two branches" in capsys.readouterr().err
