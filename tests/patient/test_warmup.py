"""The start's warm-up: every persona's prompt sent once to a local model, each language's default first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from langchain_core.messages import BaseMessage

from agent.config import Settings
from agent.llm.backends import ChatBackend
from agent.llm.fake import ScriptedChatModel
from agent.llm.prompt_slots import SUFFIX, PromptSlots
from agent.patient.warmup import warm_order, warm_personas
from agent.persona.loader import load_library
from tests.support.fakes import PERSONAS_DIR


async def test_every_persona_prompt_is_sent_once_the_first_of_each_language_first(settings: Settings) -> None:
    personas = list(load_library(PERSONAS_DIR).personas.values())
    prompts: list[str] = []

    def respond(messages: Sequence[BaseMessage]) -> str:
        prompts.append(str(messages[0].content))
        return "."

    local = ChatBackend(ScriptedChatModel(responder=respond), "fake", compact_prompt=True, prefill=True)
    assert await warm_personas(local, personas, settings) == len(personas) == len(prompts)
    order = warm_order(personas)
    assert {p.persona.language for p in order[:2]} == {"fr", "en"} and len(order) == len(set(map(id, order)))
    for loaded, prompt in zip(order, prompts, strict=True):
        assert loaded.persona.display_name in prompt


async def test_an_endpoint_is_not_warmed_and_a_failure_only_skips_that_persona(settings: Settings) -> None:
    personas = list(load_library(PERSONAS_DIR).personas.values())
    endpoint = ChatBackend(ScriptedChatModel(responder=lambda _: "."), "fake")
    assert await warm_personas(endpoint, personas, settings) == 0
    calls = {"n": 0}

    def flaky(messages: Sequence[BaseMessage]) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("model gone")
        return "."

    local = ChatBackend(ScriptedChatModel(responder=flaky), "fake", compact_prompt=True, prefill=True)
    assert await warm_personas(local, personas, settings) == len(personas) - 1


class FakeSlotServer:
    """llama.cpp's slot endpoint as a folder of files: save writes one, restore reads it if it is there."""

    def __init__(self, folder: Path) -> None:
        self.slot_dir: Path | None = folder
        self.actions: list[tuple[int, str, str]] = []

    def slot_action(self, slot: int, action: str, filename: str, timeout_s: float = 120.0) -> bool:
        self.actions.append((slot, action, filename))
        if self.slot_dir is None:
            return False
        path = self.slot_dir / filename
        if action == "save":
            path.write_bytes(b"kv")
            return True
        return path.exists()


async def test_each_languages_first_prompt_is_kept_in_a_file_and_restored_after_a_restart(
    settings: Settings, tmp_path: Path
) -> None:
    personas = list(load_library(PERSONAS_DIR).personas.values())
    stale = tmp_path / f"0123{SUFFIX}"
    stale.write_bytes(b"an old prompt's state")
    pinned: list[object] = []

    def respond(messages: Sequence[BaseMessage]) -> str:
        return "."

    model = ScriptedChatModel(responder=respond)
    original = model.bind

    def bind(**kwargs: object) -> object:
        pinned.append((kwargs.get("extra_body") or {}).get("id_slot"))  # type: ignore[union-attr]
        return original(**kwargs)

    object.__setattr__(model, "bind", bind)
    server = FakeSlotServer(tmp_path)
    slots = PromptSlots(server, count=2, model_tag="model.gguf:123")
    local = ChatBackend(model, "fake", compact_prompt=True, prefill=True, slots=slots)

    # First start: nothing to restore; the two defaults (fr, en) are processed in slots 0 and 1, then saved.
    assert await warm_personas(local, personas, settings) == len(personas)
    assert [a for a in server.actions if a[1] == "save"] == [
        (0, "save", server.actions[0][2]),
        (1, "save", server.actions[2][2]),
    ]
    assert pinned[:2] == [0, 1] and set(pinned[2:]) == {None}  # the others share the slots, unpinned
    assert not stale.exists() and len(list(tmp_path.glob(f"*{SUFFIX}"))) == 2  # only the current prompts' files

    # A restart: both restored, nothing saved again.
    server.actions.clear()
    assert await warm_personas(local, personas, settings) == len(personas)
    assert [a[1] for a in server.actions] == ["restore", "restore"]


def test_a_changed_prompt_or_model_never_restores_a_stale_file(tmp_path: Path) -> None:
    slots = PromptSlots(FakeSlotServer(tmp_path), count=2, model_tag="model.gguf:123")
    other_model = PromptSlots(FakeSlotServer(tmp_path), count=2, model_tag="model.gguf:124")
    assert slots.filename("Vous jouez Mme Bertrand") != slots.filename("Vous jouez Mme Bertrand.")
    assert slots.filename("Vous jouez Mme Bertrand") != other_model.filename("Vous jouez Mme Bertrand")
    assert slots.filename("x").endswith(SUFFIX)
