"""Persona files: the typed model, safe YAML loading, and errors that name file, line and field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.taxonomy import ALLIANCE_MAX, ALLIANCE_MIN, Lang

MAX_PERSONA_BYTES = 256 * 1024  # a persona is a page or two of text; anything larger is a mistake
PERSONA_SUFFIXES = (".yaml", ".yml")

Score = Field(ge=ALLIANCE_MIN, le=ALLIANCE_MAX)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


class SpeechStyle(_Strict):
    register_: str = Field(
        alias="register",
        description="How the patient talks: formality, vocabulary, regional colour. "
        "Example: 'Québec French, vouvoie her doctor, plain words, a little nervous'.",
    )
    length: str = Field(description="Typical length of a reply. Example: 'two to four sentences; shorter when hurt'.")
    phrasings: list[str] = Field(
        default_factory=list,
        description="A few expressions the patient really uses, in the persona's language. "
        "They colour the speech; the patient does not recite them.",
    )


class GuardedFact(_Strict):
    fact: str = Field(description="Something true about the patient that they do not volunteer.")
    disclose_when: Literal["asked", "trust_high"] = Field(
        description="'asked': revealed when the clinician asks about it directly; "
        "'trust_high': revealed only once the bond feels solid (bond of 5 or more)."
    )


class AllianceStart(_Strict):
    goals: int = Field(4, ge=ALLIANCE_MIN, le=ALLIANCE_MAX, description="Agreement on aims at the start (1-7).")
    tasks: int = Field(4, ge=ALLIANCE_MIN, le=ALLIANCE_MAX, description="Agreement on who does what (1-7).")
    bond: int = Field(4, ge=ALLIANCE_MIN, le=ALLIANCE_MAX, description="Trust in the clinician (1-7).")


class Persona(_Strict):
    """A simulated patient, written by faculty. Every field is data; nothing here is code."""

    schema_ref: str | None = Field(
        None, alias="$schema", description="Path of the JSON Schema, for editors. Ignored by the app."
    )
    language: Lang = Field(description="Language the patient speaks: 'fr' or 'en'. Drives the whole session.")
    display_name: str = Field(description="How the learner sees the patient named. Example: 'Mme Bertrand'.")
    title: str = Field(description="One line naming the case for the patient picker.")
    case_brief: str = Field(
        description="What the learner reads before starting: the situation at the start of the visit, "
        "as the clinician knows it. Never the patient's hidden thoughts."
    )
    identity: str = Field(description="Who the patient is: age, work, family, what matters to them.")
    situation: str = Field(description="The clinical situation, as the patient lives it.")
    wants: str = Field(description="What the patient wants from this visit, and why.")
    fears: list[str] = Field(min_length=1, description="What the patient is afraid of, one per item.")
    history: str = Field(description="The relevant past: illnesses, earlier care, earlier encounters.")
    speech: SpeechStyle = Field(description="How the patient talks.")
    inner_monologue: str = Field(
        min_length=1,
        description="The patient's thoughts just before the visit, in the first person, in the persona's "
        "language. Hidden from the learner until the debrief.",
    )
    withdrawal_triggers: list[str] = Field(
        default_factory=list, description="What makes the patient shut down, go quiet or comply on the surface."
    )
    confrontation_triggers: list[str] = Field(
        default_factory=list, description="What makes the patient push back, complain or argue."
    )
    repair_responses: list[str] = Field(
        default_factory=list, description="What the clinician can do that restores the patient's trust."
    )
    self_repair: bool = Field(
        False,
        description="True when the patient, once the clinician shows openness, voices the tension "
        "themselves to repair it (patient-initiated repair).",
    )
    guarded_facts: list[GuardedFact] = Field(
        default_factory=list, description="Facts disclosed only when asked or when trust is high."
    )
    initial_alliance: AllianceStart = Field(
        default_factory=AllianceStart, description="The alliance as the patient perceives it when the visit opens."
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


def _line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
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


def _read_text(path: Path) -> str:
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
            errors.append(PersonaError(path, _line_of(root, loc), dotted, message))
        raise PersonaLoadError(errors) from exc


def load_persona(path: Path) -> Persona:
    return parse_persona(_read_text(path), path)


def load_library(directory: Path) -> PersonaLibrary:
    """Load every persona in a directory. Broken files are reported, never fatal."""
    library = PersonaLibrary()
    if not directory.is_dir():
        library.errors.append(PersonaError(directory, None, "", "persona directory not found"))
        return library
    for path in sorted(p for p in directory.iterdir() if p.suffix in PERSONA_SUFFIXES and p.is_file()):
        try:
            library.personas[persona_id(path)] = LoadedPersona(persona_id(path), path, load_persona(path))
        except PersonaLoadError as exc:
            library.errors.extend(exc.errors)
        except OSError as exc:
            library.errors.append(PersonaError(path, None, "", f"cannot read: {exc.strerror}"))
    return library


_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


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
