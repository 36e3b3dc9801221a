"""Persona files: the shipped personas load; every broken file fails with a located, readable error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config import REPO_ROOT
from agent.persona.loader import MAX_PERSONA_BYTES, PersonaLoadError, load_library, load_persona, resolve_persona
from agent.persona.model import Persona

PERSONAS = REPO_ROOT / "personas"
FR = PERSONAS / "bertrand.fr.yaml"
EN = PERSONAS / "bertrand.en.yaml"


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(text: str, prefix: str) -> int:
    """1-based line of the first line starting with `prefix`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(prefix))


def _load_error(path: Path) -> PersonaLoadError:
    with pytest.raises(PersonaLoadError) as info:
        load_persona(path)
    assert info.value.errors, "a PersonaLoadError must carry at least one located error"
    return info.value


@pytest.fixture
def en_text() -> str:
    return EN.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- shipped personas


@pytest.mark.parametrize(("path", "lang"), [(FR, "fr"), (EN, "en")])
def test_shipped_bertrand_personas_load(path: Path, lang: str) -> None:
    persona = load_persona(path)
    assert isinstance(persona, Persona)
    assert persona.language == lang
    assert "Bertrand" in persona.display_name
    assert persona.fears and persona.inner_monologue.strip()
    assert persona.withdrawal_triggers and persona.confrontation_triggers and persona.repair_responses


def test_the_two_bertrand_personas_describe_the_same_case() -> None:
    fr, en = load_persona(FR), load_persona(EN)
    assert fr.initial_alliance == en.initial_alliance
    assert fr.self_repair == en.self_repair
    assert len(fr.guarded_facts) == len(en.guarded_facts)
    assert [g.disclose_when for g in fr.guarded_facts] == [g.disclose_when for g in en.guarded_facts]


# --------------------------------------------------------------------------- located errors


def test_unknown_field_names_file_line_and_field(tmp_path: Path, en_text: str) -> None:
    text = en_text.replace("title:", "colour: blue\ntitle:", 1)
    path = _write(tmp_path, "p.yaml", text)
    error = _load_error(path)
    line = _line_of(text, "colour:")
    assert f"{path}:{line}: colour: unknown field" in str(error)
    assert error.errors[0].line == line and error.errors[0].field == "colour"


def test_wrong_type_names_file_line_and_field(tmp_path: Path, en_text: str) -> None:
    text = en_text.replace("self_repair: true", "self_repair: [1, 2]")
    path = _write(tmp_path, "p.yaml", text)
    error = _load_error(path)
    line = _line_of(text, "self_repair:")
    assert re.search(rf"^{re.escape(str(path))}:{line}: self_repair: .*boolean", str(error), re.M), str(error)


def test_out_of_range_nested_field_is_located_on_its_own_line(tmp_path: Path, en_text: str) -> None:
    text = en_text.replace("  goals: 3", "  goals: 99")
    path = _write(tmp_path, "p.yaml", text)
    error = _load_error(path)
    line = _line_of(text, "  goals: 99")
    assert f"{path}:{line}: initial_alliance.goals: " in str(error)


def test_missing_field_names_file_line_and_field(tmp_path: Path, en_text: str) -> None:
    text = "\n".join(line for line in en_text.splitlines() if not line.startswith("title:")) + "\n"
    path = _write(tmp_path, "p.yaml", text)
    error = _load_error(path)
    (missing,) = [e for e in error.errors if e.field == "title"]
    assert missing.line is not None
    assert "required" in missing.message.lower()
    assert f"{path}:{missing.line}: title: " in str(error)


def test_blank_list_item_is_rejected_with_its_field(tmp_path: Path, en_text: str) -> None:
    text = en_text.replace("fears:\n", "fears:\n  - '   '\n", 1)
    path = _write(tmp_path, "p.yaml", text)
    error = _load_error(path)
    assert any(e.field == "fears" and "empty" in e.message for e in error.errors), str(error)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path, en_text: str) -> None:
    text = en_text.replace("title:", "title: [unclosed\nbroken:", 1)
    path = _write(tmp_path, "p.yaml", text)
    error = _load_error(path)
    assert re.search(rf"^{re.escape(str(path))}:\d+: YAML syntax: ", str(error)), str(error)
    assert error.errors[0].line is not None
    assert abs(error.errors[0].line - _line_of(text, "broken:")) <= 1


