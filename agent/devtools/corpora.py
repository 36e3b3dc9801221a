"""Convert public behaviour-coded dialogue corpora into communicative-act records (issue 13).

    python -m agent.devtools.corpora --bolt DIR --mi-gold DIR --epitome DIR --mibot DIR [--out evals]

Each DIR is a checkout of the source repository, or a snapshot's git directory (a folder
holding `repo/`, or a bare repo), read with `git show HEAD:path`. Nothing is downloaded: the
command reads only what is on disk (evals/DATA.md says where each source comes from, its
licence and the label mapping). It writes `evals/corpora/<source>.jsonl`, one record a line:

    {"id", "source", "lang", "context": [{"speaker", "text"}...], "speaker", "text",
     "act", "source_label", "act_by"}

`act` is in `ACTS`; `act_by` is "source" when the source label alone gives the act, "form"
when a documented surface rule finished the job (open vs closed question, simple vs complex
reflection for sources that code only "question"/"reflection"). Files are sampled (at most
`--cap` records per act and source, deterministic). MIBot is the held-out outside source: it
is also written, turn by turn, in the eval format as `evals/datasets/external_mibot.jsonl`.
Never point this at ESConv, AnnoMI or anything built from them: they are reserved (DATA.md).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Record = dict[str, Any]

# The communicative-act inventory (evals/DATA.md gives definitions and the map to Tables I-III).
ACTS: tuple[str, ...] = (
    "open_question",
    "closed_question",
    "simple_reflection",
    "complex_reflection",
    "validation",
    "summary_check",
    "metacommunication",
    "information",
    "advice_directive",
    "self_disclosure",
    "agreement",
    "disagreement",
    "minimal_reply",
    "topic_shift",
    "social",
    "other",
)
FORM = "form"  # act_by: the source label needed a surface rule to pick among our acts

# Source label -> act; None means "decided by form" (the function named in the comment).
MI_GOLD_MAP: dict[str, str] = {
    "Closed Question": "closed_question",
    "Open Question": "open_question",
    "Simple Reflection": "simple_reflection",
    "Complex Reflection": "complex_reflection",
    "Give Information": "information",
    "Advise with Permission": "advice_directive",
    "Advise without Permission": "advice_directive",
    "Direct": "advice_directive",
    "Warn": "advice_directive",
    "Affirm": "validation",
    "Support": "validation",
    "Emphasize Autonomy": "metacommunication",
    "Confront": "disagreement",
    "Self-Disclose": "self_disclosure",
    "Other": "other",
}
BOLT_MAP: dict[str, str | None] = {
    "Questions on Experiences": None,  # question_act
    "Questions on Emotions": None,
    "Questions on Perspectives": None,
    "Reflections on Emotions": "complex_reflection",
    "Reflections on Needs": "complex_reflection",
    "Reflections on Values": "complex_reflection",
    "Reflections on Consequences": "complex_reflection",
    "Reflections on Conflicts": "complex_reflection",
    "Reflections on Strengths": "validation",
    "Normalizing": "validation",
    "Psychoeducation": "information",
    "Problem-Solving": "advice_directive",
    "Planning": "advice_directive",
    # client behaviours
    "Sharing Negative Emotions": "self_disclosure",
    "Sharing Positive Emotions": "self_disclosure",
    "Sharing Experiences": "self_disclosure",
    "Changing Unhealthy Behavior": "self_disclosure",
    "Sustaining Unhealthy Behavior": "self_disclosure",
    "Gained Insights": "self_disclosure",
}
BOLT_CLIENT = {k for k, v in BOLT_MAP.items() if v == "self_disclosure"}
EPITOME_FILES = {
    "emotional_reactions": "dataset/emotional-reactions-reddit.csv",
    "interpretations": "dataset/interpretations-reddit.csv",
    "explorations": "dataset/explorations-reddit.csv",
}

_OPEN_START = re.compile(
    r"^\s*(?:so,?\s+|and\s+|but\s+|okay,?\s+|well,?\s+)?(what|how|why|where|when|which|who|tell me|describe|"
    r"walk me|talk (?:to me )?about|help me understand|in what way)\b",
    re.I,
)
_FEELING = re.compile(
    r"\b(feel\w*|felt|emotion\w*|afraid|scared|fear\w*|worr\w*|anx\w*|frustrat\w*|angry|anger|sad\w*|hurt\w*|"
    r"overwhelm\w*|stress\w*|tough|hard for you|difficult for you|lonely|guilt\w*|ashamed|shame|hopeless\w*|"
    r"upset\w*|exhaust\w*|torn|conflicted|proud|relie\w*)\b",
    re.I,
)
_SOCIAL = re.compile(
    r"^\W*(hi|hello|hey|good (morning|afternoon|evening)|thanks?|thank you|bye|goodbye|take care|"
    r"welcome|nice to|it was (great|nice))\b",
    re.I,
)
_MINIMAL = re.compile(
    r"^\W*(ok(ay)?|k|yes|yeah|yep|yup|no|nope|nah|sure|fine|maybe|idk|i don'?t know|not sure|"
    r"i guess|right|true|mhm+|hmm+|uh+ huh|alright|same|nothing|not really|kind of|sort of)\W*$",
    re.I,
)
# Client turns the MIBot mapping will not call "none" without a person reading them (DATA.md).
_POSSIBLE_RUPTURE = re.compile(
    r"\b(you('re| are| keep| already)|bot|robot|repeat\w*|already (said|told)|annoy\w*|stupid|useless|pointless|"
    r"waste|boring|whatever|leave me|stop asking|don'?t want to talk|not helpful|same question|judg\w*|lectur\w*)\b",
    re.I,
)


_REQUEST = re.compile(r"\b(can|could|would|will) you (tell|say|share|describe|talk|walk|help me understand)\b", re.I)


def question_act(text: str) -> str:
    """Open or closed question, by form (MISC's own definition is by form): the last question decides."""
    questions = [s for s in re.split(r"(?<=[.?!])\s+", text.strip()) if s.rstrip().endswith("?")] or [text]
    last = questions[-1]
    return "open_question" if _OPEN_START.search(last) or _REQUEST.search(last) else "closed_question"


def reflection_act(text: str) -> str:
    """For sources that code only "reflection": complex when it names a feeling, else simple."""
    return "complex_reflection" if _FEELING.search(text) else "simple_reflection"


def _stable(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16)


def sample(records: Iterable[Record], cap: int, key: str = "act") -> list[Record]:
    """At most `cap` records per value of `key`, chosen by a hash of the id (stable, no RNG state)."""
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(str(r[key]), []).append(r)
    kept: list[Record] = []
    for _, group in sorted(groups.items()):
        kept.extend(sorted(group, key=lambda r: _stable(r["id"]))[:cap])
    return sorted(kept, key=lambda r: r["id"])


def _clip(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def record(
    rid: str, source: str, speaker: str, text: str, act: str, label: str, context: list[dict[str, str]] | None = None
) -> Record:
    assert act in ACTS, act
    return {
        "id": rid,
        "source": source,
        "lang": "en",
        "context": context or [],
        "speaker": speaker,
        "text": _clip(text, 600),
        "act": act,
        "source_label": label,
        "act_by": "source",
    }


def _formed(r: Record) -> Record:
    r["act_by"] = FORM
    return r


# --- reading a checkout or a snapshot -------------------------------------------------------


def read_text(root: Path, rel: str) -> str:
    """A file of a source: from a checkout, or with `git show HEAD:rel` from a snapshot's git directory."""
    if (root / rel).is_file():
        return (root / rel).read_text(encoding="utf-8", errors="replace")
    git_dir = root / "repo" if (root / "repo").is_dir() else root
    out = subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"HEAD:{rel}"], capture_output=True, check=True, timeout=120
    )
    return out.stdout.decode("utf-8", errors="replace")


