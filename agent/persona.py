"""Persona files: the typed model, safe YAML loading, and errors that name file, line and field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo

from agent.taxonomy import ALLIANCE_MAX, ALLIANCE_MIN, Lang

MAX_PERSONA_BYTES = 256 * 1024  # a persona is a page or two of text; anything larger is a mistake
PERSONA_SUFFIXES = (".yaml", ".yml")


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


@dataclass(frozen=True)
class PersonaError:
    """One problem in one persona file, located as precisely as the file allows."""

    path: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class PersonaLoadError(Exception):
    def __init__(self, errors: list[PersonaError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass
class LoadedPersona:
    id: str
    path: Path
    persona: Persona


@dataclass
class PersonaLibrary:
    personas: dict[str, LoadedPersona] = field(default_factory=dict)
    errors: list[PersonaError] = field(default_factory=list)


class _SafeLineLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (a silent override is an authoring mistake)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain name, not a list or a mapping", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_SafeLineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def persona_id(path: Path) -> str:
    """The id of a persona is its file name without the YAML suffix: ``bertrand.fr``."""
    name = path.name
    for suffix in PERSONA_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Find the 1-based line of the node at a pydantic error location."""
    node = root
    line = root.start_mark.line + 1 if root is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, _ in node.value if k.value == part), None)
            if match is None:
                return line
            line = (key or match).start_mark.line + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def read_persona_text(path: Path) -> str:
    """The text of a persona file, after the size, binary and encoding checks."""
    size = path.stat().st_size
    if size > MAX_PERSONA_BYTES:
        raise PersonaLoadError(
            [PersonaError(path, None, "", f"file is {size} bytes; a persona must be under {MAX_PERSONA_BYTES}")]
        )
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise PersonaLoadError([PersonaError(path, None, "", "binary file, not a YAML text file")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PersonaLoadError(
            [PersonaError(path, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
        ) from exc


def compose_nodes(text: str) -> yaml.Node | None:
    """The YAML node tree of a persona text, to locate fields by line (None when it does not parse)."""
    try:
        return yaml.compose(text, Loader=_SafeLineLoader)  # type: ignore[arg-type]
    except (yaml.YAMLError, RecursionError):
        return None


def parse_persona(text: str, path: Path) -> Persona:
    """Parse and validate persona YAML text. Raises PersonaLoadError with located errors."""
    try:
        root = yaml.compose(text, Loader=_SafeLineLoader)  # type: ignore[arg-type]
        data = yaml.load(text, Loader=_SafeLineLoader)
    except RecursionError as exc:
        raise PersonaLoadError([PersonaError(path, None, "", "YAML nested too deeply")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise PersonaLoadError([PersonaError(path, line, "", f"YAML syntax: {problem}")]) from exc
    if data is None:
        raise PersonaLoadError([PersonaError(path, None, "", "empty file")])
    if not isinstance(data, dict):
        raise PersonaLoadError([PersonaError(path, 1, "", "a persona is a mapping of fields, not a list or a scalar")])
    try:
        return Persona.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            dotted = ".".join(str(p) for p in loc)
            message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            errors.append(PersonaError(path, line_of(root, loc), dotted, message))
        raise PersonaLoadError(errors) from exc


def load_persona(path: Path) -> Persona:
    return parse_persona(read_persona_text(path), path)


_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def is_valid_id(pid: str) -> bool:
    return bool(_ID_RE.match(pid))


def persona_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in PERSONA_SUFFIXES and p.is_file())


def load_paths(paths: Iterable[Path]) -> PersonaLibrary:
    """Load persona files and every persona of the directories given. Broken files are reported, never fatal.

    Two files with the same id (``x.yaml`` and ``x.yml``, or the same name in two directories)
    are an error on the second: the first one loads.
    """
    library = PersonaLibrary()
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(persona_files(path))
        elif path.is_file():
            files.append(path)
        else:
            library.errors.append(PersonaError(path, None, "", "no such file or directory"))
    for path in files:
        pid = persona_id(path)
        if not _ID_RE.match(pid):
            message = (
                "the file name is the persona id: use lowercase letters, digits, '.', '-' or '_' (e.g. dupont.fr.yaml)"
            )
            library.errors.append(PersonaError(path, None, "", message))
            continue
        if pid in library.personas:
            first = library.personas[pid].path
            library.errors.append(PersonaError(path, None, "", f"duplicate persona id {pid!r} (already in {first})"))
            continue
        try:
            library.personas[pid] = LoadedPersona(pid, path, load_persona(path))
        except PersonaLoadError as exc:
            library.errors.extend(exc.errors)
        except OSError as exc:
            library.errors.append(PersonaError(path, None, "", f"cannot read: {exc.strerror}"))
    return library


def load_library(directory: Path) -> PersonaLibrary:
    """Load every persona in a directory (read afresh on each call: edits show up without a restart)."""
    if not directory.is_dir():
        return PersonaLibrary(errors=[PersonaError(directory, None, "", "persona directory not found")])
    return load_paths([directory])


def resolve_persona(ref: str, directory: Path) -> LoadedPersona:
    """Find a persona by id (``bertrand.fr``) or by path."""
    candidate = Path(ref)
    if candidate.suffix in PERSONA_SUFFIXES and candidate.exists():
        return LoadedPersona(persona_id(candidate), candidate, load_persona(candidate))
    if not _ID_RE.match(ref):
        raise PersonaLoadError([PersonaError(Path(ref), None, "", "not a persona id or a YAML file")])
    for suffix in PERSONA_SUFFIXES:
        path = directory / f"{ref}{suffix}"
        if path.exists():
            return LoadedPersona(ref, path, load_persona(path))
    known = ", ".join(sorted(persona_id(p) for p in directory.glob("*.y*ml"))) or "none"
    raise PersonaLoadError([PersonaError(directory / ref, None, "", f"no such persona (known: {known})")])
