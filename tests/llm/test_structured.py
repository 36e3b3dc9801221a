"""Structured output: the strict schema, the streamed `reply` field, and tolerant-but-strict parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.domain.session import PatientTurnOutput
from agent.evaluator.judge import JudgeOutput
from agent.llm.structured import FieldWatcher, StructuredOutputError, parse_output, strict_json_schema


def _objects(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            found.append(node)
        for value in node.values():
            found.extend(_objects(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_objects(item))
    return found


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for item in node for k in _keys(item)}
    return set()


def _sample_turn(reply: str = "Bonjour docteur.", monologue: str = "J'ai peur.") -> dict[str, Any]:
    return {
        "hidden": {
            "inner_monologue": monologue,
            "emotions": ["anxiety"],
            "alliance": {"goals": 3, "tasks": 3, "bond": 4},
            "intended_move": "none",
            "move_subtype": None,
        },
        "reply": reply,
    }


# --------------------------------------------------------------------------- strict schema


@pytest.mark.parametrize("model", [PatientTurnOutput, JudgeOutput])
def test_strict_schema_closes_every_object_and_requires_every_property(model: type) -> None:
    schema = strict_json_schema(model)
    objects = _objects(schema)
    assert len(objects) >= 2  # the root and at least one nested or referenced object
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])


@pytest.mark.parametrize("model", [PatientTurnOutput, JudgeOutput])
def test_strict_schema_has_no_defaults(model: type) -> None:
    assert "default" not in _keys(strict_json_schema(model))


def test_strict_schema_leaves_the_models_own_schema_untouched() -> None:
    before = json.dumps(PatientTurnOutput.model_json_schema(), sort_keys=True)
    strict_json_schema(PatientTurnOutput)
    assert json.dumps(PatientTurnOutput.model_json_schema(), sort_keys=True) == before
    # `move_subtype` has a default in the model; strict mode still requires it.
    assert "default" in before


def test_hidden_state_comes_before_the_reply_in_the_schema() -> None:
    """The model writes properties in schema order: it must think (hidden) before it speaks."""
    assert list(strict_json_schema(PatientTurnOutput)["properties"]) == ["hidden", "reply"]


# --------------------------------------------------------------------------- field watcher


def _feed(watcher: FieldWatcher, pieces: list[str]) -> list[str]:
    return [watcher.feed(p) for p in pieces]


def _chunk(text: str, cuts: set[int]) -> list[str]:
    points = sorted(c for c in cuts if 0 < c < len(text))
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


def test_field_watcher_emits_the_reply_as_it_grows() -> None:
    doc = json.dumps(_sample_turn("Bonjour docteur, j'ai mal."), ensure_ascii=False)
    watcher = FieldWatcher("reply")
    deltas = _feed(watcher, [doc[i : i + 5] for i in range(0, len(doc), 5)])
    grown = [d for d in deltas if d]
    assert len(grown) > 2  # incremental, not one block at the end
    assert "".join(grown) == "Bonjour docteur, j'ai mal."


def test_field_watcher_ignores_other_fields_with_similar_content() -> None:
    doc = json.dumps(_sample_turn("Oui.", monologue='Il dit "reply": non.'), ensure_ascii=False)
    watcher = FieldWatcher("reply")
    assert "".join(_feed(watcher, list(doc))) == "Oui."


@settings(max_examples=400, deadline=None)
@given(
    reply=st.text(max_size=120),
    monologue=st.text(max_size=40),
    ensure_ascii=st.booleans(),
    data=st.data(),
)
def test_field_watcher_concatenation_equals_the_final_reply_for_any_chunking(
    reply: str, monologue: str, ensure_ascii: bool, data: st.DataObject
) -> None:
    doc = json.dumps(_sample_turn(reply, monologue), ensure_ascii=ensure_ascii)
    cuts = data.draw(st.sets(st.integers(min_value=1, max_value=max(1, len(doc) - 1)), max_size=40))
    watcher = FieldWatcher("reply")
    deltas = _feed(watcher, _chunk(doc, cuts))
    assert "".join(deltas) == reply
    # Every prefix of what was emitted is a prefix of the final reply: nothing is ever taken back.
    emitted = ""
    for delta in deltas:
        emitted += delta
        assert reply.startswith(emitted)


def test_field_watcher_handles_an_emoji_escaped_as_a_surrogate_pair_split_across_chunks() -> None:
    """Servers that escape non-ASCII write an emoji as two \\u escapes; a chunk may end between them."""
    doc = json.dumps(_sample_turn("Merci 🙏 docteur"), ensure_ascii=True)
    split = doc.index("\\ude4f")  # between the high and the low surrogate of U+1F64F
    watcher = FieldWatcher("reply")
    out = "".join(_feed(watcher, [doc[:split], doc[split:]]))
    assert out == "Merci 🙏 docteur"
    out.encode("utf-8")  # a lone surrogate here would crash any UTF-8 writer downstream


# --------------------------------------------------------------------------- parsing


def test_parse_output_reads_plain_json() -> None:
    parsed = parse_output(json.dumps(_sample_turn("Bonjour.")), PatientTurnOutput)
    assert parsed.reply == "Bonjour."
    assert parsed.hidden.alliance.bond == 4


@pytest.mark.parametrize(
    "wrap",
    [
        "```json\n{}\n```",
        "```\n{}\n```",
        "Voici ma réponse :\n{}\n",
        "  \n{}  ",
    ],
)
def test_parse_output_tolerates_code_fences_and_chatter(wrap: str) -> None:
    text = wrap.replace("{}", json.dumps(_sample_turn("Bonjour."), ensure_ascii=False))
    assert parse_output(text, PatientTurnOutput).reply == "Bonjour."


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "Bonjour docteur.",
        "```json\n```",
        '{"hidden": {"inner_monologue": "x"',  # truncated
        '{"reply": "Bonjour."}',  # missing the hidden state
        "} nothing {",
        json.dumps({**_sample_turn(), "extra": 1}),  # extra keys are refused (extra="forbid")
        json.dumps(_sample_turn()).replace('"bond": 4', '"bond": 12'),  # out of range
        json.dumps(_sample_turn()).replace('"anxiety"', '"euphoria"'),  # not a taxonomy emotion
    ],
)
def test_parse_output_raises_structured_output_error_on_garbage(garbage: str) -> None:
    with pytest.raises(StructuredOutputError):
        parse_output(garbage, PatientTurnOutput)
