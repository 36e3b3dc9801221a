"""Warm the embedded model for every patient at start: each persona's prompt processed once and kept.

llama.cpp keeps a processed prompt in its slot, and, once the slot serves another prompt, in its host-memory
prompt cache (`cache_ram`, agent/llm/local_server.py); a later request that starts with the same text skips
processing it again. The system prompt of the embedded model holds no per-visit state (`PatientEngine.state_last`),
so processing each persona's prompt once at start makes turn 1 of any visit as fast as a later turn, instead of
waiting 40-50 s on 2 cores for the prompt. The first patient of each language (the default a browser opens) goes
first. The reaction rules' examples are embedded on the way.
"""

from __future__ import annotations

import logging
import time

from agent.config import Settings
from agent.domain.session import Session
from agent.llm.backends import ChatBackend
from agent.patient.engine import PatientEngine
from agent.persona.loader import LoadedPersona

log = logging.getLogger(__name__)


def warm_order(personas: list[LoadedPersona]) -> list[LoadedPersona]:
    """The first persona of each language first (each browser's default patient), then the others in order."""
    firsts: dict[str, LoadedPersona] = {}
    for loaded in personas:
        firsts.setdefault(loaded.persona.language, loaded)
    return [*firsts.values(), *(p for p in personas if p not in firsts.values())]


async def warm_personas(backend: ChatBackend, personas: list[LoadedPersona], settings: Settings) -> int:
    """Process every persona's prompt once (local models only); returns how many were warmed. Never raises:
    a failure only means that persona's first turn waits for its prompt, as it would have.

    The first patient of each language gets a slot of its own and its processed prompt is kept in a file
    (`agent.llm.prompt_slots`): after a restart it is restored in milliseconds instead of processed again."""
    if not backend.prefill:
        return 0
    order, slots = warm_order(personas), backend.slots
    kept = len({loaded.persona.language for loaded in order}) if slots else 0
    kept = min(kept, slots.count) if slots else 0
    kept_prompts: list[str] = []
    warmed = 0
    for index, loaded in enumerate(order):
        started = time.monotonic()
        engine = PatientEngine(loaded.persona, backend, settings)
        session = Session(persona_id=loaded.id, language=loaded.persona.language, llm=backend.label)
        slot = index if slots and index < kept else None
        try:
            restored = False
            if slots and slot is not None:
                kept_prompts.append(prompt := engine.system_prompt(session))
                restored = await slots.restore(slot, prompt)
            await engine.prefill(session, slot)  # after a restore, only the last token is processed
            if slots and slot is not None and not restored:
                await slots.save(slot, kept_prompts[-1])
        except Exception as exc:  # only an optimisation
            log.info("warm-up of %s skipped: %s", loaded.id, type(exc).__name__)
            continue
        warmed += 1
        how = "restored from its file" if slot is not None and restored else "processed"
        log.info("warmed %s in %.1f s (%s)", loaded.id, time.monotonic() - started, how)
    if slots:
        slots.prune(kept_prompts)
    return warmed
