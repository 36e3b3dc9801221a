"""Benchmarks: `python -m agent.devtools.bench [--local]`. Prints a Markdown table for BENCHMARKS.md.

- detector latency per turn, as in a live session (the previous turn's embeddings are
  already cached, because it was evaluated when it was spoken) and cold (nothing cached);
- eval harness throughput (items per second, detector only);
- patient prompt size at turns 5, 20 and 40 (the history window keeps it bounded);
- with --local: the embedded model's time to first token and generation speed.

Medians and percentiles from one run; the machine is shared and noisy, so compare ratios
measured in the same run rather than absolute figures across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time

from agent.config import REPO_ROOT, Settings
from agent.domain.session import AlliancePerception, HiddenState, Session
from agent.domain.taxonomy import Move
from agent.eval.dataset import read_items
from agent.eval.harness import percentile, solve
from agent.evaluator.detector import Detector, load_default_model
from agent.llm.backends import build_backend
from agent.llm.embedding import Embedder
from agent.patient.engine import PatientEngine
from agent.persona.loader import resolve_persona

HELDOUT = [REPO_ROOT / "evals/datasets/gold_fr_heldout.jsonl", REPO_ROOT / "evals/datasets/gold_en_heldout.jsonl"]


def _ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:.1f} ms, p95 {percentile(values, 0.95) * 1000:.1f} ms"


def bench_detector(rounds: int) -> list[str]:
    items = [item for path in HELDOUT for item in read_items(path).items]
    model = load_default_model()
    warm_times: list[float] = []
    cold_times: list[float] = []
    for _ in range(rounds):
        detector = Detector(model, Embedder())
        for item in items:
            turn, prev = item.transcript()[-1], (item.transcript()[-2] if item.context else None)
            started = time.perf_counter()
            detector.detect_turn(turn, prev, item.lang or "en")
            cold_times.append(time.perf_counter() - started)
        for item in items:  # second pass: what a live session sees (context already embedded)
            turn, prev = item.transcript()[-1], (item.transcript()[-2] if item.context else None)
            detector.embedder._cache.pop(turn.text, None)
            for sentence in list(detector.embedder._cache):
                if sentence in turn.text:
                    detector.embedder._cache.pop(sentence, None)
            started = time.perf_counter()
            detector.detect_turn(turn, prev, item.lang or "en")
            warm_times.append(time.perf_counter() - started)
    words = statistics.median(len(i.text.split()) for i in items)
    return [
        f"| detector per turn, live (context cached) | {_ms(warm_times)} | {len(warm_times)} turns, median {words:.0f} words |",
        f"| detector per turn, cold (context embedded too) | {_ms(cold_times)} | {len(cold_times)} turns |",
    ]


def bench_harness(settings: Settings) -> list[str]:
    from agent.evaluator.merge import AllianceEvaluator

    items = [item for path in HELDOUT for item in read_items(path).items]
    evaluator = AllianceEvaluator(Detector(load_default_model(), Embedder()))
    started = time.perf_counter()
    asyncio.run(solve(items, evaluator))
    elapsed = time.perf_counter() - started
    return [f"| eval harness, detector | {len(items) / elapsed:.1f} items/s | {len(items)} held-out items |"]


def bench_prompt(settings: Settings) -> list[str]:
    loaded = resolve_persona("bertrand.fr", settings.personas_dir)
    engine = PatientEngine(loaded.persona, build_backend(settings, "fake"), settings)
    session = Session(persona_id=loaded.id, language="fr", llm="bench")
    hidden = HiddenState(
        inner_monologue="…", emotions=[], alliance=AlliancePerception(goals=4, tasks=4, bond=4), intended_move=Move.none
    )
    rows = []
    for turn_number in range(1, 41):
        session.add_learner_turn(f"Question {turn_number} du médecin sur vos symptômes et votre retour au travail ?")
        if turn_number in (5, 20, 40):
            chars = sum(len(str(m.content)) for m in engine.build_messages(session))
            rows.append(
                f"| patient prompt at turn {turn_number} | {chars} chars (~{chars // 4} tokens) | window of {settings.history_turns} turns |"
            )
        session.add_patient_turn("Réponse de la patiente, deux ou trois phrases au plus pour rester réaliste.", hidden)
    return rows


def bench_local(settings: Settings) -> list[str]:
    from langchain_core.messages import HumanMessage

    backend = build_backend(settings, "local")
    first: list[float] = []
    speeds: list[float] = []
    for question in ("Bonjour, comment allez-vous ?", "Parlez-moi de vos maux de tête.", "Comment dormez-vous ?"):
        started = time.perf_counter()
        first_token = None
        chunks = 0
        for chunk in backend.model.bind(max_tokens=64).stream([HumanMessage(content=question)]):
            if chunk.content and first_token is None:
                first_token = time.perf_counter() - started
            chunks += 1 if chunk.content else 0
        total = time.perf_counter() - started
        first.append(first_token or total)
        speeds.append(chunks / max(total - (first_token or 0.0), 1e-6))
    return [
        f"| embedded model, time to first token | median {statistics.median(first):.2f} s | short prompts, {backend.label} |",
        f"| embedded model, generation | median {statistics.median(speeds):.1f} tokens/s | |",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--local", action="store_true", help="also time the embedded model")
    args = parser.parse_args(argv)
    settings = Settings()
    print(
        f"Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores"
    )
    print("\n| what | figure | notes |\n|---|---|---|")
    rows = bench_detector(args.rounds) + bench_harness(settings) + bench_prompt(settings)
    if args.local:
        rows += bench_local(settings)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
