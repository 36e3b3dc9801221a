"""Labelled turns: the JSONL format shared by the detector's training data and the eval sets.

Minimal fields (`id`, `context`, `speaker`, `text`, `gold_label`) are required; richer ones
(`lang`, `rupture`, `repair`, `subtype`) are optional; any other field is ignored, so files
from other teams load as they are. See `evals/README.md` and `evals/LABELING.md`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.domain.session import PublicTurn
from agent.domain.taxonomy import CLINICIAN_LABELS, PATIENT_LABELS, Lang, Speaker


class ContextTurn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    speaker: Speaker
    text: str


class LabelledItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    context: list[ContextTurn] = Field(default_factory=list)
    speaker: Speaker
    text: str
    gold_label: str
    lang: Lang | None = None
    rupture: Literal["withdrawal", "confrontation"] | None = None
    repair: list[str] = Field(default_factory=list)
    subtype: str | None = None

    def label_set(self) -> tuple[str, ...]:
        return CLINICIAN_LABELS if self.speaker is Speaker.clinician else PATIENT_LABELS

    def scorable(self) -> bool:
        """A gold label outside our label sets is reported as unscored, never an error."""
        return self.gold_label in self.label_set()

    def transcript(self) -> list[PublicTurn]:
        turns = [PublicTurn(id=i, speaker=c.speaker, text=c.text) for i, c in enumerate(self.context)]
        return [*turns, PublicTurn(id=len(turns), speaker=self.speaker, text=self.text)]

    def previous_text(self) -> str:
        return self.context[-1].text if self.context else ""


@dataclass
class LoadedItems:
    items: list[LabelledItem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "file:line: message" for lines that could not be read


def read_items(path: Path) -> LoadedItems:
    loaded = LoadedItems()
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                loaded.items.append(LabelledItem.model_validate(json.loads(line)))
            except json.JSONDecodeError as exc:
                loaded.errors.append(f"{path}:{number}: not JSON ({exc.msg})")
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                loaded.errors.append(f"{path}:{number}: {where}: {first['msg']}")
    return loaded
