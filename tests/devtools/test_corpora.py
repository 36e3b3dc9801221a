"""The corpus converter (agent/devtools/corpora.py) on tiny inline samples, offline.

Every record's act is in the inventory; labels map as evals/DATA.md says; the MIBot outside set
comes out in the eval format (and loads with the harness's reader); a run over checkouts laid
out like the real repositories writes the files.
"""

from __future__ import annotations

import json
from pathlib import Path

from agent.devtools import corpora
from agent.devtools.corpora import ACTS, BOLT_MAP, MI_GOLD_MAP
from agent.eval.dataset import read_items

MI_GOLD_CSV = """Text,Ground truth (index),Ground truth,Prediction (index),Prediction
What do you notice when you feel anxious?,1,Open Question,1,Open Question
Have you talked to your doctor?,0,Closed Question,0,Closed Question
That sounds really hard.,8,Support,8,Support
You should just quit that job.,9,Advise without Permission,9,Advise without Permission
Not a label here,99,Unknown,0,Closed Question
"""

BOLT_THERAPIST_CSV = """prompt,completion
"That sounds hard. What was that like for you?",Questions on Experiences
Did you take it this morning?,Questions on Experiences
You feel let down by the people closest to you.,Reflections on Emotions
Lots of people feel this way after a diagnosis.,Normalizing
"""
BOLT_CLIENT_CSV = """prompt,completion
I tried the patch but started again after two days.,Sustaining Unhealthy Behavior
"""

EPITOME_CSV = """sp_id,rp_id,seeker_post,response_post,level,rationales
a1,r1,I feel so alone lately,What has been going on? I'm here.,2,What has been going on?|
a2,r2,Nobody listens,Did you tell them?,1,Did you tell them?|
a3,r3,I can't sleep,Go to bed earlier.,0,
"""


def _utt(n: int, volley: int, speaker: str, text: str, label: str) -> dict[str, object]:
    return {
        "speaker": speaker,
        "volley_number": volley,
        "utterance_number": n,
        "text": text,
        "auto_misc_label": label,
    }


MIBOT = {
    "participant_id": "abc123def456",
    "utterances": [
        _utt(1, 1, "counsellor", "Hello!", "Other"),
        _utt(2, 1, "counsellor", "How are you feeling about smoking these days?", "Q"),
        _utt(3, 2, "client", "I like it, it calms me down after work.", "S"),
        _utt(4, 3, "counsellor", "You cut down to five a day last month.", "R"),
        _utt(5, 4, "client", "ok", "N"),
        _utt(6, 5, "counsellor", "Would it help to talk about other ways to relax?", "MICO"),
        _utt(7, 6, "client", "You keep asking the same question.", "N"),
        _utt(8, 7, "counsellor", "Many people find walking helps with cravings.", "MIIN"),
        _utt(9, 8, "client", "I want to be able to run with my kids again without coughing.", "C"),
        _utt(10, 9, "counsellor", "That matters a lot to you.", "MICO"),
    ],
}


def _check(records: list[dict[str, object]]) -> None:
    for r in records:
        assert r["act"] in ACTS, r
        assert r["speaker"] in ("clinician", "patient")
        assert set(r) >= {"id", "source", "lang", "context", "speaker", "text", "act", "source_label"}
    assert len({r["id"] for r in records}) == len(records)


def test_every_mapped_label_is_an_act() -> None:
    assert len(ACTS) == len(set(ACTS)) == 16
    assert set(MI_GOLD_MAP.values()) <= set(ACTS)
    assert {v for v in BOLT_MAP.values() if v} <= set(ACTS)


def test_mi_gold() -> None:
    records = corpora.convert_mi_gold(MI_GOLD_CSV)
    _check(records)
    assert [r["act"] for r in records] == ["open_question", "closed_question", "validation", "advice_directive"]
    assert all(r["speaker"] == "clinician" and r["context"] == [] for r in records)


