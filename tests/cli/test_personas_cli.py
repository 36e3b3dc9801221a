"""`alliance personas validate|lint|new|show|schema`, the JSON Schema, the library and persona probes."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from agent.cli.main import main
from agent.config import Settings
from agent.eval.probes import PROBES_FILE, load_probes, run_probes
from agent.llm.backends import ChatBackend
from agent.llm.fake import ScriptedChatModel
from agent.persona.lint import lint_persona
from agent.persona.loader import LoadedPersona, load_library, load_paths, load_persona
from agent.persona.schema import REFERENCE_END, REFERENCE_START, SCHEMA_COMMENT, field_reference, schema_text
from agent.persona.skeleton import skeleton
from tests.support.fakes import PERSONAS_DIR

DOC = PERSONAS_DIR.parent / "docs" / "authoring-personas.md"
LOCATED = re.compile(r"^(?P<path>[^:]+\.ya?ml):(?P<line>\d+): ")


@pytest.fixture
def library_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "personas"
    shutil.copytree(PERSONAS_DIR, target)
    monkeypatch.setenv("ALLIANCE_PERSONAS_DIR", str(target))
    return target


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# --------------------------------------------------------------------------- the shipped library


def test_schema_file_is_in_sync_with_the_model() -> None:
    on_disk = (PERSONAS_DIR / "persona.schema.json").read_text(encoding="utf-8")
    assert on_disk == schema_text(), "run `python -m agent.persona.schema` to regenerate it"


def test_schema_documents_every_field_in_both_languages() -> None:
    schema = json.loads(schema_text())
    nodes = [
        schema["properties"],
        *(d["properties"] for d in schema["$defs"].values() if "properties" in d),
    ]  # not enums
    for properties in nodes:
        for name, prop in properties.items():
            if name == "$schema":
                continue
            assert prop.get("description") and prop.get("description_fr"), name
            assert "*FR :*" in prop["markdownDescription"], name


def test_doc_field_reference_is_in_sync_with_the_model() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(REFERENCE_START, 1)[1].split(REFERENCE_END, 1)[0]
    assert section.strip() == field_reference().strip(), "run `python -m agent.persona.schema`"


def test_every_persona_points_at_the_schema() -> None:
    for path in sorted(PERSONAS_DIR.glob("*.yaml")):
        assert path.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_COMMENT, path.name


def test_library_has_three_french_and_three_english_patients_beyond_bertrand() -> None:
    library = load_library(PERSONAS_DIR)
    assert library.errors == []
    others = [p for p in library.personas.values() if not p.id.startswith("bertrand")]
    assert sum(p.persona.language == "fr" for p in others) >= 3
    assert sum(p.persona.language == "en" for p in others) >= 3
    assert any(p.persona.self_repair for p in others), "one patient initiates repair herself"


def test_library_lints_clean() -> None:
    warnings = [str(w) for p in load_library(PERSONAS_DIR).personas.values() for w in lint_persona(p)]
    assert warnings == []


def test_every_shipped_persona_has_its_own_probes_and_they_parse() -> None:
    for loaded in load_library(PERSONAS_DIR).personas.values():
        probes = load_probes(loaded)
        shared = yaml.safe_load(PROBES_FILE.read_text(encoding="utf-8"))[loaded.persona.language]
        assert len(probes) > len(shared), f"{loaded.id} has no probes of its own"
        assert all(p.turns for p in probes)


# --------------------------------------------------------------------------- validate


def test_validate_exits_0_on_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "personas", "validate", str(PERSONAS_DIR))
    assert status == 0
    assert re.search(r"^\d+ valid, 0 with errors$", out, re.M)


def test_validate_default_is_the_persona_directory(capsys: pytest.CaptureFixture[str], library_copy: Path) -> None:
    status, out, _ = _run(capsys, "personas", "validate")
    assert status == 0
    assert f"{len(list(library_copy.glob('*.yaml')))} valid" in out


def test_validate_exits_1_on_a_broken_file_with_file_line_field(
    capsys: pytest.CaptureFixture[str], library_copy: Path
) -> None:
    text = (library_copy / "bertrand.en.yaml").read_text(encoding="utf-8")
    broken = library_copy / "broken.en.yaml"
    broken.write_text(text.replace("  goals: 3", "  goals: eleven"), encoding="utf-8")
    status, out, _ = _run(capsys, "personas", "validate")
    assert status == 1
    line = next(line for line in out.splitlines() if "broken.en.yaml" in line)
    match = LOCATED.match(line)
    assert match, line
    expected = next(i for i, row in enumerate(broken.read_text().splitlines(), 1) if "goals: eleven" in row)
    assert int(match["line"]) == expected
    assert "initial_alliance.goals: " in line
    assert re.search(r"^\d+ valid, 1 with errors$", out, re.M)


def test_validate_on_a_missing_path_fails_clearly(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, _ = _run(capsys, "personas", "validate", str(tmp_path / "nope.yaml"))
    assert status == 1
    assert "no such file or directory" in out


def test_duplicate_ids_are_reported_and_the_first_file_still_loads(tmp_path: Path) -> None:
    text = (PERSONAS_DIR / "bertrand.fr.yaml").read_text(encoding="utf-8")
    (tmp_path / "dup.fr.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "dup.fr.yml").write_text(text, encoding="utf-8")
    library = load_library(tmp_path)
    assert list(library.personas) == ["dup.fr"]
    assert library.personas["dup.fr"].path.name == "dup.fr.yaml"
    assert len(library.errors) == 1 and "duplicate persona id 'dup.fr'" in str(library.errors[0])


def test_the_same_id_in_two_directories_is_a_duplicate(tmp_path: Path) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(PERSONAS_DIR / "bertrand.en.yaml", tmp_path / sub / "same.en.yaml")
    library = load_paths([tmp_path / "a", tmp_path / "b"])
    assert list(library.personas) == ["same.en"]
    assert "duplicate persona id" in str(library.errors[0])


def test_a_file_name_that_cannot_be_an_id_is_refused(tmp_path: Path) -> None:
    shutil.copy(PERSONAS_DIR / "bertrand.en.yaml", tmp_path / "Mrs Bertrand.yaml")
    library = load_library(tmp_path)
    assert library.personas == {}
    assert "lowercase" in str(library.errors[0])


# --------------------------------------------------------------------------- lint


def _persona_file(tmp_path: Path, name: str, edit: dict[str, object], source: str = "bertrand.en.yaml") -> Path:
    data = yaml.safe_load((PERSONAS_DIR / source).read_text(encoding="utf-8"))
    data.update(edit)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _lint(path: Path) -> list[str]:
    loaded = LoadedPersona(path.name.removesuffix(".yaml"), path, load_persona(path))
    return [str(w) for w in lint_persona(loaded)]


def test_lint_flags_missing_triggers_and_repairs(tmp_path: Path) -> None:
    path = _persona_file(
        tmp_path, "flat.en.yaml", {"withdrawal_triggers": [], "confrontation_triggers": [], "repair_responses": []}
    )
    warnings = _lint(path)
    assert any("withdrawal_triggers: warning: no withdrawal trigger" in w for w in warnings)
    assert any("confrontation_triggers: warning: no confrontation trigger" in w for w in warnings)
    assert any("repair_responses: warning: no repair response" in w for w in warnings)
    assert all(LOCATED.match(w) for w in warnings), warnings


def test_lint_flags_an_empty_inner_monologue(tmp_path: Path) -> None:
    warnings = _lint(_persona_file(tmp_path, "thin.en.yaml", {"inner_monologue": "I am tired."}))
    assert any("inner_monologue: warning: the inner monologue is nearly empty" in w for w in warnings)


def test_lint_flags_a_field_in_the_other_language(tmp_path: Path) -> None:
    french = "Elle a peur que son médecin pense qu'elle exagère et qu'elle ne veut pas retourner au travail."
    warnings = _lint(_persona_file(tmp_path, "mixed.en.yaml", {"wants": french}))
    assert any(re.search(r":\d+: wants: warning: this text reads as 'fr'", w) for w in warnings), warnings


def test_lint_flags_a_file_name_language_that_disagrees(tmp_path: Path) -> None:
    warnings = _lint(_persona_file(tmp_path, "swapped.fr.yaml", {}))
    assert any("file name says 'fr' but the language is 'en'" in w for w in warnings)


def test_lint_flags_a_case_brief_that_gives_away_the_hidden_state(tmp_path: Path) -> None:
    data = yaml.safe_load((PERSONAS_DIR / "bertrand.en.yaml").read_text(encoding="utf-8"))
    secret = data["guarded_facts"][3]["fact"]
    warnings = _lint(_persona_file(tmp_path, "told.en.yaml", {"case_brief": data["case_brief"] + " " + secret}))
    assert any("case_brief: warning: the case brief gives away guarded fact 4" in w for w in warnings), warnings
    warnings = _lint(_persona_file(tmp_path, "titled.en.yaml", {"title": secret[:120]}))
    assert any("title: warning: the title gives away guarded fact 4" in w for w in warnings), warnings
    monologue_words = " ".join(data["inner_monologue"].split()[10:18])
    warnings = _lint(_persona_file(tmp_path, "told2.en.yaml", {"case_brief": f"She says: {monologue_words}."}))
    assert any("gives away the inner monologue" in w for w in warnings), warnings


def test_lint_flags_no_reaction_rules_and_a_rule_that_moves_the_bond_the_wrong_way(tmp_path: Path) -> None:
    warnings = _lint(_persona_file(tmp_path, "unruled.en.yaml", {"reactions": []}))
    assert any("reactions: " in w and "no reaction rules" in w for w in warnings)
    backwards = {
        "when": "The doctor refuses flatly.",
        "examples": ["No.", "That's final."],
        "move": "confrontation",
        "alliance": {"bond": 2},
    }
    warnings = _lint(_persona_file(tmp_path, "backwards.en.yaml", {"reactions": [backwards]}))
    assert any("reactions.0.alliance" in w and "the wrong way" in w for w in warnings)
    blind = {
        "when": "The doctor asks her mother about her.",
        "trigger": "third_person",
        "examples": ["Mom, what are the mornings like?", "Mrs. Hayes, how long has this lasted?"],
        "move": "withdrawal",
        "alliance": {"bond": -1},
    }
    warnings = _lint(_persona_file(tmp_path, "blind.en.yaml", {"reactions": [blind]}))
    assert any("reactions.0.examples" in w and "third_person rule" in w for w in warnings), warnings
    seeing = {**blind, "examples": ["Mom, is she sleeping?", "How long has she been like this?"]}
    warnings = _lint(_persona_file(tmp_path, "seeing.en.yaml", {"reactions": [seeing]}))
    assert not any("third_person rule" in w for w in warnings), warnings


def test_lint_flags_template_syntax_and_placeholders(tmp_path: Path) -> None:
    warnings = _lint(_persona_file(tmp_path, "tpl.en.yaml", {"history": "TODO {{ secret }} later"}))
    assert any("history: warning: template syntax" in w for w in warnings)
    assert any("history: warning: placeholder text left to fill" in w for w in warnings)


def test_lint_command_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _persona_file(tmp_path, "flat.en.yaml", {"repair_responses": []})
    status, out, _ = _run(capsys, "personas", "lint", str(path))
    assert status == 0 and "1 linted, 1 warnings" in out
    status, _, _ = _run(capsys, "personas", "lint", "--strict", str(path))
    assert status == 1
    status, out, _ = _run(capsys, "personas", "lint", str(PERSONAS_DIR))
    assert status == 0 and ", 0 warnings" in out


# --------------------------------------------------------------------------- new


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_new_writes_a_commented_skeleton_that_validates(
    capsys: pytest.CaptureFixture[str], library_copy: Path, lang: str
) -> None:
    status, _out, _ = _run(capsys, "personas", "new", "dupont", "--lang", lang)
    assert status == 0
    path = library_copy / f"dupont.{lang}.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == SCHEMA_COMMENT
    persona = load_persona(path)
    assert persona.language == lang
    comment = "Ce qui fait que la personne se ferme" if lang == "fr" else "What makes the patient shut down"
    assert comment in text
    # Every field is there, as a key or a commented example, so nothing is left to guess.
    for key in ("case_brief", "inner_monologue", "withdrawal_triggers", "guarded_facts", "disclose_when", "bond"):
        assert re.search(rf"^\s*(- )?{key}:", text, re.M), key
    warnings = _lint(path)
    assert sum("placeholder text left to fill" in w for w in warnings) >= 10
    # The schema sits beside it for the editor.
    assert (library_copy / "persona.schema.json").exists()


def test_new_refuses_to_overwrite_and_bad_ids(capsys: pytest.CaptureFixture[str], library_copy: Path) -> None:
    status, _, err = _run(capsys, "personas", "new", "bertrand.fr", "--lang", "fr")
    assert status == 1 and "exists (use --force to overwrite)" in err
    status, _, err = _run(capsys, "personas", "new", "dupont.en", "--lang", "fr")
    assert status == 2 and "ends with .en but --lang is fr" in err
    status, _, err = _run(capsys, "personas", "new", "Mme Dupont", "--lang", "fr")
    assert status == 2 and "lowercase" in err
    status, _, _ = _run(capsys, "personas", "new", "bertrand.fr", "--lang", "fr", "--force")
    assert status == 0
    assert "À COMPLÉTER" in (library_copy / "bertrand.fr.yaml").read_text(encoding="utf-8")


def test_new_into_another_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _out, _ = _run(capsys, "personas", "new", "smith.en", "--lang", "en", "--dir", str(tmp_path / "drafts"))
    assert status == 0
    assert load_persona(tmp_path / "drafts" / "smith.en.yaml").language == "en"


def test_skeletons_differ_by_language_only_in_words() -> None:
    fr, en = skeleton("fr"), skeleton("en")
    keys = re.compile(r"^\s*(?:- )?([a-z_]+):", re.M)
    assert keys.findall(fr) == keys.findall(en)
    assert "À COMPLÉTER" in fr and "TODO" in en


# --------------------------------------------------------------------------- show


def test_show_renders_the_patient_prompt_without_a_model(capsys: pytest.CaptureFixture[str]) -> None:
    status, full, _ = _run(capsys, "personas", "show", "bertrand.en")
    assert status == 0
    persona = load_persona(PERSONAS_DIR / "bertrand.en.yaml")
    assert persona.identity.split(".")[0] in full
    assert persona.guarded_facts[0].fact.split(",")[0] in full
    status, compact, _ = _run(capsys, "personas", "show", "bertrand.en", "--compact")
    assert status == 0 and len(compact) < len(full)
    assert persona.guarded_facts[0].fact.split(",")[0] not in compact


def test_show_an_unknown_persona_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "personas", "show", "nobody.fr")
    assert status == 1 and "bertrand.fr" in err


def test_persona_text_is_data_not_a_template(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _persona_file(tmp_path, "tpl.en.yaml", {"identity": "Sam {{ 7 * 7 }} {% if true %}x{% endif %}"})
    status, out, _ = _run(capsys, "personas", "show", str(path))
    assert status == 0
    assert "Sam {{ 7 * 7 }} {% if true %}x{% endif %}" in out
    assert "49" not in out


def test_schema_command_writes_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "new-folder" / "s.json"
    assert _run(capsys, "personas", "schema", "--out", str(out_file))[0] == 0
    assert out_file.read_text(encoding="utf-8") == schema_text()


# --------------------------------------------------------------------------- probes


def test_a_persona_gets_its_own_probes_first_then_its_languages(tmp_path: Path) -> None:
    loaded = load_library(PERSONAS_DIR).personas["bertrand.fr"]
    own = tmp_path / "bertrand.fr.yaml"
    own.write_text(
        yaml.safe_dump([{"name": "mine", "turns": ["Bonjour."], "expect": {"move_in": ["none"]}}]), encoding="utf-8"
    )
    probes = load_probes(loaded, PROBES_FILE, tmp_path)
    assert probes[0].name == "mine"
    assert [p.name for p in probes[1:]] == [p["name"] for p in yaml.safe_load(PROBES_FILE.read_text())["fr"]]


def test_a_malformed_probe_is_refused(tmp_path: Path) -> None:
    loaded = load_library(PERSONAS_DIR).personas["bertrand.fr"]
    (tmp_path / "bertrand.fr.yaml").write_text(
        yaml.safe_dump([{"name": "bad", "turns": ["x"], "expect": {"move_in": ["sulking"]}}]), encoding="utf-8"
    )
    with pytest.raises(ValidationError):
        load_probes(loaded, PROBES_FILE, tmp_path)


async def test_probes_go_round_robin_so_a_budget_reaches_every_patient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a.fr.yaml", "b.fr.yaml"):
        shutil.copy(PERSONAS_DIR / "bertrand.fr.yaml", tmp_path / name)
    backend = ChatBackend(ScriptedChatModel(), "fake", structured_mode="json_schema")
    report = await run_probes(backend, Settings(personas_dir=tmp_path))
    order = [r.persona for r in report.results]
    assert order[:4] == ["a.fr", "b.fr", "a.fr", "b.fr"]
    assert all(r.error is None for r in report.results)


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("Correct.", "fr", True),  # says nothing either way: not a failure of the French patient
        ("D'accord", "fr", True),
        ("Je ne sais pas ce que vous voulez dire.", "fr", True),
        ("I don't know what you mean, doctor.", "fr", False),
        ("I don't know what you mean, doctor.", "en", True),
        ("Je ne sais pas ce que vous voulez dire.", "en", False),
    ],
)
def test_the_probe_language_check_only_fails_a_reply_that_is_clearly_in_the_other_language(
    text: str, lang: str, expected: bool
) -> None:
    from agent.domain.language import is_written_in

    assert is_written_in(text, lang) is expected


def test_the_probe_report_counts_voice_slips_before_and_after_the_check() -> None:
    from agent.eval.probes import ProbeReport, ProbeResult

    report = ProbeReport(
        "fake",
        [
            ProbeResult("a.fr", "p1", True, {}, ["none"], [4], ["Oui.", "Non."], voice_slips=1, voice_final=0),
            ProbeResult("a.fr", "p2", True, {}, ["none"], [4], ["Bof."], voice_slips=1, voice_final=1),
        ],
    )
    assert report.voice() == {"replies": 3, "slips_before_check": 2, "slips_shown": 1}
    assert "2 of 3 replies" in report.to_markdown()


async def test_probes_run_a_fixed_subset_per_persona_several_times_and_report_the_spread(tmp_path: Path) -> None:
    for name in ("a.fr.yaml", "b.en.yaml"):
        shutil.copy(
            PERSONAS_DIR / ("bertrand.fr.yaml" if name.endswith("fr.yaml") else "bertrand.en.yaml"), tmp_path / name
        )
    backend = ChatBackend(ScriptedChatModel(), "fake", structured_mode="json_schema")
    report = await run_probes(backend, Settings(personas_dir=tmp_path), samples=3, per_persona=1)
    assert sorted((r.persona, r.sample) for r in report.results) == [
        ("a.fr", 0),
        ("a.fr", 1),
        ("a.fr", 2),
        ("b.en", 0),
        ("b.en", 1),
        ("b.en", 2),
    ]
    assert len({(r.persona, r.probe) for r in report.results}) == 2  # one probe each, the same every sample
    low, high = report.spread()["a.fr"]
    assert 0.0 <= low <= report.pass_rates()["a.fr"] <= high <= 1.0
    assert "3 samples" in report.to_markdown()


async def test_probes_run_two_at_once_keep_their_order_and_stop_at_the_budget(tmp_path: Path) -> None:
    for name in ("a.fr.yaml", "b.fr.yaml"):
        shutil.copy(PERSONAS_DIR / "bertrand.fr.yaml", tmp_path / name)
    running = {"now": 0, "most": 0}
    second = asyncio.Event()  # set once two answers are being written at the same time
    wait_for_second = {"on": False}

    class Counting(ScriptedChatModel):
        async def _astream(self, *args: Any, **kwargs: Any) -> Any:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
            if running["now"] == 2:
                second.set()
            try:
                if wait_for_second["on"]:  # the first answer waits (bounded) for the second probe to start
                    await asyncio.wait_for(second.wait(), timeout=60)
                async for chunk in super()._astream(*args, **kwargs):
                    yield chunk
            finally:
                running["now"] -= 1

    backend = ChatBackend(Counting(), "fake", structured_mode="json_schema")
    one = await run_probes(backend, Settings(personas_dir=tmp_path), per_persona=3)
    assert running["most"] == 1
    wait_for_second["on"] = True
    so_far: list[int] = []  # what the CLI writes after each run: a run stopped midway keeps its results
    two = await run_probes(
        backend,
        Settings(personas_dir=tmp_path),
        per_persona=3,
        concurrency=2,
        on_result=lambda r: so_far.append(len(r.results)),
    )
    assert running["most"] == 2 and second.is_set()
    assert so_far == [1, 2, 3, 4, 5, 6]
    assert [(r.persona, r.probe) for r in two.results] == [(r.persona, r.probe) for r in one.results]
    assert len(two.results) == 6 and not two.skipped and all(r.error is None for r in two.results)
    spent = await run_probes(backend, Settings(personas_dir=tmp_path), budget_s=1e-9, per_persona=3, concurrency=2)
    assert spent.skipped == 6 and not spent.results


async def test_samples_run_in_two_sittings_add_up_and_a_run_is_never_counted_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.eval.probes import MergeError, merged, runs_in, write

    library = tmp_path / "personas"
    library.mkdir()
    shutil.copy(PERSONAS_DIR / "bertrand.fr.yaml", library / "a.fr.yaml")
    backend = ChatBackend(ScriptedChatModel(), "fake", structured_mode="json_schema")
    settings = Settings(personas_dir=library)
    write(await run_probes(backend, settings, per_persona=2), tmp_path / "one", "probes")
    write(await run_probes(backend, settings, per_persona=2, samples=2, first_sample=1), tmp_path / "two", "probes")
    both = merged([tmp_path / "one" / "probes.json", tmp_path / "two" / "probes.json"])
    assert sorted({r.sample for r in both.results}) == [0, 1, 2] and len(both.results) == 6
    assert "3 samples" in both.to_markdown()
    with pytest.raises(MergeError, match="already there"):
        merged([tmp_path / "one" / "probes.json", tmp_path / "one" / "probes.json"])
    other = json.loads((tmp_path / "two" / "probes.json").read_text(encoding="utf-8"))
    (tmp_path / "other.json").write_text(json.dumps({**other, "llm": "local:another"}), encoding="utf-8")
    with pytest.raises(MergeError, match="another"):
        merged([tmp_path / "one" / "probes.json", tmp_path / "other.json"])
    paths = [str(tmp_path / "one" / "probes.json"), str(tmp_path / "two" / "probes.json")]
    assert main(["probes", "--merge", *paths, "--report", str(tmp_path / "all")]) == 0
    assert "over 6 probe runs (3 samples)" in (tmp_path / "all" / "probes.md").read_text(encoding="utf-8")
    assert main(["probes", "--merge", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
    # A sitting cut short is finished later: the runs already there are left out.
    done = runs_in([tmp_path / "one" / "probes.json"])
    rest = await run_probes(backend, settings, per_persona=3, done=done)
    assert [(r.probe, r.sample) for r in rest.results] == [(load_probes_names(library)[2], 0)]


def load_probes_names(library: Path) -> list[str]:
    return [p.name for p in load_probes(load_library(library).personas["a.fr"])]
