"""The node kinds of an IVR flow, one pydantic model each, and the edges between nodes."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from hub.routing.regions import check_region
from plugins.voice.ivr.prompts import IDENTIFIER, Prompts, Said, Strict, Text

GO, INPUT, CHOICE, VERIFIED = "go", "input", "choice", "verified"
"""How an edge is taken: with no input, after valid input, by a menu choice, after a right password."""
KEYS = "0123456789*#"
NAME = r"^[\w.-]{1,40}$"
"""Queue and service names."""
TARGET = r"^[A-Za-z0-9_+*#@./:-]{1,100}$"
"""Transfer targets: nothing that could break out of a dial string (no spaces, commas, braces)."""
TERMINATORS = r"^[*#]{0,2}$"

NodeId = Annotated[str, Field(min_length=1)]


class Node(Strict):
    """What every node has: a ``title`` for the path shown to the agent."""

    LINKS: ClassVar[Mapping[str, str]] = {}
    title: Text = ""

    def edges(self) -> Iterator[tuple[str, str, str]]:
        """(field, node id, how it is taken) for every node this one can go to."""
        for field, how in self.LINKS.items():
            if getattr(self, field):
                yield field, getattr(self, field), how


class PlayNode(Node):
    """Say the prompt, then go on."""

    LINKS = {"next": GO}
    kind: Literal["play"]
    prompt: Said
    next: NodeId


class AnnounceOutagesNode(Node):
    """Tell the caller about the major outages in their region (after ``prompt``), if any; then go on."""

    LINKS = {"next": GO}
    kind: Literal["announce_outages"]
    prompt: Prompts = ()
    next: NodeId


class InputNode(Node):
    """A node that asks for digits: ``tries`` answers at most, then ``on_failure``."""

    prompt: Said
    invalid: Prompts = ()
    """Said before asking again after a wrong answer (the prompt alone when empty)."""
    no_input: Prompts = ()
    """Said before asking again when nothing was pressed."""
    tries: int = Field(3, ge=1, le=10)
    timeout: float = Field(5.0, gt=0, le=60)
    """Seconds to wait for the first digit."""
    digit_timeout: float = Field(3.0, gt=0, le=30)
    on_failure: NodeId

    def shape(self) -> tuple[int, int, str, bool]:
        """(fewest digits, most digits, terminators, masked in the path) of one answer."""
        return 1, 1, "", False


class Option(Strict):
    """A menu choice: the node it goes to, its label in the path, variables it sets."""

    to: NodeId
    label: Text = ""
    set: dict[Annotated[str, Field(pattern=IDENTIFIER)], Text] = {}


class MenuNode(InputNode):
    """Press one key: each option goes to its node."""

    LINKS = {"on_failure": GO}
    kind: Literal["menu"]
    options: dict[str, Option] = Field(min_length=1)

    @field_validator("options", mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            return value
        return {str(key): {"to": to} if isinstance(to, str) else to for key, to in value.items()}

    @field_validator("options")
    @classmethod
    def _keys(cls, value: dict[str, Option]) -> dict[str, Option]:
        for key in value:
            if len(key) != 1 or key not in KEYS:
                raise ValueError(f"{key!r} is not a key; use one of 0-9, '*' and '#' (quoted)")
        return value

    def edges(self) -> Iterator[tuple[str, str, str]]:
        yield from ((f"options.{key}", option.to, CHOICE) for key, option in self.options.items())
        yield from super().edges()


class DigitsNode(InputNode):
    """An input node that takes several digits, ended by a terminator or the digit timeout."""

    min_digits: int = Field(1, ge=1, le=64)
    max_digits: int = Field(20, ge=1, le=64)
    terminators: str = Field("#", pattern=TERMINATORS)
    secret: bool = False
    """Masked in the path; never spoken."""

    @model_validator(mode="after")
    def _lengths(self) -> DigitsNode:
        if self.min_digits > self.max_digits:
            raise ValueError(f"min_digits {self.min_digits} is more than max_digits {self.max_digits}")
        return self

    def shape(self) -> tuple[int, int, str, bool]:
        return self.min_digits, self.max_digits, self.terminators, self.secret


class CollectNode(DigitsNode):
    """Collect digits into a variable; ``pattern`` (a regular expression) must match them all."""

    LINKS = {"next": INPUT, "on_failure": GO}
    kind: Literal["collect"]
    into: str = Field(pattern=IDENTIFIER)
    pattern: re.Pattern[str] | None = None
    next: NodeId


class VerifyNode(DigitsNode):
    """Ask for the service password and have ``service`` check it; ``next`` only when right."""

    LINKS = {"next": VERIFIED, "on_failure": GO}
    kind: Literal["verify"]
    service: str = Field("verify_password", pattern=NAME)
    min_digits: int = Field(6, ge=1, le=64)
    max_digits: int = Field(6, ge=1, le=64)
    secret: Literal[True] = True
    next: NodeId


class SurveyNode(InputNode):
    """Post-call satisfaction: press 1 to ``scale``; the score goes into ``into``."""

    kind: Literal["survey"]
    scale: int = Field(5, ge=2, le=9)
    into: str = Field("score", pattern=IDENTIFIER)
    next: NodeId
    on_failure: str = ""
    """Where to go without a score; ``next`` when empty."""

    def edges(self) -> Iterator[tuple[str, str, str]]:
        yield "next", self.next, INPUT if self.on_failure else GO
        if self.on_failure:
            yield "on_failure", self.on_failure, GO


class ServiceNode(Node):
    """Self-service: call a back-office service with the call's variables, then speak ``say``."""

    LINKS = {"next": GO, "on_failure": GO}
    kind: Literal["service"]
    service: str = Field(pattern=NAME)
    returns: tuple[Annotated[str, Field(pattern=IDENTIFIER)], ...] = ()
    """The values the service answers with; ``say`` may use them, and all must come back."""
    say: Said
    needs_verification: bool = False
    next: NodeId
    on_failure: NodeId


