"""Embed the patient's generic stance bank once and ship the vectors beside it.

`python -m agent.devtools.stance_bank` (`make stance-bank`) reads `agent/patient/data/stance_bank.yaml`, embeds
every sentence with the shared multilingual-e5-small, and writes `stance_bank.npz` with the bank's sha256: the
appraisal uses the file only while it matches the bank, and a test fails when the bank changed without a rebuild.
"""

from __future__ import annotations

import numpy as np

from agent.llm.embedding import Embedder
from agent.patient.appraisal import BANK_PATH, BANK_VECTORS, bank_hash, embed_bank


def main() -> None:
    vectors = embed_bank(Embedder(cache_size=100_000))
    arrays: dict[str, object] = {"sha256": np.array(bank_hash(BANK_PATH)), **vectors}
    np.savez_compressed(BANK_VECTORS, **arrays)  # type: ignore[arg-type]
    print(f"{BANK_VECTORS}: " + ", ".join(f"{lang} {len(v)}" for lang, v in vectors.items()))


if __name__ == "__main__":
    main()
