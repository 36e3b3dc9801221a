"""The debrief's Jinja2 environment: templates in `templates/`, autoescaped, strict.

Every text from a session (the learner's words, the patient's thoughts, names) is hostile input:
autoescaping is on for every template, HTML and SVG alike, and nothing from a session is ever
marked safe. A missing variable is an error, never an empty string.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("agent.debrief", "templates"),
        autoescape=True,  # .html.j2 and .svg.j2 alike
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def rendered(markup: str) -> Markup:
    """Output of one of our own autoescaping templates, embedded in another (the SVG in the page)."""
    return Markup(markup)