def list_files(root: Path, folder: str) -> list[str]:
    if (root / folder).is_dir():
        return sorted(str(p.relative_to(root)) for p in (root / folder).glob("*.json"))
    git_dir = root / "repo" if (root / "repo").is_dir() else root
    out = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "--name-only", "HEAD", f"{folder}/"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return sorted(n for n in out.stdout.decode().splitlines() if n.endswith(".json"))


# --- converters: each takes the source's text, so tests can feed it inline ---------------------


def convert_mi_gold(csv_text: str) -> list[Record]:
    """Welivita & Pu (2023), MI Gold test split as released (`output/mi_gold/test_output.csv`)."""
    out = []
    for i, row in enumerate(csv.DictReader(io.StringIO(csv_text))):
        label = row["Ground truth"].strip()
        if label in MI_GOLD_MAP and row["Text"].strip():
            out.append(record(f"migold-{i:05d}", "mi_gold", "clinician", row["Text"], MI_GOLD_MAP[label], label))
    return out


def convert_bolt(csv_text: str, split: str, role: str) -> list[Record]:
    """BOLT fine-tuning sets (`dataset_finetune/finetune_{therapist,client}_combined_{train,valid}.csv`)."""
    out = []
    for i, row in enumerate(csv.DictReader(io.StringIO(csv_text))):
        label, text = row["completion"].strip(), row["prompt"].strip()
        if label not in BOLT_MAP or not text:
            continue
        speaker = "patient" if label in BOLT_CLIENT else "clinician"
        act = BOLT_MAP[label]
        r = record(f"bolt-{role}-{split}-{i:04d}", "bolt", speaker, text, act or question_act(text), label)
        out.append(r if act else _formed(r))
    return out


