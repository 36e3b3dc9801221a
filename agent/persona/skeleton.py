"""`alliance personas new`: a commented persona skeleton, written from the model's own field docs.

The comments come from the field descriptions of `agent/persona/` (in the chosen language),
so the skeleton, the JSON Schema and the docs cannot drift apart. The skeleton validates as
it is (every value is a placeholder the lint flags), so it can be tried before it is finished.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from agent.domain.taxonomy import Lang
from agent.i18n.catalog import t
from agent.persona.model import Persona, field_docs, nested_model
from agent.persona.schema import SCHEMA_COMMENT

_SKIP = {"schema_ref"}
_FIXED: dict[str, Any] = {"role": "patient", "self_repair": False, "disclose_when": "asked"}


def _comment(info: FieldInfo, lang: Lang, indent: str) -> list[str]:
    en, fr, all_examples = field_docs(info)
    text = fr if lang == "fr" and fr else en
    lines = [f"{indent}# {line}" for line in textwrap.wrap(text, 90 - len(indent))]
    examples = [e for e in all_examples if not isinstance(e, bool)]
    if examples:
        # The example in the chosen language when there are two (English first, French second).
        example = examples[-1] if lang == "fr" and len(examples) > 1 else examples[0]
        shown = example[0] if isinstance(example, list) else example
        lines.append(f"{indent}# {t('persona.skeleton.example', lang)} {shown}")
    return lines


def _model_lines(model: type[BaseModel], lang: Lang, indent: str = "") -> list[str]:
    lines: list[str] = []
    for name, info in model.model_fields.items():
        if name in _SKIP:
            continue
        key = info.alias or name
        lines += _comment(info, lang, indent)
        nested, is_list = nested_model(info)
        if name == "language":
            lines.append(f"{indent}{key}: {lang}")
        elif name == "reactions":  # optional, and a placeholder rule could not validate: an example to uncomment
            lines += [f"{indent}# {line}" for line in t("persona.skeleton.reaction_example", lang).splitlines()]
            lines.append(f"{indent}{key}: []")
        elif name in _FIXED:
            lines.append(f"{indent}{key}: {json.dumps(_FIXED[name])}")
        elif nested is not None:
            if is_list:
                lines.append(f"{indent}{key}:")
                lines += _list_of_models(_model_lines(nested, lang, indent + "    "), indent)
            else:
                lines.append(f"{indent}{key}:")
                lines += _model_lines(nested, lang, indent + "  ")
        elif info.annotation is int:
            lines.append(f"{indent}{key}: {info.default}")
        elif is_list:
            lines.append(f"{indent}{key}:")
            lines.append(f"{indent}  - {json.dumps(t('persona.skeleton.todo', lang) + key, ensure_ascii=False)}")
        else:
            lines.append(f"{indent}{key}: {json.dumps(t('persona.skeleton.todo', lang) + key, ensure_ascii=False)}")
        if not indent:
            lines.append("")
    return lines


def _list_of_models(sub: list[str], indent: str) -> list[str]:
    """Turn the lines of one nested model into the first item of a YAML list."""
    out: list[str] = []
    first_key = True
    for line in sub:
        if not first_key or line.lstrip().startswith("#"):
            out.append(line)
            continue
        stripped = line.strip()
        out.append(f"{indent}  - {stripped}")
        first_key = False
    return out


def skeleton(lang: Lang) -> str:
    header = [SCHEMA_COMMENT] + [f"# {line}" for line in t("persona.skeleton.header", lang).splitlines()] + [""]
    return "\n".join(header + _model_lines(Persona, lang)).rstrip() + "\n"