def test_duplicate_key_is_an_error_not_a_silent_override(tmp_path: Path, en_text: str) -> None:
    text = en_text + "\ntitle: a second title\n"
    path = _write(tmp_path, "p.yaml", text)
    error = _load_error(path)
    line = len(text.splitlines())
    assert f"{path}:{line}: " in str(error)
    assert "duplicate key 'title'" in str(error)


def test_empty_file_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.yaml", "")
    error = _load_error(path)
    assert str(error).startswith(str(path))
    assert "empty file" in str(error)


def test_comment_only_file_counts_as_empty(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.yaml", "# nothing here yet\n\n")
    assert "empty file" in str(_load_error(path))


def test_binary_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    error = _load_error(path)
    assert str(error).startswith(str(path))
    assert "binary" in str(error)


def test_non_utf8_text_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes("title: Mme Bertrand, fatiguée\n".encode("latin-1"))
    error = _load_error(path)
    assert str(error).startswith(str(path))
    assert "UTF-8" in str(error)


def test_file_over_the_size_limit_is_refused_before_parsing(tmp_path: Path, en_text: str) -> None:
    padding = "# " + "x" * 78 + "\n"
    text = en_text + padding * (MAX_PERSONA_BYTES // len(padding) + 1)
    path = _write(tmp_path, "p.yaml", text)
    assert path.stat().st_size > MAX_PERSONA_BYTES
    error = _load_error(path)
    assert str(error).startswith(str(path))
    assert str(MAX_PERSONA_BYTES) in str(error) and "bytes" in str(error)


@pytest.mark.parametrize("text", ["- one\n- two\n", "just a sentence\n", "42\n"])
def test_non_mapping_top_level_is_reported(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, "p.yaml", text)
    error = _load_error(path)
    assert f"{path}:1: " in str(error)
    assert "mapping" in str(error)


def test_python_tags_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.yaml", "language: !!python/object/apply:os.system ['echo pwned']\n")
    assert "YAML syntax" in str(_load_error(path))


# --------------------------------------------------------------------------- library and resolution


def test_load_library_keeps_valid_personas_and_lists_broken_ones(tmp_path: Path, en_text: str) -> None:
    _write(tmp_path, "good.en.yaml", en_text)
    _write(tmp_path, "good.fr.yml", FR.read_text(encoding="utf-8"))
    _write(tmp_path, "typo.yaml", en_text.replace("title:", "titel:", 1))
    _write(tmp_path, "empty.yaml", "")
    _write(tmp_path, "notes.txt", "not a persona, not even looked at")
    library = load_library(tmp_path)
    assert sorted(library.personas) == ["good.en", "good.fr"]
    assert library.personas["good.fr"].persona.language == "fr"
    broken = {e.path.name for e in library.errors}
    assert broken == {"typo.yaml", "empty.yaml"}
    assert any(e.field == "titel" and e.message == "unknown field" for e in library.errors)


def test_load_library_on_a_missing_directory_reports_instead_of_raising(tmp_path: Path) -> None:
    library = load_library(tmp_path / "nope")
    assert library.personas == {}
    assert len(library.errors) == 1 and "not found" in library.errors[0].message


def test_shipped_library_has_no_errors() -> None:
    library = load_library(PERSONAS)
    assert library.errors == []
    assert {"bertrand.fr", "bertrand.en"} <= set(library.personas)


def test_resolve_persona_by_id() -> None:
    loaded = resolve_persona("bertrand.fr", PERSONAS)
    assert loaded.id == "bertrand.fr"
    assert loaded.path == FR
    assert loaded.persona.language == "fr"


def test_resolve_persona_by_path(tmp_path: Path, en_text: str) -> None:
    path = _write(tmp_path, "custom.en.yaml", en_text)
    loaded = resolve_persona(str(path), PERSONAS)
    assert loaded.id == "custom.en"
    assert loaded.path == path
    assert loaded.persona.language == "en"


def test_unknown_persona_id_lists_the_known_ones() -> None:
    with pytest.raises(PersonaLoadError) as info:
        resolve_persona("dupont.fr", PERSONAS)
    message = str(info.value)
    assert "dupont.fr" in message
    assert "bertrand.en" in message and "bertrand.fr" in message


def test_a_reference_that_is_neither_id_nor_yaml_file_is_refused() -> None:
    with pytest.raises(PersonaLoadError) as info:
        resolve_persona("../etc/passwd", PERSONAS)
    assert "not a persona id" in str(info.value)


# --------------------------------------------------------------------------- properties

_YAMLISH = st.lists(
    st.sampled_from([*"abc: -[]{}?&*!|>'\"#%@`\n\t\\,.01\u00e9", "language", "fears", "- x", "\n  "]),
    max_size=80,
).map("".join)

# Inputs that reach the YAML layer's corners: unhashable keys, nesting past the recursion limit.
_ADVERSARIAL = {
    "sequence_key": "{[a]: 1}\n",
    "explicit_sequence_key": "? [a]\n: 1\n",
    "mapping_key": "language: fr\n? {a: 1}\n: x\n",
    "deep_flow_nesting": "[" * 5000,
    "deep_block_nesting": "- " * 5000 + "x\n",
}


@pytest.mark.parametrize("content", list(_ADVERSARIAL.values()), ids=list(_ADVERSARIAL))
def test_yaml_corner_cases_raise_persona_load_error(tmp_path: Path, content: str) -> None:
    path = _write(tmp_path, "corner.yaml", content)
    error = _load_error(path)
    assert str(error).startswith(str(path))


def test_load_library_survives_yaml_corner_cases(tmp_path: Path, en_text: str) -> None:
    _write(tmp_path, "valid.en.yaml", en_text)
    for name, content in _ADVERSARIAL.items():
        _write(tmp_path, f"{name}.yaml", content)
    library = load_library(tmp_path)
    assert list(library.personas) == ["valid.en"]
    assert {e.path.stem for e in library.errors} == set(_ADVERSARIAL)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.text(max_size=300), _YAMLISH, st.binary(max_size=300)))