def convert_epitome(csv_text: str, mechanism: str) -> list[Record]:
    """Sharma et al. (2020), Reddit: the rationale spans of level 1-2 responses, one record per span."""
    out = []
    for row in csv.DictReader(io.StringIO(csv_text)):
        level = row["level"].strip()
        if level not in ("1", "2"):
            continue
        context = [{"speaker": "patient", "text": _clip(row["seeker_post"])}]
        spans = [s.strip() for s in row["rationales"].split("|") if len(s.split()) >= 3]
        for j, span in enumerate(spans[:2]):
            rid = f"epitome-{mechanism[:2]}-{row['rp_id']}-{j}"
            label = f"{mechanism}:{level}"
            if mechanism == "emotional_reactions":
                out.append(record(rid, "epitome", "clinician", span, "validation", label, context))
            elif mechanism == "interpretations":
                act = "complex_reflection" if level == "2" else "validation"
                out.append(record(rid, "epitome", "clinician", span, act, label, context))
            elif span.rstrip().endswith("?"):
                out.append(_formed(record(rid, "epitome", "clinician", span, question_act(span), label, context)))
    return out


def _mibot_act(speaker: str, label: str, text: str) -> tuple[str, bool]:
    """(act, decided_by_form) for one MIBot utterance and its AutoMISC label."""
    question = text.rstrip().endswith("?")
    if speaker == "counsellor":
        if label == "Q" or (label == "MICO" and question):
            return question_act(text), True
        if label == "R":
            return reflection_act(text), True
        if label == "MICO":
            return "validation", False
        if label == "MIIN":
            return "advice_directive", False
        return ("social", True) if _SOCIAL.search(text) else ("other", False)
    if label == "N" and _MINIMAL.search(text):
        return "minimal_reply", True
    if label == "N" and question:
        return question_act(text), True
    if label == "N" and _SOCIAL.search(text) and len(text.split()) <= 6:
        return "social", True
    return "self_disclosure", label == "N"


