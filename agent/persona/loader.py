"""Persona files: safe YAML loading, and errors that name file, line and field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.persona.model import Persona

MAX_PERSONA_BYTES = 256 * 1024  # a persona is a page or two of text; anything larger is a mistake
PERSONA_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class PersonaError:
    """One problem in one persona file, located as precisely as the file allows."""

    path: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        return self.located(str(self.path))

    def located(self, where: str) -> str:
        where = f"{where}:{self.line}" if self.line else where
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def for_learners(self) -> str:
        """The file's name only: a server's folders are nobody's business but its faculty's and its logs'."""
        return self.located(self.path.name)


class PersonaLoadError(Exception):
    def __init__(self, errors: list[PersonaError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass
class LoadedPersona:
    id: str
    path: Path
    persona: Persona
    nodes: yaml.Node | None = None  # the file's YAML node tree, kept to locate fields by line (lint)


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


def _parse_once(text: str) -> tuple[yaml.Node | None, Any]:
    """The YAML node tree (for line numbers) and the data built from that same tree: one parse."""
    loader = _SafeLineLoader(text)
    try:
        root = loader.get_single_node()  # type: ignore[no-untyped-call]
        return root, (loader.construct_document(root) if root is not None else None)  # type: ignore[no-untyped-call]
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


def parse_persona(text: str, path: Path) -> Persona:
    """Parse and validate persona YAML text. Raises PersonaLoadError with located errors."""
    return parse_persona_nodes(text, path)[0]


def parse_persona_nodes(text: str, path: Path) -> tuple[Persona, yaml.Node | None]:
    """The persona and the node tree it was built from (the YAML is parsed once)."""
    try:
        root, data = _parse_once(text)
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
        return Persona.model_validate(data), root
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


def load_persona_file(pid: str, path: Path) -> LoadedPersona:
    persona, nodes = parse_persona_nodes(read_persona_text(path), path)
    return LoadedPersona(pid, path, persona, nodes)


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
            library.personas[pid] = load_persona_file(pid, path)
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
        return load_persona_file(persona_id(candidate), candidate)
    if not _ID_RE.match(ref):
        raise PersonaLoadError([PersonaError(Path(ref), None, "", "not a persona id or a YAML file")])
    for suffix in PERSONA_SUFFIXES:
        path = directory / f"{ref}{suffix}"
        if path.exists():
            return load_persona_file(ref, path)
    known = ", ".join(sorted(persona_id(p) for p in directory.glob("*.y*ml"))) or "none"
    raise PersonaLoadError([PersonaError(directory / ref, None, "", f"no such persona (known: {known})")])
