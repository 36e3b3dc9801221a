"""Train the communicative-act head (`agent.evaluator.acts`) in numpy; figures for evals/DATA.md.

    python -m agent.devtools.act_train [--with-epitome --out /tmp/x.npz] [--cache PATH]

Training pool: `evals/corpora/{bolt,mi_gold}.jsonl` (outside sources, act per unit) and sentences
of our own data, `agent/evaluator/data/detector_train/*.jsonl`, given an act by the documented rules
of `derive_acts` (`act_by: "rule"`; sentences no rule covers are left out). EPITOME joins only with
--with-epitome and never the shipped weights (its licence is unclear; DATA.md). MIBot
(`evals/corpora/mibot.jsonl`) is evaluated only. `evals/datasets/` is never read.

A stratified 20% dev split (by source, language and act; whole turns) chooses the feature blocks;
the shipped head is then refitted on the whole pool. Sentence vectors are cached outside the repo.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from agent.config import REPO_ROOT
from agent.devtools.detector_train import _cached_embedder, _save_cache, data_hash, fit_softmax, training_files
from agent.domain.taxonomy import Speaker
from agent.eval.dataset import LabelledItem, read_items
from agent.eval.harness import label_scores
from agent.evaluator.acts import ACT_CLASSES, ACT_MODEL_PATH, ActModel, feature_rows, turn_vector
from agent.evaluator.detector import MAX_SENTENCE_CHARS, Head, split_sentences
from agent.llm.embedding import Embedder

CORPORA = REPO_ROOT / "evals" / "corpora"
SHIPPED_CORPORA = ("bolt.jsonl", "mi_gold.jsonl")
LICENCES = {
    "bolt": "BSD-3-Clause",
    "mi_gold": "CC BY-NC-SA 3.0",
    "epitome": "unclear, non-commercial research only",
    "ours": "project data",
}
VARIANTS: dict[str, tuple[str, ...]] = {
    "base": ("emb", "speaker", "shape"),
    "base+prev": ("emb", "speaker", "shape", "prev"),
    "base+emb_patient": ("emb", "speaker", "shape", "emb_patient"),
    "base+prev+emb_patient": ("emb", "speaker", "shape", "prev", "emb_patient"),
}


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# Rules for our data (documented in evals/DATA.md, "Act layer: figures").
OPEN_Q = _rx(
    r"^(?:(?:so|and|but|okay|ok|well|now|alors|et|mais|bon|pis|donc|ok)\b,?\s*)?"
    r"(?:what|how|why|where|when|which|who|tell me|describe|walk me|talk me|"
    r"qu['’]est|que\b|qu['’]|quoi|comment|pourquoi|où|quand|quel|quelle|quels|quelles|qui\b|"
    r"racont|parlez-moi|parle-moi|dites-moi|dis-moi|décri|expliquez)"
    r"|\b(?:can|could|would|will) you (?:tell|say|share|describe|walk|talk|explain)"
    r"|\bqu['’]est-ce qu|\b(?:pouvez|pourriez|peux)-(?:vous|tu) (?:me )?(?:raconter|décrire|expliquer|parler)"
)
SUMMARY = _rx(
    r"is that right|did i get|have i got|do i have (?:that|it) right|if i understand|if i['’]ve understood|"
    r"let me make sure|make sure i|does that make sense|what did you (?:hear|take away|understand)|what you heard|"
    r"so what you['’]re saying|to sum up|same page|c['’]est bien ça|ai-je bien compris|j['’]ai bien compris|"
    r"si je comprends bien|si je résume|en résumé|ce que (?:vous avez|t['’]as|tu as) (?:compris|entendu|retenu)|"
    r"(?:vous avez|t['’]as|tu as) (?:compris|entendu|retenu) quoi|ça a du sens|je veux m['’]assurer|on se comprend"
)
META = _rx(
    r"between us|entre nous|the way i|how i (?:said|explained|put|came|was)|what i (?:said|meant)|came (?:out|across)|"
    r"i (?:pushed|rushed|lost you|was pushing|was lecturing)|in here|this conversation|our (?:conversation|visits?|work)|"
    r"you and i|notre (?:échange|conversation|relation|rencontre)|ce que j['’]ai dit|ma façon|je voulais dire|"
    r"je vous ai (?:bousculé|brusqué|perdu)|i['’]m sorry if|i owe you|je m['’]excuse|j['’]aurais dû|i should have|"
    r"mal passé|my suggestion|ma suggestion|qui fait quoi|your part|votre part|ta part|who does what|from me\b|de moi\b|"
    r"i feel like i['’]m|j['’]ai l['’]impression qu['’]on|je sens que ma|i snapped|je me suis fâché|i was rude"
)
SOCIAL = _rx(
    r"^(?:hi|hello|hey|good (?:morning|afternoon|evening)|bonjour|bonsoir|salut|allô|merci|thanks|thank you|"
    r"take care|goodbye|bye|see you|à bientôt|au revoir|bonne (?:journée|soirée|fin)|nice to (?:see|meet)|"
    r"enchanté|welcome|bienvenue|come (?:on )?in|have a seat)\b"
)
MINIMAL = {
    "ok", "okay", "yeah", "yes", "yep", "sure", "fine", "mm", "mmhm", "mm-hm", "hm", "hmm", "uh huh", "i guess",
    "i dunno", "dunno", "i don't know", "no", "nope", "whatever", "right", "maybe", "not really", "none",
    "oui", "ouais", "non", "d'accord", "correct", "bof", "chais pas", "sais pas", "je sais pas", "je ne sais pas",
    "peut-être", "si vous le dites", "c'est ça", "ben oui", "mouais", "pas vraiment", "mm-hm yeah",
}  # fmt: skip
DIRECTIVE = _rx(
    r"\byou (?:should|need to|have to|must)\b|\bi['’]d like you to|\bi (?:want|need) you to|\blet['’]s\b|\btry\b|"
    r"\bmake sure\b|\bdon['’]t\b|\bplease\b|\bi (?:recommend|suggest)|\bi['’](?:m going to|ll) (?:prescribe|order|"
    r"refer|send|examine|check|listen|start)|\bwe (?:need to|['’]ll|will)\b|\bcall (?:us|me|if)|^(?:take|get|call|"
    r"come|keep|stop|avoid|make|lie|breathe|sit|hop|follow|go|bring|fill|use|drink|eat|rest|schedule|book)\b|"
    r"\b(?:vous|tu) devr(?:iez|ais)|\bil fau(?:t|drait)|\bfaut que|\bje vais (?:vous |te )?(?:prescrire|examiner|"
    r"référer|envoyer|demander|écouter|prendre|vérifier|regarder)|\bon va\b|\bje (?:vous|te) (?:recommande|suggère|"
    r"conseille|propose)|\b(?:prenez|prends|évitez|essayez|arrêtez|revenez|appelez|venez|respirez|couchez|"
    r"allongez|assoyez|asseyez|installez)|\bje veux que|\bj['’]aimerais que (?:vous|tu)"
)
VALIDATE = _rx(
    r"makes sense|understandable|anyone would|would make anyone|(?:it['’]s|that['’]s) (?:okay|normal|ok) to|"
    r"no need to|of course you|ça se comprend|c['’]est normal|n['’]importe qui|c['’]est correct de|vous avez le droit|"
    r"t['’]as le droit|c['’]est légitime|je comprends|i understand|i get it|you['’]ve (?:done|been)|vous avez bien fait"
)
FEELING = _rx(
    r"\bsounds?\b|\bseems?\b|\bmust (?:be|feel)|\byou feel|\bi can (?:hear|see)|\bi hear\b|\bon dirait|ça a l['’]air|"
    r"vous semblez|tu sembles|(?:vous avez|t['’]as) l['’]air|vous vous sentez|tu te sens|ça doit|je (?:vous|t['’]) ?entends|j['’]entends|triste|"
    r"frustrat|scar|worr|afraid|angry|upset|hurt|fed up|exhausted|overwhelm|peur|inquiet|fâch|frustr|décourag|"
    r"blessé|tanné|épuis|lourd"
)
AGREE = _rx(
    r"you['’]re right|vous avez raison|t['’]as raison|(?:he|she)['’]s right|(?:il|elle) a raison|d['’]accord|\bok\b|"
    r"\bokay\b|\bsure\b|\bfine\b|whatever (?:you|she|he)|comme vous (?:voulez|dites)|si vous le dites|"
    r"i['’]ll (?:try|do)|je vais (?:essayer|le faire)|c['’]est correct|i got it|j['’]ai compris|no problem|"
    r"pas de problème|no, no|non, non"
)

ACCEPT = _rx(
    r"je suis d['’]accord|\bi agree|you['’]re right|vous avez raison|t['’]as raison|that makes sense|ça me va|"
    r"sounds good|\bdeal\b|ça marche|good idea|bonne idée"
)
NEGATION = _rx(r"\bnot\b|n['’]t\b|\bpas\b|\bjamais\b|\bnever\b|\bno\b|\bnon\b")


def _words(text: str) -> int:
    return len(text.split())


def _norm(text: str) -> str:
    return re.sub(r"[^\w' -]", "", text.lower().replace("’", "'")).strip()


def form_act(sentence: str) -> str | None:
    """Surface rules that hold for every speaker: questions, greetings and thanks, minimal replies."""
    if _norm(sentence) in MINIMAL:
        return "minimal_reply"
    if SOCIAL.search(sentence) and _words(sentence) <= 10 and not sentence.rstrip().endswith("?"):
        return "social"
    if sentence.rstrip().endswith("?"):
        return "open_question" if OPEN_Q.search(sentence.strip(' «"“-')) else "closed_question"
    return None


def _clinician_act(s: str, item: LabelledItem, ordinary: bool) -> str | None:
    label, question = item.gold_label, s.rstrip().endswith("?")
    if SUMMARY.search(s):
        return "summary_check"
    if label in ("clarifying", "reflective", "exploratory", "emotional") and META.search(s):
        return "metacommunication"
    formed = form_act(s)
    if formed or question:
        return formed
    if ordinary or label == "none":
        if DIRECTIVE.search(s):
            return "advice_directive"
        return "information" if ordinary else None
    if label == "emotional":
        if VALIDATE.search(s):
            return "validation"
        return "complex_reflection" if FEELING.search(s) else "validation"
    if label == "reflective":
        return "metacommunication"
    if label == "clarifying" and item.subtype == "give_rationale":
        return "information"
    return None


def _patient_act(s: str, item: LabelledItem) -> str | None:
    if item.gold_label == "confrontation":
        if item.subtype == "defending_self" and not NEGATION.search(s):
            return None  # a defence's facts are not themselves disagreement
        return "disagreement"  # criticism, complaints and rhetorical questions alike
    if item.gold_label == "withdrawal":
        if item.subtype == "minimal_response":
            return "minimal_reply" if _words(s) <= 5 else None
        if item.subtype == "deferential_appeasing":
            return form_act(s) or ("agreement" if AGREE.search(s) else None)
        if item.subtype == "avoidant_storytelling":
            return form_act(s) or "topic_shift"
        if item.subtype == "self_criticism_hopelessness":
            return form_act(s) or "self_disclosure"
        return None
    formed = form_act(s)
    if formed:
        return formed
    if ACCEPT.search(s):
        return "agreement"
    if item.repair and META.search(s):
        return "metacommunication"
    return "self_disclosure" if _words(s) > 2 else None


def derive_acts(item: LabelledItem, ordinary: bool = False) -> list[tuple[str, str]]:
    """(sentence, act) for each sentence of one of our turns that a rule covers."""
    out = []
    for s in split_sentences(item.text):
        act = _patient_act(s, item) if item.speaker is Speaker.patient else _clinician_act(s, item, ordinary)
        if act:
            out.append((s, act))
    return out


@dataclass(frozen=True)
class Unit:
    group: str  # the turn (or record) it comes from: dev splits never cut a turn
    source: str
    lang: str
    speaker: Speaker
    text: str
    act: str
    act_by: str
    prev: str


def corpus_units(path: Path) -> list[Unit]:
    units = []
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        prev = r["context"][-1]["text"] if r.get("context") else ""
        speaker, text = Speaker(r["speaker"]), r["text"][:MAX_SENTENCE_CHARS]
        units.append(Unit(r["id"], r["source"], r["lang"], speaker, text, r["act"], r["act_by"], prev))
    return units


def our_training_files() -> list[Path]:
    """Our own detector training files. `outside_*.jsonl` there are copies of outside corpora made for the
    detector (evals/DATA.md); the act layer reads those corpora directly, so it skips the copies."""
    return [path for path in training_files() if not path.name.startswith("outside_")]


def our_units(files: list[Path]) -> list[Unit]:
    units = []
    for path in files:
        for item in read_items(path).items:
            for s, act in derive_acts(item, ordinary=path.stem == "ordinary"):
                units.append(
                    Unit(item.id, "ours", item.lang or "en", item.speaker, s, act, "rule", item.previous_text())
                )
    return units


def embed_units(units: list[Unit], embedder: Embedder, cache: Path) -> tuple[np.ndarray, list[np.ndarray | None]]:
    texts = list(dict.fromkeys([u.text for u in units] + [s for u in units for s in split_sentences(u.prev)]))
    texts = [t for t in texts if t not in embedder._cache]
    for start in range(0, len(texts), 64):
        embedder.embed(texts[start : start + 64])
        print(f"  embedded {min(start + 64, len(texts))}/{len(texts)}", file=sys.stderr)
        if start % 512 == 0 or start + 64 >= len(texts):
            _save_cache(embedder, cache)  # a busy machine embeds slowly: never lose the work
    vectors = embedder.embed([u.text for u in units])
    prevs = [turn_vector(embedder.embed(split_sentences(u.prev))) if u.prev.strip() else None for u in units]
    return vectors, prevs


def design(units: list[Unit], vectors: np.ndarray, prevs: list[Any], blocks: tuple[str, ...]) -> np.ndarray:
    return np.concatenate(
        [feature_rows(vectors[i : i + 1], [u.text], u.speaker, prevs[i], blocks) for i, u in enumerate(units)]
    )


def sample(units: list[Unit], per_act: int) -> list[Unit]:
    """At most `per_act` units per act, stable by hash (MIBot is large and only evaluated)."""
    ranked = sorted(units, key=lambda u: hashlib.sha256(u.group.encode()).hexdigest())
    seen: Counter[str] = Counter()
    out = []
    for u in ranked:
        seen[u.act] += 1
        if seen[u.act] <= per_act:
            out.append(u)
    return out


def dev_split(units: list[Unit], share: int = 5) -> list[bool]:
    """Stratified 20% by (source, language, act of the turn's first unit), whole turns, stable by hash."""
    first: dict[str, Unit] = {}
    for u in units:
        first.setdefault(u.group, u)
    strata: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for group, u in first.items():
        strata[(u.source, u.lang, u.act)].append(group)
    dev: set[str] = set()
    for groups in strata.values():
        groups.sort(key=lambda g: hashlib.sha256(g.encode()).hexdigest())
        dev.update(g for i, g in enumerate(groups) if i % share == share // 2)
    return [u.group in dev for u in units]


def fit(x: np.ndarray, acts: list[str]) -> Head:
    """Softmax regression on standardised features, folded back so the head reads raw features.

    e5 vectors vary little per dimension; on raw features the L2 penalty starves the head.
    """
    y = np.asarray([ACT_CLASSES.index(a) for a in acts], dtype=np.int64)
    mu, sigma = x.mean(axis=0), x.std(axis=0) + 1e-6
    w, b = fit_softmax((x - mu) / sigma, y, len(ACT_CLASSES))
    w_raw = (w / sigma[:, None]).astype(np.float32)
    return Head(ACT_CLASSES, w_raw, (b - (mu / sigma) @ w).astype(np.float32))


def with_alone(units: list[Unit], vectors: np.ndarray, prevs: list[Any]) -> tuple[list[Unit], np.ndarray, list[Any]]:
    """Every unit with a previous turn is also seen without it (a turn read alone, the first of a visit)."""
    idx = [i for i, p in enumerate(prevs) if p is not None]
    return (
        units + [replace(units[i], prev="") for i in idx],
        np.concatenate([vectors, vectors[idx]]),
        prevs + [None] * len(idx),
    )


ORDINARY_REPEAT = 4  # ordinary clinical turns are our only clinical "information" supervision: seen 4 times


def upweight(units: list[Unit], vectors: np.ndarray, prevs: list[Any]) -> tuple[list[Unit], np.ndarray, list[Any]]:
    """Repeat the units of ordinary.jsonl (training only; dev and MIBot figures count each unit once)."""
    idx = [i for i, u in enumerate(units) if u.source == "ours" and u.group.startswith("trord-")]
    extra = idx * (ORDINARY_REPEAT - 1)
    return (
        units + [units[i] for i in extra],
        np.concatenate([vectors, vectors[extra]]),
        prevs + [prevs[i] for i in extra],
    )


def scores(gold: list[str], pred: list[str]) -> dict[str, Any]:
    labels = [a for a in ACT_CLASSES if a in set(gold)]
    per = label_scores(gold, pred, labels)
    return {
        "n": len(gold),
        "accuracy": round(float(np.mean([g == p for g, p in zip(gold, pred, strict=True)])), 4) if gold else 0.0,
        "macro_f1": round(float(np.mean([s.f1 for s in per.values()])), 4) if per else 0.0,
        "per_act": {a: [s.f1, s.support] for a, s in per.items()},
    }


def evaluate(head: Head, units: list[Unit], x: np.ndarray) -> dict[str, Any]:
    pred = [ACT_CLASSES[i] for i in head.probs(x).argmax(axis=1)]
    gold = [u.act for u in units]
    out = {"all": scores(gold, pred)}
    for name, keep in (
        ("en", lambda u: u.lang == "en"),
        ("fr", lambda u: u.lang == "fr"),
        ("ours_en", lambda u: u.source == "ours" and u.lang == "en"),
        ("corpora", lambda u: u.source != "ours"),
        ("clinician", lambda u: u.speaker is Speaker.clinician),
        ("patient", lambda u: u.speaker is Speaker.patient),
    ):
        idx = [i for i, u in enumerate(units) if keep(u)]
        out[name] = scores([gold[i] for i in idx], [pred[i] for i in idx])
    return out


def _summary(name: str, r: dict[str, Any]) -> str:
    parts = [f"{k} acc {v['accuracy']:.3f} macro-F1 {v['macro_f1']:.3f} (n={v['n']})" for k, v in r.items()]
    return f"{name}: " + "; ".join(p for p in parts if "n=0" not in p)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--with-epitome", action="store_true", help="experiment only; needs --out elsewhere")
    parser.add_argument("--out", type=Path, default=ACT_MODEL_PATH)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "alliance-act-e5.npz")
    parser.add_argument("--mibot-per-act", type=int, default=60, help="MIBot units scored per act (0: all)")
    parser.add_argument("--report", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    corpora = [CORPORA / name for name in SHIPPED_CORPORA]
    if args.with_epitome:
        if args.out.resolve() == ACT_MODEL_PATH.resolve():
            parser.error("the shipped weights must not depend on EPITOME: give --out elsewhere")
        corpora.append(CORPORA / "epitome.jsonl")
    ours = our_training_files()
    units = [u for path in corpora for u in corpus_units(path)] + our_units(ours)
    mibot = corpus_units(CORPORA / "mibot.jsonl")
    mibot = sample(mibot, args.mibot_per_act) if args.mibot_per_act else mibot
    counts = Counter((u.source, u.lang, u.act) for u in units)
    print(f"pool: {len(units)} units; " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())), file=sys.stderr)
    embedder = _cached_embedder(args.cache)
    vectors, prevs = embed_units(units, embedder, args.cache)
    m_vectors, m_prevs = embed_units(mibot, embedder, args.cache)

    is_dev = dev_split(units)
    tr = [i for i, d in enumerate(is_dev) if not d]
    dv = [i for i, d in enumerate(is_dev) if d]
    tr_units, tr_vec, tr_prev = with_alone(*upweight([units[i] for i in tr], vectors[tr], [prevs[i] for i in tr]))
    dev_units = [units[i] for i in dv]
    report: dict[str, Any] = {"variants": {}}
    best_name, best_score = "", -1.0
    for name, blocks in VARIANTS.items():
        head = fit(design(tr_units, tr_vec, tr_prev, blocks), [u.act for u in tr_units])
        r = evaluate(head, dev_units, design(dev_units, vectors[dv], [prevs[i] for i in dv], blocks))
        mib = evaluate(head, mibot, design(mibot, m_vectors, m_prevs, blocks))
        report["variants"][name] = {"dev": r, "mibot": mib}
        print(_summary(f"[{name}] dev", r) + "\n" + _summary(f"[{name}] mibot", mib), file=sys.stderr)
        score = (r["en"]["macro_f1"] + r["fr"]["macro_f1"]) / 2  # French counts as much as English
        if score > best_score:
            best_name, best_score = name, score
    blocks = VARIANTS[best_name]
    all_units, all_vec, all_prev = with_alone(*upweight(units, vectors, prevs))
    head = fit(design(all_units, all_vec, all_prev, blocks), [u.act for u in all_units])
    shipped_mibot = evaluate(head, mibot, design(mibot, m_vectors, m_prevs, blocks))
    print(f"chosen: {best_name}\n" + _summary("[shipped] mibot", shipped_mibot), file=sys.stderr)
    files = corpora + ours
    sources = sorted({u.source for u in units})
    meta = {
        "train_sha256": data_hash(files),
        "train_files": [str(p.relative_to(REPO_ROOT)) for p in files],
        "train_units": len(units),
        "sources": {s: LICENCES[s] for s in sources},
        "variant": best_name,
        "dev": report["variants"][best_name]["dev"],
        "mibot": shipped_mibot,
        "pool_counts": {a: sum(u.act == a for u in units) for a in ACT_CLASSES},
    }
    ActModel(head, blocks, meta).save(args.out)
    report.update(chosen=best_name, shipped_mibot=shipped_mibot, pool_counts=meta["pool_counts"])
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out} ({best_name}; {len(units)} units; sha256 {meta['train_sha256'][:12]})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
