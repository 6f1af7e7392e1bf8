"""What an IVR says: prompt items (a sound file, a TTS text, or both) and their ``{variable}`` texts."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

IDENTIFIER = r"^[a-z][a-z0-9_]{0,39}$"
LANG = r"^[A-Za-z0-9_-]{0,40}$"
_FILE = re.compile(r"^(?!/)(?!(?:.*/)?\.\.(?:/|$))[\w./-]{1,200}$")


class Template:
    """Text with ``{variable}`` fields, parsed once. Rendering joins strings and never calls
    ``str.format``, so a flow cannot reach into the attributes of what it speaks."""

    __slots__ = ("names", "parts")

    def __init__(self, text: str) -> None:
        parts: list[tuple[str, str | None]] = []
        for literal, name, spec, conversion in string.Formatter().parse(text):
            if name is not None and (not re.match(IDENTIFIER, name) or spec or conversion):
                raise ValueError(f"{{{name}}} is not a variable; write a name like {{balance}}")
            parts.append((literal, name))
        self.parts = tuple(parts)
        self.names = frozenset(name for _, name in parts if name)

    def render(self, variables: Mapping[str, str]) -> str:
        """The text with each field replaced by its variable ("" for one the call does not have)."""
        return "".join(literal + (variables.get(name, "") if name else "") for literal, name in self.parts)


class Strict(BaseModel):
    """A part of a flow document: unknown fields are typos, and refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Prompt(Strict):
    """One thing to say: a sound file, a TTS text, or both (the file; the text is its transcript,
    shown in the path and spoken if the file cannot be played)."""

    file: str = ""
    tts: str = ""
    voice: str = Field("", pattern=LANG)
    """TTS voice; the call's language when empty."""
    lang: str = Field("", pattern=LANG)
    """Played only while the call's ``language`` variable is this (``en-US``); always when empty."""

    @model_validator(mode="after")
    def _check(self) -> Prompt:
        if not (self.file or self.tts):
            raise ValueError("give a sound file, a tts text, or both")
        if self.file and not _FILE.match(self.file):
            raise ValueError(f"file {self.file!r}: use a relative path of letters, digits, '_-./'")
        Template(self.tts)
        return self

    @cached_property
    def template(self) -> Template:
        """The TTS text, parsed (once; a plain attribute after, unlike pydantic's private ones)."""
        return Template(self.tts)

    def text(self, variables: Mapping[str, str]) -> str:
        """The TTS text with the call's variables in it."""
        return self.template.render(variables)

    @property
    def names(self) -> frozenset[str]:
        """The variables the text uses."""
        return self.template.names


def _as_text(value: object) -> object:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Text = Annotated[str, BeforeValidator(_as_text)]
"""A string; a YAML number (``95598``, ``5``) is taken as it is written."""


def _as_list(value: object) -> object:
    return [value] if isinstance(value, Mapping) else value


Prompts = Annotated[tuple[Prompt, ...], BeforeValidator(_as_list)]
"""One prompt item or a list of them; may be empty."""
Said = Annotated[tuple[Prompt, ...], BeforeValidator(_as_list), Field(min_length=1)]
"""One prompt item or a list of them; required."""