def test_arbitrary_content_only_ever_raises_persona_load_error(tmp_path: Path, content: str | bytes) -> None:
    path = tmp_path / "fuzz.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    try:
        persona = load_persona(path)
    except PersonaLoadError as exc:
        assert exc.errors
        assert all(str(path) in str(e) for e in exc.errors)
    else:
        assert isinstance(persona, Persona)


_FIELD_NAMES = [*Persona.model_fields, "register", "$schema", "goals", "fact", "unknown_field"]
_YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(_FIELD_NAMES), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    drop=st.sets(st.sampled_from(sorted(Persona.model_fields)), max_size=3),
    replace=st.dictionaries(st.sampled_from(_FIELD_NAMES), _YAML_VALUES, max_size=3),
)
def test_mutated_personas_load_or_fail_with_located_errors(
    tmp_path: Path, drop: set[str], replace: dict[str, object]
) -> None:
    data = yaml.safe_load(EN.read_text(encoding="utf-8"))
    for name in drop:
        data.pop(name, None)
    data.update(replace)
    path = tmp_path / "mutant.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    try:
        load_persona(path)
    except PersonaLoadError as exc:
        for error in exc.errors:
            assert error.line is not None and error.line >= 1, str(error)
            assert str(error).startswith(f"{path}:{error.line}: ")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.one_of(st.text(max_size=120), st.binary(max_size=120), _YAMLISH), max_size=4))
def test_load_library_never_raises(tmp_path: Path, files: list[str | bytes]) -> None:
    directory = tmp_path / "lib"
    directory.mkdir(exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    (directory / "valid.en.yaml").write_text(EN.read_text(encoding="utf-8"), encoding="utf-8")
    for i, content in enumerate(files):
        path = directory / f"fuzz{i}.yaml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
    library = load_library(directory)
    assert "valid.en" in library.personas
    assert len(library.personas) + len({e.path for e in library.errors}) == len(files) + 1
