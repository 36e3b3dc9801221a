"""docs/authoring-personas.md works as written: every `$ alliance ...` line of its console blocks runs,
in order, in a scratch copy of the persona library, and its table of mistakes shows real messages.

The commands run in-process through `agent.cli.main` with the scripted model (`ALLIANCE_LLM=fake`):
the words are the doc's, only the model behind them is the test's.
"""

from __future__ import annotations

import io
import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml

from agent.cli.main import main
from agent.eval import probes as probes_module
from agent.eval.probes import Probe
from agent.persona.loader import load_paths, load_persona
from tests.support.fakes import PERSONAS_DIR

DOC = PERSONAS_DIR.parent / "docs" / "authoring-personas.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)


def _blocks(kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(DOC.read_text(encoding="utf-8")) if lang == kind]


def _commands() -> list[str]:
    return [line[2:] for body in _blocks("console") for line in body.splitlines() if line.startswith("$ ")]


def _run(command: str, monkeypatch: pytest.MonkeyPatch) -> int:
    stdin = ""
    if " | " in command:
        feed, command = command.split(" | ", 1)
        words = shlex.split(feed)
        assert words[0] == "printf", f"only printf feeds are supported: {feed}"
        stdin = words[1].replace("\\n", "\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    argv = shlex.split(command)
    assert argv[0] == "alliance", command
    return main(argv[1:])


def test_the_doc_has_the_whole_path_from_nothing_to_a_tested_persona() -> None:
    verbs = [" ".join(shlex.split(c.split(" | ")[-1])[1:3]) for c in _commands()]
    for needed in (
        "personas new",
        "personas validate",
        "personas lint",
        "personas show",
        "chat --persona",
        "probes --persona",
    ):
        assert needed in verbs, needed


def test_every_command_of_the_doc_runs_as_written(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    personas = isolated_env / "personas"
    shutil.copytree(PERSONAS_DIR, personas)
    probe_dir = isolated_env / "evals" / "probes" / "personas"
    probe_dir.mkdir(parents=True)
    monkeypatch.setenv("ALLIANCE_PERSONAS_DIR", str(personas))
    monkeypatch.setenv("ALLIANCE_LLM", "fake")
    monkeypatch.setattr(probes_module, "PERSONA_PROBES_DIR", probe_dir)
    # The doc's probe example, where the doc says to put it.
    (example,) = _blocks("yaml")
    (probe_dir / "dupont.fr.yaml").write_text(example, encoding="utf-8")

    outputs: dict[str, str] = {}
    for command in _commands():
        status = _run(command, monkeypatch)
        captured = capsys.readouterr()
        assert status == 0, f"{command}\n{captured.out}\n{captured.err}"
        outputs[command] = captured.out

    created = personas / "dupont.fr.yaml"
    assert load_persona(created).language == "fr"
    validate = next(out for cmd, out in outputs.items() if "personas validate" in cmd)
    assert "1 valid, 0 with errors" in validate
    lint = next(out for cmd, out in outputs.items() if "personas lint" in cmd)
    assert "placeholder text left to fill" in lint  # the skeleton, still unfilled
    show = next(out for cmd, out in outputs.items() if cmd.endswith("show dupont.fr"))
    assert "À COMPLÉTER" in show
    chat = next(out for cmd, out in outputs.items() if "alliance chat" in cmd)
    assert chat.strip(), "the patient answered"
    probes = next(out for cmd, out in outputs.items() if "alliance probes" in cmd)
    assert "plan_imposed" in probes and "repair_after_plan" in probes


def test_the_doc_probe_example_is_a_valid_probe_file() -> None:
    (example,) = _blocks("yaml")
    probes = [Probe.model_validate(item) for item in yaml.safe_load(example)]
    assert {p.name for p in probes} == {"plan_imposed", "repair_after_plan"}


def _documented(mistake: str) -> re.Pattern[str]:
    """The doc's message for a mistake, with its path and line made generic."""
    row = next(line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith(f"| {mistake} |"))
    message = re.findall(r"`([^`]+)`", row.split(" | ", 1)[1])[-1]
    pattern = re.escape(message).replace(re.escape("personas/x.fr.yaml"), r"\S+?\.ya?ml")
    return re.compile(re.sub(r":\d+:", r":\\d+:", pattern))


@pytest.mark.parametrize(
    ("mistake", "edit"),
    [
        ("a misspelt or unknown field", lambda t: t.replace("  register:", "  registre:")),
        ("a wrong type or a value out of range", lambda t: t.replace("  bond: 4", "  bond: 9")),
        ("a field left out", lambda t: re.sub(r"(?ms)^inner_monologue:.*?(?=^\S)", "", t)),
        ("the same key twice", lambda t: t + "fears: [again]\n"),
    ],
)
def test_the_doc_table_of_mistakes_shows_real_messages(tmp_path: Path, mistake: str, edit: object) -> None:
    path = tmp_path / "x.fr.yaml"
    path.write_text(edit((PERSONAS_DIR / "bertrand.en.yaml").read_text(encoding="utf-8")), encoding="utf-8")  # type: ignore[operator]
    errors = [str(e) for e in load_paths([path]).errors]
    assert any(_documented(mistake).search(e) for e in errors), (mistake, errors)