def test_bolt_questions_by_form_and_client_rows() -> None:
    therapist = corpora.convert_bolt(BOLT_THERAPIST_CSV, "train", "therapist")
    client = corpora.convert_bolt(BOLT_CLIENT_CSV, "train", "client")
    _check(therapist + client)
    assert [(r["act"], r["act_by"]) for r in therapist] == [
        ("open_question", "form"),
        ("closed_question", "form"),
        ("complex_reflection", "source"),
        ("validation", "source"),
    ]
    assert client[0]["speaker"] == "patient" and client[0]["act"] == "self_disclosure"


def test_epitome_spans() -> None:
    records = corpora.convert_epitome(EPITOME_CSV, "explorations")
    _check(records)
    assert [(r["text"], r["act"]) for r in records] == [
        ("What has been going on?", "open_question"),
        ("Did you tell them?", "closed_question"),
    ]
    assert records[0]["context"] == [{"speaker": "patient", "text": "I feel so alone lately"}]
    assert corpora.convert_epitome(EPITOME_CSV, "emotional_reactions")[0]["act"] == "validation"


def test_mibot_acts() -> None:
    records = corpora.convert_mibot(MIBOT)
    _check(records)
    acts = {r["text"]: r["act"] for r in records}
    assert acts["Hello!"] == "social"
    assert acts["ok"] == "minimal_reply"
    assert acts["You cut down to five a day last month."] == "simple_reflection"
    assert acts["Many people find walking helps with cravings."] == "advice_directive"
    assert acts["I like it, it calms me down after work."] == "self_disclosure"
    second = next(r for r in records if r["text"] == "I like it, it calms me down after work.")
    assert second["context"][-1]["speaker"] == "clinician"


def test_mibot_alliance_mapping(tmp_path: Path) -> None:
    items, aside = corpora.mibot_alliance(MIBOT)
    texts = [i["text"] for i in items]
    assert all(i["gold_label"] == "none" and i["rupture"] is None for i in items)
    # sustain talk is kept as a hard negative; a minimal reply and a possible complaint are set aside,
    # and so is the clinician turn that follows each of them
    assert "I like it, it calms me down after work." in texts
    assert {a["text"] for a in aside} == {"ok", "You keep asking the same question."}
    assert "Would it help to talk about other ways to relax?" not in texts
    assert "That matters a lot to you." in texts
    path = tmp_path / "external.jsonl"
    corpora.write_jsonl(path, items)
    loaded = read_items(path)
    assert not loaded.errors and len(loaded.items) == len(items)
    assert all(item.scorable() for item in loaded.items)


def test_sample_is_stable_and_capped() -> None:
    records = [{"id": f"x{i}", "act": "other" if i % 2 else "social"} for i in range(20)]
    kept = corpora.sample(records, 3)
    assert kept == corpora.sample(list(reversed(records)), 3)
    assert sum(r["act"] == "other" for r in kept) == 3 and len(kept) == 6


def test_main_over_checkouts(tmp_path: Path) -> None:
    bolt, gold, mibot = tmp_path / "bolt", tmp_path / "gold", tmp_path / "mibot"
    for role, text in (("therapist", BOLT_THERAPIST_CSV), ("client", BOLT_CLIENT_CSV)):
        for split in ("train", "valid"):
            path = bolt / "dataset_finetune" / f"finetune_{role}_combined_{split}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    gold_csv = gold / "Software/MI Classifier/output/mi_gold/test_output.csv"
    gold_csv.parent.mkdir(parents=True)
    gold_csv.write_text(MI_GOLD_CSV, encoding="utf-8")
    (mibot / "transcripts").mkdir(parents=True)
    (mibot / "transcripts" / "p1.json").write_text(json.dumps(MIBOT), encoding="utf-8")
    out = tmp_path / "evals"
    args = ["--bolt", str(bolt), "--mi-gold", str(gold), "--mibot", str(mibot), "--out", str(out)]
    assert corpora.main(args) == 0
    for name in ("bolt", "mi_gold", "mibot"):
        lines = (out / "corpora" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        _check([json.loads(line) for line in lines])
    assert read_items(out / "datasets" / "external_mibot.jsonl").items
