"""Processed prompts kept in files across restarts, for the embedded model (llama.cpp slot files).

Processing a patient's system prompt takes 40-90 s on 2 cores. The warm-up at start does it once per persona
and llama.cpp keeps the result in memory; these files keep it across restarts too. A file is named by a hash of
the model file and the exact prompt text, so a changed persona, prompt template or model never restores a stale
state: it simply misses, is processed again and saved again. Files of prompts no longer current are removed.
One file is about 30-70 MB (the model's key/value cache for the prompt's tokens), so only the prompts that have
a slot of their own are kept (the first patient of each language: what a browser opens by default).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)
SUFFIX = ".slot.bin"


class SlotServer(Protocol):
    slot_dir: Path | None

    def slot_action(self, slot: int, action: str, filename: str, timeout_s: float = 120.0) -> bool: ...


@dataclass
class PromptSlots:
    server: SlotServer
    count: int  # the server's parallel slots
    model_tag: str  # the model file's name and size: a state is only valid for the model that made it

    def filename(self, prompt: str) -> str:
        digest = hashlib.sha256(f"{self.model_tag}\0{prompt}".encode()).hexdigest()[:32]
        return f"{digest}{SUFFIX}"

    async def restore(self, slot: int, prompt: str) -> bool:
        """Put the saved state of this prompt into the slot; False when there is none (or it cannot be read)."""
        return await asyncio.to_thread(self.server.slot_action, slot, "restore", self.filename(prompt))

    async def save(self, slot: int, prompt: str) -> bool:
        return await asyncio.to_thread(self.server.slot_action, slot, "save", self.filename(prompt))

    def prune(self, prompts: list[str]) -> int:
        """Remove the files of every prompt but these; returns how many went."""
        if self.server.slot_dir is None:
            return 0
        keep = {self.filename(prompt) for prompt in prompts}
        removed = 0
        for path in self.server.slot_dir.glob(f"*{SUFFIX}"):
            if path.name not in keep:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
