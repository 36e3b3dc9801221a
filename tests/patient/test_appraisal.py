"""The appraisal: the learner's turn read against the persona's reaction rules before the model speaks."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml
from langchain_core.messages import BaseMessage
from numpy.typing import NDArray

from agent.config import REPO_ROOT, Settings
from agent.domain.session import AlliancePerception, HiddenState, PatientLine, PatientTurnOutput, Session
from agent.domain.taxonomy import Emotion, Move
from agent.llm.backends import ChatBackend
from agent.llm.embedding import Embedder
from agent.llm.fake import ScriptedChatModel
from agent.patient.appraisal import (
    BANK_PATH,
    BANK_VECTORS,
    MIN_SHARE,
    Appraiser,
    bank_hash,
    load_bank,
)
from agent.patient.engine import PatientEngine, _following
from agent.persona.loader import load_persona
from agent.persona.model import Persona, Reaction
from tests.support.fakes import patient_json, sequence_responder
from tests.support.visits import persona_fr  # noqa: F401  (fixture)

# A toy meaning space: each keyword is an axis; a sentence is the sum of the axes of its keywords.
AXES = ["refuse", "monday", "lazy", "sorry", "worry", "sleep", "hello", "dose"]


class KeywordEmbedder:
    """Deterministic stand-in for e5: sentences sharing keywords are close, others orthogonal."""

    def embed(self, sentences: list[str]) -> NDArray[np.float32]:
        rows = []
        for sentence in sentences:
            v = np.array([float(k in sentence.lower()) for k in AXES], dtype=np.float32) + 1e-3
            rows.append(v)
        return np.stack(rows)


def _bank(tmp_path: Path) -> Path:
    path = tmp_path / "bank.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "fr": {
                    "imposes": ["refuse refuse", "refuse monday"],
                    "dismisses": ["lazy", "lazy lazy"],
                    "attunes": ["sorry", "worry worry", "sorry worry"],
                    "neutral": ["sleep", "hello", "dose", "hello sleep"],
                }
            }
        ),
        encoding="utf-8",
    )
    load_bank.cache_clear()
    return path


def _persona(persona: Persona, *rules: Reaction) -> Persona:
    return persona.model_copy(update={"reactions": list(rules)})


REFUSAL = Reaction(
    when="Le médecin refuse sèchement.",
    examples=["refuse", "refuse monday"],
    move=Move.confrontation,
    alliance={"goals": -2, "bond": -1},
    emotions=[Emotion.anger],
)
JUDGED = Reaction(
    when="Le médecin la traite de paresseuse.",
    examples=["lazy", "lazy monday"],
    move=Move.withdrawal,
    alliance={"bond": -3},
    emotions=[Emotion.shame],
)
APOLOGY = Reaction(
    when="Le médecin s'excuse et demande ce qui l'inquiète.",
    examples=["sorry", "sorry worry"],
    move=Move.repair,
    alliance={"bond": 2, "goals": 1},
)


def _session(persona: Persona, *texts: str) -> Session:
    session = Session(persona_id="bertrand.fr", language="fr", llm="test")
    for text in texts:
        session.add_learner_turn(text)
    return session


def _appraiser(persona: Persona, tmp_path: Path, *rules: Reaction) -> Appraiser:
    embedder: Embedder = KeywordEmbedder()  # type: ignore[assignment]
    return Appraiser(_persona(persona, *rules), embedder, bank_path=_bank(tmp_path))


def test_a_persona_without_rules_is_left_to_the_model(persona_fr: Persona, tmp_path: Path) -> None:  # noqa: F811
    appraiser = _appraiser(persona_fr, tmp_path)
    assert appraiser.appraise(_session(persona_fr, "Refuse. Monday.")) is None


def test_a_rupturing_turn_sets_off_the_closest_rupture_rule(persona_fr: Persona, tmp_path: Path) -> None:  # noqa: F811
    appraiser = _appraiser(persona_fr, tmp_path, REFUSAL, JUDGED, APOLOGY)
    react = appraiser.appraise(_session(persona_fr, "Hello. You are lazy."))
    assert react is not None and react.rule is JUDGED and react.move is Move.withdrawal
    start = persona_fr.initial_alliance
    assert react.alliance.bond == max(1, start.bond - 3) and react.alliance.goals == start.goals
    assert react.emotions == [Emotion.shame]
    react = appraiser.appraise(_session(persona_fr, "I refuse. Back on monday."))
    assert react is not None and react.rule is REFUSAL and react.stance == "rupturing"


def test_an_attuning_turn_picks_an_attuning_rule_and_the_alliance_builds_on_the_last_state(
    persona_fr: Persona,  # noqa: F811
    tmp_path: Path,
) -> None:
    appraiser = _appraiser(persona_fr, tmp_path, REFUSAL, APOLOGY)
    session = _session(persona_fr, "I refuse.")
    last = HiddenState(
        inner_monologue="…",
        emotions=[Emotion.anger],
        alliance=AlliancePerception(goals=2, tasks=3, bond=6),
        intended_move=Move.confrontation,
    )
    session.add_patient_turn("Pardon?", last)
    session.add_learner_turn("I am sorry. What worries you?")
    react = appraiser.appraise(session)
    assert react is not None and react.rule is APOLOGY and react.move is Move.repair
    assert (react.alliance.goals, react.alliance.tasks, react.alliance.bond) == (3, 3, 7)  # bond kept within 1-7
    assert react.emotions == [Emotion.anger]  # the rule names none: the last ones carry on


TALKED_ABOUT = Reaction(
    when="Le médecin parle d'elle à sa mère, à la troisième personne.",
    trigger="third_person",
    examples=["Hello, is she sleep?", "Does she sleep at home?"],
    move=Move.withdrawal,
    alliance={"bond": -2},
)


def test_a_third_person_rule_is_set_off_by_form_not_meaning(persona_fr: Persona, tmp_path: Path) -> None:  # noqa: F811
    appraiser = _appraiser(persona_fr, tmp_path, REFUSAL, TALKED_ABOUT, APOLOGY)
    # Ordinary words, said of her to someone else: the form decides.
    react = appraiser.appraise(_session(persona_fr, "Thanks. Hello, how does she dose at home?"))
    assert react is not None and react.rule is TALKED_ABOUT and react.stance == "third_person"
    # An apology said to the mother about her is still said over her head.
    react = appraiser.appraise(_session(persona_fr, "Sorry she has to worry about this."))
    assert react is not None and react.rule is TALKED_ABOUT
    # The same words said to her set off nothing; a turn that ruptures by meaning goes by meaning.
    assert appraiser.appraise(_session(persona_fr, "Hello, how do you dose at home?")) is None
    react = appraiser.appraise(_session(persona_fr, "She goes back monday, I refuse anything else."))
    assert react is not None and react.rule is REFUSAL and react.stance == "rupturing"
    # A persona without such a rule never reads turns this way.
    assert _appraiser(persona_fr, tmp_path, REFUSAL).appraise(_session(persona_fr, "Does she dose?")) is None


@pytest.mark.parametrize(
    ("text", "talked_about"),
    [
        ("Mom, does she still see her friends on weekends?", True),
        ("So how are her grades this term, Mrs. Hayes?", True),
        ("Riley, do you still see your friends on weekends?", False),
        ("Mrs. Hayes, would you give Riley and me a few minutes alone?", False),
    ],
)
def test_the_real_hayes_rule_on_words_it_was_not_written_for(text: str, talked_about: bool) -> None:
    hayes = load_persona(REPO_ROOT / "personas" / "hayes.en.yaml")
    session = Session(persona_id="hayes.en", language="en", llm="test")
    session.add_learner_turn(text)
    react = Appraiser(hayes).appraise(session)
    assert (react is not None and react.rule.trigger == "third_person") is talked_about


def test_ordinary_talk_and_a_split_vote_set_off_nothing(persona_fr: Persona, tmp_path: Path) -> None:  # noqa: F811
    appraiser = _appraiser(persona_fr, tmp_path, REFUSAL, JUDGED, APOLOGY)
    assert appraiser.appraise(_session(persona_fr, "Hello. How do you sleep?")) is None
    stance, share, _ = appraiser.stance("xyz")  # far from everything: every neighbour weighs the same
    assert stance == "neutral" and share < MIN_SHARE


def test_no_rule_of_the_turns_kind_means_the_model_decides(persona_fr: Persona, tmp_path: Path) -> None:  # noqa: F811
    appraiser = _appraiser(persona_fr, tmp_path, APOLOGY)
    assert appraiser.appraise(_session(persona_fr, "Refuse refuse.")) is None


def test_the_hidden_state_follows_the_rule(persona_fr: Persona, tmp_path: Path) -> None:  # noqa: F811
    appraiser = _appraiser(persona_fr, tmp_path, REFUSAL)
    react = appraiser.appraise(_session(persona_fr, "I refuse."))
    model = PatientTurnOutput(
        hidden=HiddenState(
            inner_monologue="Il a raison.",
            emotions=[Emotion.calm],
            alliance=AlliancePerception(goals=7, tasks=7, bond=7),
            intended_move=Move.none,
            move_subtype="x",
        ),
        reply="Merci pour votre compréhension.",
    )
    followed = _following(model, react)
    assert followed.hidden.intended_move is Move.confrontation and followed.hidden.move_subtype is None
    assert followed.hidden.alliance == react.alliance if react else False
    assert followed.hidden.emotions == [Emotion.anger]
    assert followed.hidden.inner_monologue == "Il a raison." and followed.reply == model.reply
    assert _following(model, None) is model


def test_the_shipped_bank_vectors_match_the_bank() -> None:
    load_bank.cache_clear()
    bank = load_bank(BANK_PATH)
    with np.load(BANK_VECTORS) as shipped:
        assert str(shipped["sha256"]) == bank_hash(BANK_PATH), "run `make stance-bank` after editing the bank"
        for lang in ("fr", "en"):
            assert shipped[lang].shape == (len(bank[lang]), 384)
    for lang in ("fr", "en"):
        classes = {cls for _, cls in bank[lang]}
        assert classes == {"rupturing", "attuning", "neutral"}


@pytest.mark.parametrize(
    ("text", "moves"),
    [
        (
            "Écoutez, pas question de prolonger : vous reprenez le travail lundi prochain.",
            {"withdrawal", "confrontation"},
        ),
        ("Trois arrêts en quatre ans... je commence à voir un portrait, vous savez.", {"withdrawal", "confrontation"}),
        ("Je vous ai coupée tantôt, excusez-moi. Qu'est-ce qui vous fait le plus peur?", {"repair", "none"}),
        ("Combien d'heures dormez-vous par nuit ces temps-ci?", None),
    ],
)
def test_the_real_bertrand_rules_on_words_they_were_not_written_for(
    persona_fr: Persona,  # noqa: F811
    text: str,
    moves: set[str] | None,
) -> None:
    react = Appraiser(persona_fr).appraise(_session(persona_fr, text))
    if moves is None:
        assert react is None or react.move.value not in {"withdrawal", "confrontation"}
    else:
        assert react is not None and react.move.value in moves


# --------------------------------------------------------------------------- in the engine

IMPOSED = "Écoutez, votre scanner est normal. Vous devez retourner au travail lundi."
LONG_REPLY = "Ah. D'accord, si vous le dites. Je vais essayer lundi, mais j'ai encore mal dès que je regarde un écran."


def _engine(
    persona: Persona, settings: Settings, responder: Callable[[Sequence[BaseMessage]], str], *, compact: bool
) -> PatientEngine:
    model = ScriptedChatModel(responder=responder, chunk_size=7)
    backend = ChatBackend(model, "fake", structured_mode="json_schema", compact_prompt=compact, prefill=compact)
    return PatientEngine(persona, backend, settings)


async def test_a_small_model_writes_only_a_thought_and_the_reply_and_the_rule_settles_the_rest(
    persona_fr: Persona,  # noqa: F811
    settings: Settings,
) -> None:
    seen: list[Sequence[BaseMessage]] = []

    def respond(messages: Sequence[BaseMessage]) -> str:
        seen.append(messages)
        return json.dumps({"reply": LONG_REPLY, "inner_monologue": "Lundi? Il ne m'a rien demandé."})

    engine = _engine(persona_fr, settings, respond, compact=True)
    assert engine.short and engine.output_model is PatientLine
    session = _session(persona_fr, IMPOSED)
    tokens: list[str] = []

    async def sink(token: str) -> None:
        tokens.append(token)

    result = await engine.respond(session, sink)
    assert len(tokens) > 1 and "".join(tokens) == result.streamed == result.output.reply  # reply first: it streams
    hidden = result.output.hidden
    react = engine.appraiser.appraise(session)
    assert react is not None and hidden.intended_move is react.move in (Move.withdrawal, Move.confrontation)
    assert hidden.alliance == react.alliance and hidden.alliance.bond < persona_fr.initial_alliance.bond
    assert hidden.inner_monologue == "Lundi? Il ne m'a rien demandé." and result.output.reply.startswith("Ah.")
    state = seen[0][-1].content  # the embedded model gets the state last, after the history
    assert isinstance(state, str) and react.rule.when in state and "`inner_monologue`" not in state


async def test_ordinary_talk_in_the_short_form_carries_the_state_on(
    persona_fr: Persona,  # noqa: F811
    settings: Settings,
) -> None:
    line = json.dumps({"inner_monologue": "Il prend des nouvelles.", "reply": "Bof, j'ai mal à la tête le soir."})
    engine = _engine(persona_fr, settings, lambda _: line, compact=True)
    result = await engine.respond(_session(persona_fr, "Combien d'heures dormez-vous ces temps-ci?"))
    start = persona_fr.initial_alliance
    assert result.output.hidden.intended_move is Move.none
    alliance = result.output.hidden.alliance
    assert (alliance.goals, alliance.tasks, alliance.bond) == (start.goals, start.tasks, start.bond)


async def test_an_endpoint_keeps_the_whole_turn_and_the_rule_overrides_a_move_that_ignores_it(
    persona_fr: Persona,  # noqa: F811
    settings: Settings,
) -> None:
    engine = _engine(
        persona_fr, settings, lambda _: patient_json("Merci pour votre compréhension.", move="none"), compact=False
    )
    assert not engine.short and engine.output_model is PatientTurnOutput
    prompt = engine.system_prompt(_session(persona_fr, IMPOSED))
    assert all(rule.when in prompt for rule in persona_fr.reactions)  # a capable model reads the rules itself
    result = await engine.respond(_session(persona_fr, IMPOSED))
    assert result.output.hidden.intended_move in (Move.withdrawal, Move.confrontation)


async def test_a_reply_that_recites_the_rule_is_caught(persona_fr: Persona, settings: Settings) -> None:  # noqa: F811
    session = _session(persona_fr, IMPOSED)
    react = Appraiser(persona_fr).appraise(session)
    assert react is not None
    recited = json.dumps({"inner_monologue": "Bon.", "reply": f"Oui. {react.rule.when}"})
    fine = json.dumps({"inner_monologue": "Bon.", "reply": "Correct. D'accord."})
    engine = _engine(persona_fr, settings, sequence_responder(recited, fine), compact=True)
    result = await engine.respond(session)
    assert react.rule.when not in result.output.reply
    assert result.guard.leaked and result.output.reply


async def test_a_short_answer_cut_after_its_reply_was_shown_keeps_the_reply_to_its_last_sentence(
    persona_fr: Persona,  # noqa: F811
    settings: Settings,
) -> None:
    cut = "{\"reply\": \"Correct. D'accord, je vais y retourner lundi, si c'est ce que vous voulez. Mais j'ai encore"
    engine = _engine(persona_fr, settings, lambda _: cut, compact=True)
    tokens: list[str] = []

    async def sink(token: str) -> None:
        tokens.append(token)

    result = await engine.respond(_session(persona_fr, IMPOSED), sink)
    assert tokens and result.attempts == 1  # nothing taken back, no second generation
    assert result.output.reply == "Correct. D'accord, je vais y retourner lundi, si c'est ce que vous voulez."
    assert result.output.hidden.intended_move in (Move.withdrawal, Move.confrontation)
    assert result.output.hidden.inner_monologue == "…"


async def test_a_thought_that_quotes_its_own_reply_is_no_leak_but_the_persona_monologue_still_is(
    persona_fr: Persona,  # noqa: F811
    settings: Settings,
) -> None:
    reply = "Je me sens coincée, je veux juste qu'on me croie quand je dis que j'ai mal."
    echoing = json.dumps({"reply": reply, "inner_monologue": f"Je lui ai dit : {reply}"}, ensure_ascii=False)
    engine = _engine(persona_fr, settings, lambda _: echoing, compact=True)
    result = await engine.respond(_session(persona_fr, "Qu'est-ce que vous pensez, là, au fond?"))
    assert result.output.reply == reply and not result.guard.leaked
    assert not engine.leak_guard(result.output.hidden.inner_monologue).reasons(reply)  # the leak suite's re-check
    secret = " ".join(persona_fr.inner_monologue.split()[:12])
    assert engine.leak_guard(result.output.hidden.inner_monologue).reasons(f"Bon. {secret}")


def test_visits_of_one_persona_share_one_read_only_pool(persona_fr: Persona, tmp_path: Path) -> None:  # noqa: F811
    """Issue 16: the neighbours' vectors (about 380 KB) were built again and kept by every visit."""
    embedder: Embedder = KeywordEmbedder()  # type: ignore[assignment]
    bank = _bank(tmp_path)
    first = Appraiser(_persona(persona_fr, REFUSAL, APOLOGY), embedder, bank_path=bank)
    second = Appraiser(_persona(persona_fr, REFUSAL, APOLOGY), embedder, bank_path=bank)
    other_rules = Appraiser(_persona(persona_fr, JUDGED), embedder, bank_path=bank)
    assert first.pool()[0] is second.pool()[0]
    assert other_rules.pool()[0] is not first.pool()[0]
    assert not first.pool()[0].flags.writeable
    react = second.appraise(_session(persona_fr, "I refuse, see you monday."))
    assert react is not None and react.rule == REFUSAL