def _one_or_many(value: object) -> object:
    if isinstance(value, str | int):
        value = [value]
    return [str(v) if isinstance(v, int) else v for v in value] if isinstance(value, list) else value


Values = Annotated[frozenset[str], BeforeValidator(_one_or_many)]
"""One value or a list of them; YAML numbers are read as their digits."""


class Condition(Strict):
    """Facts a branch rule asks about; every one given must hold."""

    tier: Values | None = None
    vip: bool | None = None
    blocked: bool | None = None
    identified: bool | None = None
    verified: bool | None = None
    outage: bool | None = None
    open: bool | None = None
    region: Values | None = None
    """Region paths; the caller's region must be one of them or below one (``guangdong`` holds
    ``guangdong/shenzhen``), as in routing."""
    variables: dict[Annotated[str, Field(pattern=IDENTIFIER)], Values] = {}

    @model_validator(mode="after")
    def _some(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError("a rule needs at least one condition; use 'otherwise' for the rest")
        for area in self.region or ():
            check_region(area, "region")
        return self


class Rule(Strict):
    """Go ``to`` a node when the condition holds."""

    when: Condition
    to: NodeId


class BranchNode(Node):
    """Go to the first rule's node whose condition holds, else ``otherwise``."""

    LINKS = {"otherwise": GO}
    kind: Literal["branch"]
    rules: tuple[Rule, ...] = Field(min_length=1)
    otherwise: NodeId

    def edges(self) -> Iterator[tuple[str, str, str]]:
        yield from ((f"rules.{index}.to", rule.to, GO) for index, rule in enumerate(self.rules))
        yield from super().edges()


class QueueNode(Node):
    """Ask for a person: the IVR ends and the call waits in ``queue`` (routing may pick a regional
    group of it by the caller's region)."""

    kind: Literal["queue"]
    queue: Text = Field(pattern=NAME)
    priority: int = Field(0, ge=0, le=10)
    skills: tuple[str, ...] = ()
    prompt: Prompts = ()


class TransferNode(Node):
    """Send the call to a number or endpoint outside the centre; the IVR ends."""

    kind: Literal["transfer"]
    target: Text = Field(pattern=TARGET)
    prompt: Prompts = ()


class HangupNode(Node):
    """Say goodbye and hang up."""

    kind: Literal["hangup"]
    prompt: Said


AnyNode = Annotated[
    PlayNode | AnnounceOutagesNode | MenuNode | CollectNode | VerifyNode | SurveyNode | ServiceNode
    | BranchNode | QueueNode | TransferNode | HangupNode,
    Field(discriminator="kind"),
]
KINDS = ("play", "announce_outages", "menu", "collect", "verify", "survey", "service", "branch", "queue",
         "transfer", "hangup")
