"""Fuzzing with hypothesis, 1,000 cases each: the persona loader and the command line's inputs.

Whatever the bytes, the loader either returns a Persona or raises PersonaLoadError with a
located message; the commands exit with their documented status and print no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.cli.main import build_parser, main
from agent.persona.loader import PersonaLoadError, parse_persona
from agent.persona.model import Persona
from tests.support.fakes import PERSONAS_DIR

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
SOURCE = (PERSONAS_DIR / "bertrand.fr.yaml").read_text(encoding="utf-8")
YAML_BITS = st.sampled_from(
    [
        ":",
        "- ",
        "  ",
        "\n",
        "'",
        '"',
        "{",
        "}",
        "[",
        "]",
        "&a",
        "*a",
        "!!python/object:os.system",
        "?",
        "|",
        ">-",
        "#",
        "\t",
        "\x00",
        "é",
        "🙂",
        "---",
        "...",
    ]
)


@st.composite
def mutated_persona(draw: st.DrawFn) -> str:
    """A real persona with a few edits: deletions, insertions of YAML syntax, swapped lines."""
    text = SOURCE
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "swap"]))
        if action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 40)) :]
        elif action == "insert":
            text = text[:position] + draw(st.one_of(YAML_BITS, st.text(max_size=8))) + text[position:]
        else:
            lines = text.splitlines()
            if len(lines) > 2:
                i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
                text = "\n".join(lines)
    return text


@FUZZ
@given(text=st.one_of(mutated_persona(), st.text(max_size=400)))
def test_the_loader_returns_a_persona_or_a_located_error(text: str) -> None:
    path = Path("fuzz.fr.yaml")
    try:
        persona = parse_persona(text, path)
    except PersonaLoadError as exc:
        assert exc.errors and all(str(e).startswith(str(path)) for e in exc.errors)
        assert all(e.line is None or 1 <= e.line <= text.count("\n") + 2 for e in exc.errors)
    else:
        assert isinstance(persona, Persona)


@FUZZ
@given(
    content=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode), mutated_persona().map(str.encode))
)
def test_personas_validate_on_any_file_exits_0_or_1_without_a_traceback(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fuzz.fr.yaml"
    path.write_bytes(content)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["personas", "validate", str(path)])
    assert status in (0, 1)  # an exception would fail the test by itself
    assert ("1 valid" in out.getvalue()) == (status == 0)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(
    payload=st.one_of(
        st.text(max_size=200),
        JSONISH.map(json.dumps),
        st.fixed_dictionaries(
            {"persona_id": st.text(max_size=10), "language": st.sampled_from(["fr", "en", "de"])}
        ).map(json.dumps),
    )
)
def test_debrief_on_any_transcript_exits_0_or_2_with_one_line(tmp_path: Path, payload: str) -> None:
    path = tmp_path / "session.json"
    path.write_text(payload, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["debrief", str(path)])
    assert status in (0, 2)
    if status == 2:
        assert len(err.getvalue().strip().splitlines()) == 1  # one clear line


WORDS = st.sampled_from(
    ["chat", "flag", "eval", "personas", "validate", "lint", "new", "show", "debrief", "users", "--persona", "--lang",
     "fr", "en", "xx", "--text", "--out", "-v", "--llm", "fake", "--evaluator", "judge", "--strict", "--help", "", "é"]
)  # fmt: skip


@FUZZ
@given(argv=st.lists(st.one_of(WORDS, st.text(max_size=6)), max_size=6))
def test_any_argv_parses_or_exits_with_usage(argv: list[str]) -> None:
    parser = build_parser()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            assert isinstance(parser.parse_args(argv), argparse.Namespace)
        except SystemExit as exc:
            assert exc.code in (0, 2)  # --help, or a usage error
