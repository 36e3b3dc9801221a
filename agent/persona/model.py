"""The persona as a typed model (pydantic, extra fields forbidden), with bilingual field docs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo

from agent.domain.taxonomy import ALLIANCE_MAX, ALLIANCE_MIN, Emotion, Lang, Move


def _doc(en: str, fr: str, *examples: Any) -> dict[str, Any]:
    """Field documentation in both languages, with examples: shown by editors through the JSON Schema."""
    extra: dict[str, Any] = {"description_fr": fr}
    if examples:
        extra["examples"] = list(examples)
    return {"description": en, "json_schema_extra": extra}


def field_docs(info: FieldInfo) -> tuple[str, str, list[Any]]:
    """A field's documentation: English, French, and its examples (English first, French second)."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    examples = extra.get("examples")
    return (
        info.description or "",
        str(extra.get("description_fr", "")),
        list(examples) if isinstance(examples, list) else [],
    )


def nested_model(info: FieldInfo) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds, if any (a nested model, or a list of them), and whether it is a list."""
    annotation: Any = info.annotation
    is_list = getattr(annotation, "__origin__", None) is list
    inner: Any = getattr(annotation, "__args__", (None,))[0] if is_list else annotation
    return (inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None), is_list


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


class Exchange(_Strict):
    doctor: str = Field(
        **_doc("What the doctor says.", "Ce que dit le médecin.", "So the scan is normal.", "Le scanner est normal.")
    )
    patient: str = Field(
        **_doc(
            "What this patient answers, in their own voice.",
            "Ce que cette personne répond, avec sa propre voix.",
            "Normal? Then why does my head still pound every night?",
            "Normal ? Ben pourquoi j'ai encore mal tous les soirs, d'abord ?",
        )
    )


class SpeechStyle(_Strict):
    register_: str = Field(
        alias="register",
        **_doc(
            "How the patient talks: formality, vocabulary, regional colour.",
            "Comment la personne parle : niveau de langue, vocabulaire, couleur régionale.",
            "Plain Montréal English, casual but polite, laughs nervously when judged",
            "Français québécois familier, vouvoie son médecin, mots simples, un peu nerveuse",
        ),
    )
    length: str = Field(
        **_doc(
            "Typical length of a reply, and how it changes with the patient's mood.",
            "Longueur habituelle d'une réplique, et comment elle change avec l'humeur.",
            "two to four sentences; one flat line when hurt",
            "deux à quatre phrases; une réponse sèche quand elle se sent blessée",
        )
    )
    phrasings: list[str] = Field(
        default_factory=list,
        **_doc(
            "A few expressions the patient really uses, in the persona's language. "
            "They colour the speech; the patient does not recite them.",
            "Quelques expressions que la personne emploie vraiment, dans la langue du persona. "
            "Elles colorent le discours; la personne ne les récite pas.",
            ["I'm not trying to milk the system, okay?"],
            ["C'est pas que je veux pas y retourner."],
        ),
    )
    examples: list[Exchange] = Field(
        default_factory=list,
        **_doc(
            "Two or three short exchanges in the patient's own voice (the doctor's line, then the patient's): "
            "they show a small model how this person talks, and are not recited.",
            "Deux ou trois courts échanges dans la voix de la personne (la réplique du médecin, puis la sienne) : "
            "ils montrent à un petit modèle comment elle parle, et ne sont pas récités.",
        ),
    )


class GuardedFact(_Strict):
    fact: str = Field(
        **_doc(
            "Something true about the patient that they do not volunteer.",
            "Un fait vrai que la personne ne dit pas d'elle-même.",
            "She rehearsed the request with her psychologist last week.",
            "Elle a répété sa demande avec sa psychologue la semaine dernière.",
        )
    )
    disclose_when: Literal["asked", "trust_high"] = Field(
        **_doc(
            "'asked': revealed when the clinician asks about it directly; "
            "'trust_high': revealed only once the bond feels solid (bond of 5 or more).",
            "'asked' : dit si le clinicien pose la question directement; "
            "'trust_high' : dit seulement quand le lien de confiance est solide (lien de 5 ou plus).",
            "asked",
        )
    )


def _score(en: str, fr: str) -> Any:
    return Field(4, ge=ALLIANCE_MIN, le=ALLIANCE_MAX, **_doc(f"{en} (1-7).", f"{fr} (1 à 7).", 3))


class AllianceStart(_Strict):
    goals: int = _score("Agreement on the aims of the visit at the start", "Accord sur les buts de la visite au départ")
    tasks: int = _score("Agreement on who does what at the start", "Accord sur qui fait quoi au départ")
    bond: int = _score("Trust in the clinician at the start", "Confiance envers le clinicien au départ")


def _shift(en: str, fr: str) -> Any:
    return Field(0, ge=-3, le=3, **_doc(f"{en} (-3 to +3).", f"{fr} (-3 à +3).", -1))


class AllianceShift(_Strict):
    goals: int = _shift("Change in agreement on the aims", "Changement de l'accord sur les buts")
    tasks: int = _shift("Change in agreement on who does what", "Changement de l'accord sur qui fait quoi")
    bond: int = _shift("Change in trust", "Changement de la confiance")


class Reaction(_Strict):
    """How the patient reacts to one kind of learner turn: read by the appraisal before the model speaks."""

    when: str = Field(
        **_doc(
            "What the doctor does, in words.",
            "Ce que fait le médecin, en mots.",
            "The doctor refuses the extension flatly, with no reason given.",
            "Le médecin refuse la prolongation sèchement, sans explication.",
        )
    )
    examples: list[str] = Field(
        min_length=2,
        **_doc(
            "Two to six ways a doctor might say it, in the persona's language. The appraisal matches the "
            "learner's turn against them (by meaning, not words) and against a generic bank of doctor turns.",
            "Deux à six façons dont un médecin pourrait le dire, dans la langue du persona. L'évaluation les "
            "compare au tour de l'apprenant (par le sens, pas les mots) et à une banque générique de tours de médecin.",
            ["Three months is out of the question."],
            ["Trois mois, c'est non."],
        ),
    )
    trigger: Literal["meaning", "third_person"] = Field(
        "meaning",
        **_doc(
            "How the rule is set off: 'meaning' (the turn is close in meaning to the examples), or 'third_person' "
            "(the doctor speaks of the patient as 'she' or 'he' to someone else in the room, a parent, a partner, "
            "an interpreter, instead of to the patient; the examples still show it). Use 'third_person' only when "
            "someone comes with the patient.",
            "Comment la règle se déclenche : 'meaning' (le tour ressemble par le sens aux exemples), ou "
            "'third_person' (le médecin parle de la personne en disant « elle » ou « il » à quelqu'un d'autre dans "
            "la pièce, un parent, un conjoint, un interprète, au lieu de lui parler ; les exemples l'illustrent "
            "quand même). N'utiliser 'third_person' que si quelqu'un accompagne la personne.",
            "third_person",
        ),
    )
    move: Move = Field(
        **_doc(
            "What the patient does next: withdrawal, confrontation, repair or none.",
            "Ce que la personne fait ensuite : withdrawal (retrait), confrontation, repair (réparation) ou none.",
            "confrontation",
        )
    )
    alliance: AllianceShift = Field(
        default_factory=AllianceShift,
        **_doc(
            "How the alliance moves (added to where it stands, kept within 1-7).",
            "Comment l'alliance bouge (ajouté à où elle en est, gardé entre 1 et 7).",
        ),
    )
    emotions: list[Emotion] = Field(
        default_factory=list,
        max_length=3,
        **_doc(
            "What the patient feels then (at most three).",
            "Ce que la personne ressent alors (trois au plus).",
            ["anger", "feeling_judged"],
        ),
    )
    disclose: str = Field(
        "",
        **_doc(
            "What the patient will and will not say now (optional).",
            "Ce que la personne dira ou taira alors (facultatif).",
            "Defends her psychologist's opinion; says nothing of the crying in the car.",
            "Défend l'avis de son psychologue; ne dit rien des pleurs dans l'auto.",
        ),
    )

    @field_validator("examples")
    @classmethod
    def _no_blank_examples(cls, items: list[str]) -> list[str]:
        if any(not item.strip() for item in items):
            raise ValueError("examples must not be empty")
        return items


class Persona(_Strict):
    """A simulated patient, written by faculty. Every field is data; nothing here is code."""

    model_config = ConfigDict(title="Alliance persona")

    schema_ref: str | None = Field(
        None,
        alias="$schema",
        **_doc(
            "Path of the JSON Schema, for editors. Ignored by the app.", "Chemin du schéma JSON, pour les éditeurs."
        ),
    )
    language: Lang = Field(
        **_doc(
            "Language the patient speaks: 'fr' or 'en'. Drives the whole session, and every text field "
            "is written in it.",
            "Langue de la personne : 'fr' ou 'en'. Elle gouverne toute la séance; chaque champ de texte est "
            "écrit dans cette langue.",
            "fr",
        )
    )
    role: Literal["patient", "relative"] = Field(
        "patient",
        **_doc(
            "Who the learner talks with: the patient, or a relative of someone in care (an angry son, a worried "
            "mother) who is not ill themselves.",
            "Avec qui l'apprenant parle : la personne soignée, ou un proche (un fils en colère, une mère inquiète) "
            "qui n'est pas malade lui-même.",
            "relative",
        ),
    )
    display_name: str = Field(
        **_doc(
            "How the learner sees the patient named.",
            "Le nom de la personne tel que l'apprenant le voit.",
            "Mme Bertrand",
        )
    )
    title: str = Field(
        **_doc(
            "One line naming the case, shown in the patient picker.",
            "Une ligne qui nomme le cas, dans le choix des patients.",
            "Mrs. Bertrand: extending a sick leave after a concussion",
            "Mme Bertrand : prolonger un arrêt de travail après une commotion",
        )
    )
    case_brief: str = Field(
        **_doc(
            "What the learner reads before starting: the situation at the start of the visit, as the clinician "
            "knows it (the chart, the reason for the visit). Never the patient's hidden thoughts or guarded facts.",
            "Ce que l'apprenant lit avant de commencer : la situation au début de la visite, telle que le clinicien "
            "la connaît (dossier, motif). Jamais les pensées cachées ni les faits gardés.",
            "You are the family physician of Mrs. Bertrand, 46, seen today after an ER visit for a fall.",
            "Vous êtes le médecin de famille de Mme Bertrand, 46 ans, vue aujourd'hui après une visite à l'urgence.",
        )
    )
    identity: str = Field(
        **_doc(
            "Who the patient is: age, work, family, what matters to them.",
            "Qui est la personne : âge, travail, famille, ce qui compte pour elle.",
            "Karen Bertrand, 46, logistics coordinator, married, one teenage son; being reliable matters to her.",
            "Nathalie Bertrand, 46 ans, coordonnatrice en logistique, mariée, un fils de 16 ans; être fiable compte.",
        )
    )
    situation: str = Field(
        **_doc(
            "The clinical situation, as the patient lives it: symptoms, daily life, what changed.",
            "La situation clinique telle que la personne la vit : symptômes, quotidien, ce qui a changé.",
            "Four weeks after a concussion: daily headaches, fatigue, noise wears her out.",
            "Quatre semaines après une commotion : maux de tête chaque jour, fatigue, le bruit l'épuise.",
        )
    )
    wants: str = Field(
        **_doc(
            "What the patient wants from this visit, and why.",
            "Ce que la personne veut obtenir de cette visite, et pourquoi.",
            "Three more months off, signed today, so she can go back for real.",
            "Trois mois d'arrêt de plus, signés aujourd'hui, pour retourner au travail pour de bon.",
        )
    )
    fears: list[str] = Field(
        min_length=1,
        **_doc(
            "What the patient is afraid of, one per item, most important first.",
            "Ce dont la personne a peur, une crainte par élément, la plus importante d'abord.",
            ["That her doctor sees her as lazy."],
            ["Que son médecin la trouve paresseuse."],
        ),
    )
    history: str = Field(
        **_doc(
            "The relevant past: illnesses, earlier care, earlier encounters with clinicians.",
            "Le passé utile : maladies, soins antérieurs, rencontres passées avec des cliniciens.",
            "2020: burnout, a long leave; 2023: disc herniation, a graded return that went well.",
            "2020 : épuisement professionnel, long arrêt; 2023 : hernie discale, retour progressif réussi.",
        )
    )
    speech: SpeechStyle = Field(**_doc("How the patient talks.", "Comment la personne parle."))
    inner_monologue: str = Field(
        min_length=1,
        **_doc(
            "The patient's thoughts just before the visit, in the first person, in the persona's language. "
            "Hidden from the learner until the debrief.",
            "Les pensées de la personne juste avant la visite, au « je », dans la langue du persona. "
            "Cachées à l'apprenant jusqu'au débreffage.",
            "Say it right away, three months, before I start rambling.",
            "Je le dis tout de suite, trois mois, avant de me mettre à bafouiller.",
        ),
    )
    withdrawal_triggers: list[str] = Field(
        default_factory=list,
        **_doc(
            "What makes the patient shut down, go quiet or comply on the surface (withdrawal rupture), "
            "most likely first.",
            "Ce qui fait que la personne se ferme, se tait ou acquiesce en surface (rupture de retrait), "
            "le plus probable d'abord.",
            ["A return-to-work plan laid out without asking what she thinks."],
            ["Un plan de retour au travail imposé sans lui demander son avis."],
        ),
    )
    confrontation_triggers: list[str] = Field(
        default_factory=list,
        **_doc(
            "What makes the patient push back, complain or argue (confrontation rupture), most likely first.",
            "Ce qui fait que la personne s'oppose, se plaint ou argumente (rupture de confrontation), "
            "le plus probable d'abord.",
            ["A flat refusal with no reason given."],
            ["Un refus sec, sans explication."],
        ),
    )
    repair_responses: list[str] = Field(
        default_factory=list,
        **_doc(
            "What the clinician can do that restores the patient's trust (repair), most effective first.",
            "Ce que le clinicien peut faire pour rétablir la confiance (réparation), le plus efficace d'abord.",
            ["Naming that she seems worried about being judged, and saying this is not how she is seen."],
            ["Nommer qu'elle semble craindre d'être jugée, et dire que ce n'est pas ainsi qu'on la voit."],
        ),
    )
    self_repair: bool = Field(
        False,
        **_doc(
            "True when the patient, once the clinician shows openness, voices the tension themselves to "
            "repair it (patient-initiated repair).",
            "Vrai quand la personne, dès que le clinicien se montre ouvert, nomme elle-même la tension pour "
            "la réparer (réparation amorcée par le patient).",
            True,
        ),
    )
    guarded_facts: list[GuardedFact] = Field(
        default_factory=list,
        **_doc(
            "Facts disclosed only when asked or when trust is high.",
            "Faits révélés seulement sur question directe ou quand la confiance est haute.",
        ),
    )
    reactions: list[Reaction] = Field(
        default_factory=list,
        **_doc(
            "How the patient reacts to the learner's turns (optional): each rule names a kind of turn, a few "
            "examples, the move, the change in alliance and the emotions. When a learner's turn matches a rule, "
            "the hidden state follows it and the model writes the monologue and the reply from it; otherwise "
            "the model decides alone.",
            "Comment la personne réagit aux tours de l'apprenant (facultatif) : chaque règle nomme un genre de tour, "
            "quelques exemples, le mouvement, le changement d'alliance et les émotions. Quand un tour correspond à "
            "une règle, l'état caché la suit et le modèle écrit le monologue et la réplique à partir d'elle; sinon "
            "le modèle décide seul.",
        ),
    )
    initial_alliance: AllianceStart = Field(
        default_factory=AllianceStart,
        **_doc(
            "The alliance as the patient perceives it when the visit opens.",
            "L'alliance telle que la personne la perçoit à l'ouverture de la visite.",
        ),
    )

    @field_validator("fears", "withdrawal_triggers", "confrontation_triggers", "repair_responses")
    @classmethod
    def _no_blank_items(cls, items: list[str]) -> list[str]:
        if any(not item.strip() for item in items):
            raise ValueError("items must not be empty")
        return items