def _volleys(utterances: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Group sentence-level utterances into turns (MIBot's volleys), in order."""
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for u in sorted(utterances, key=lambda u: int(u["utterance_number"])):
        speaker = "clinician" if u["speaker"] == "counsellor" else "patient"
        if turns and turns[-1][0] == speaker and turns[-1][1][-1]["volley_number"] == u["volley_number"]:
            turns[-1][1].append(u)
        else:
            turns.append((speaker, [u]))
    return turns


def _text(utts: list[dict[str, Any]]) -> str:
    return " ".join(str(u["text"]).strip() for u in utts)


def convert_mibot(transcript: dict[str, Any]) -> list[Record]:
    """Mahmood et al. (2025): one record per utterance, context = the previous two turns."""
    pid = str(transcript["participant_id"])[:10]
    turns = _volleys(transcript["utterances"])
    out = []
    for t, (speaker, utts) in enumerate(turns):
        context = [{"speaker": s, "text": _clip(_text(u), 300)} for s, u in turns[max(0, t - 2) : t]]
        for u in utts:
            text, label = str(u["text"]).strip(), str(u["auto_misc_label"])
            if not text:
                continue
            act, by_form = _mibot_act(str(u["speaker"]), label, text)
            r = record(f"mibot-{pid}-{u['utterance_number']}", "mibot", speaker, text, act, label, context)
            out.append(_formed(r) if by_form else r)
    return out


def mibot_alliance(transcript: dict[str, Any]) -> tuple[list[Record], list[Record]]:
    """Turn-level items in the eval format, and the turns set aside for a person to label.

    Patient turns: change, sustain and neutral talk are engagement, so `none` (sustain talk is
    ambivalence, not rupture); minimal replies and turns that may criticise the bot or the talk
    are set aside, never guessed. Clinician turns: `none` (ordinary MI: no rupture is open), but
    only after a patient turn that was kept; the first turn of a conversation is kept too.
    """
    pid = str(transcript["participant_id"])[:10]
    turns = _volleys(transcript["utterances"])
    items: list[Record] = []
    aside: list[Record] = []
    previous_clear = True
    for t, (speaker, utts) in enumerate(turns):
        text = _text(utts).strip()
        if not text:
            continue
        labels = sorted({str(u["auto_misc_label"]) for u in utts})
        context = [{"speaker": s, "text": _clip(_text(u), 300)} for s, u in turns[max(0, t - 3) : t]]
        item: Record = {
            "id": f"ext-mibot-{pid}-{t:03d}",
            "lang": "en",
            "context": context,
            "speaker": speaker,
            "text": _clip(text, 800),
            "gold_label": "none",
            "rupture": None,
            "repair": [],
            "subtype": None,
            "note": f"AutoMISC {'+'.join(labels)}",
        }
        if speaker == "patient":
            minimal = bool(_MINIMAL.search(text)) or len(text.split()) <= 2
            if minimal or _POSSIBLE_RUPTURE.search(text):
                item["note"] += "; set aside: minimal reply or possible criticism, needs a person"
                aside.append(item)
                previous_clear = False
                continue
            if "S" in labels:
                item["note"] += "; sustain talk: ambivalence, not a rupture"
            previous_clear = True
        elif not previous_clear:
            continue
        items.append(item)
    return items, aside


# --- main -------------------------------------------------------------------------------------


def write_jsonl(path: Path, records: Iterable[Record]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as handle:
        for r in records:
            handle.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    return n


def _sources(args: argparse.Namespace) -> dict[str, Callable[[], list[Record]]]:
    jobs: dict[str, Callable[[], list[Record]]] = {}
    if args.mi_gold:
        jobs["mi_gold"] = lambda: convert_mi_gold(
            read_text(args.mi_gold, "Software/MI Classifier/output/mi_gold/test_output.csv")
        )
    if args.bolt:
        jobs["bolt"] = lambda: [
            r
            for role in ("therapist", "client")
            for split in ("train", "valid")
            for r in convert_bolt(
                read_text(args.bolt, f"dataset_finetune/finetune_{role}_combined_{split}.csv"), split, role
            )
        ]
    if args.epitome:
        jobs["epitome"] = lambda: [
            r for mech, rel in EPITOME_FILES.items() for r in convert_epitome(read_text(args.epitome, rel), mech)
        ]
    return jobs


def _mibot_transcripts(root: Path) -> list[dict[str, Any]]:
    return [json.loads(read_text(root, rel)) for rel in list_files(root, "transcripts")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    for name in ("bolt", "mi-gold", "epitome", "mibot"):
        parser.add_argument(f"--{name}", type=Path, help=f"checkout or snapshot of the {name} source")
    parser.add_argument("--out", type=Path, default=Path("evals"), help="the evals folder (default: evals)")
    parser.add_argument("--cap", type=int, default=300, help="at most this many records per act and source")
    parser.add_argument("--external-cap", type=int, default=300, help="external items per speaker")
    args = parser.parse_args(argv)
    summary: dict[str, dict[str, int]] = {}
    for name, job in _sources(args).items():
        records = sample(job(), args.cap)
        write_jsonl(args.out / "corpora" / f"{name}.jsonl", records)
        summary[name] = dict(Counter(r["act"] for r in records))
    if args.mibot:
        transcripts = _mibot_transcripts(args.mibot)
        records = sample((r for t in transcripts for r in convert_mibot(t)), args.cap)
        write_jsonl(args.out / "corpora" / "mibot.jsonl", records)
        summary["mibot"] = dict(Counter(r["act"] for r in records))
        items: list[Record] = []
        aside: list[Record] = []
        for t in transcripts:
            kept, set_aside = mibot_alliance(t)
            items += kept
            aside += set_aside
        chosen = sample(items, args.external_cap, key="speaker")
        write_jsonl(args.out / "datasets" / "external_mibot.jsonl", chosen)
        write_jsonl(args.out / "corpora" / "mibot_set_aside.jsonl", sample(aside, args.external_cap, key="speaker"))
        summary["external_mibot"] = dict(Counter(f"{i['speaker']}:{i['gold_label']}" for i in chosen))
        summary["mibot_set_aside"] = {"patient": len(aside)}
    json.dump(summary, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
