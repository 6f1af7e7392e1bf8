"""An IVR flow document: its settings, read from YAML with ``load_flow``, which refuses a flow with
every problem it finds, each with its place (``nodes.main.options.9: goes to 'sales', ...``)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any, ClassVar

import yaml
from pydantic import Field, ValidationError, field_validator

from hub.errors import InvalidRequest
from hub.routing.schedule import Schedule
from plugins.voice.ivr import graph
from plugins.voice.ivr.nodes import KINDS, NAME, TARGET, TERMINATORS, AnyNode, QueueNode
from plugins.voice.ivr.prompts import IDENTIFIER, LANG, Prompts, Said, Strict, Text

VIP_NODE = "(vip)"
"""Id of the queue node the flow's ``vip`` setting makes; no YAML node id can look like it."""
MAX_TEXT = 512 * 1024
_HIDDEN_KEY = re.compile(r"^\s*#\s*:")
"""A menu key '#' written without quotes: YAML takes the whole line for a comment."""
_MESSAGES = {"missing": "is required", "extra_forbidden": "is not a field here",
             "too_short": "must not be empty"}
_PATTERNS = {
    NAME: "1-40 letters, digits, '.', '_' or '-'",
    IDENTIFIER: "a name of lower-case letters, digits and '_', like account_no",
    TARGET: "a number or endpoint like 95598 or sofia/gateway/gw1/95598",
    TERMINATORS: "up to two of '*' and '#'",
    LANG: "a language tag like zh-CN",
}


class Vip(Strict):
    """VIP callers go to ``queue`` right after node ``after`` (a play or announce_outages node)."""

    after: str
    queue: Text = Field(pattern=NAME)
    priority: int = Field(0, ge=0, le=10)
    prompt: Prompts = ()


class Blocked(Strict):
    """What a blocked caller hears, before the hangup, instead of reaching a queue or a transfer."""

    prompt: Said


class Flow(Strict):
    """A whole IVR flow: settings, entry points and nodes by id. Build one with ``load_flow``."""

    name: Text = Field(pattern=NAME)
    title: Text = ""
    language: str = Field("zh-CN", pattern=LANG)
    """The call's ``language`` variable at the start, unless the caller's facts carry one."""
    start: str
    survey: str = ""
    """The survey node a caller comes back to after the agent (no survey when empty)."""
    max_menu_depth: int = Field(1, ge=0, le=5)
    """Menu levels allowed below the main menu (the first menu a caller meets)."""
    hours: dict[str, Any] = {}
    """Opening hours for ``open`` conditions, written like a queue's schedule."""
    vip: Vip | None = None
    blocked: Blocked
    nodes: dict[str, AnyNode] = Field(min_length=1)
    @field_validator("hours")
    @classmethod
    def _hours(cls, hours: dict[str, Any]) -> dict[str, Any]:
        Schedule.from_json(hours)
        return hours

    @field_validator("nodes")
    @classmethod
    def _ids(cls, nodes: dict[str, Any]) -> dict[str, Any]:
        for node_id in nodes:
            if not re.match(IDENTIFIER, node_id):
                raise ValueError(f"{node_id!r} is not a node id; use lower-case letters, digits and '_'")
        return nodes

    # What calls need is worked out once per flow. Cached properties, not pydantic private
    # attributes: after the first read they are plain attribute lookups, which a step makes often.
    COMPILED: ClassVar[tuple[str, ...]] = ("schedule", "titles", "secrets", "languages", "vip_node")

    @cached_property
    def schedule(self) -> Schedule:
        """The opening hours ``open`` conditions ask about (always open when none are set)."""
        return Schedule.from_json(self.hours)

    @cached_property
    def titles(self) -> dict[str, str]:
        """Node id -> its title, or its id made readable (``balance_query`` -> ``Balance query``)."""
        titles = {node_id: node.title or node_id.replace("_", " ").capitalize()
                  for node_id, node in self.nodes.items()}
        return {**titles, VIP_NODE: "VIP"}

    @cached_property
    def secrets(self) -> frozenset[str]:
        """Variables collected with ``secret: true``: masked in the path, never given to routing."""
        return graph.variables(self)[1]

    @cached_property
    def languages(self) -> frozenset[str]:
        """The languages a call may be in: ``language`` and those menu options switch to."""
        return graph.languages(self)

    @cached_property
    def vip_node(self) -> QueueNode | None:
        """The queue node the ``vip`` setting makes."""
        vip = self.vip
        return None if vip is None else QueueNode(kind="queue", title="VIP", queue=vip.queue,
                                                  priority=vip.priority, prompt=vip.prompt)

    @property
    def entries(self) -> tuple[str, ...]:
        """Where callers come in: the start, and the survey after the agent."""
        return (self.start, self.survey) if self.survey else (self.start,)

    def node(self, node_id: str) -> Any:
        """The node called ``node_id``; the queue the ``vip`` setting makes for ``VIP_NODE``."""
        return self.vip_node if node_id == VIP_NODE else self.nodes[node_id]

    def title_of(self, node_id: str) -> str:
        """The title the path shows for a node."""
        return self.titles.get(node_id, node_id)


class FlowInvalid(InvalidRequest):
    """A flow document an admin must fix: ``problems`` lists every one found, each with its place."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        count = "1 problem" if len(self.problems) == 1 else f"{len(self.problems)} problems"
        super().__init__("invalid_ivr_flow", f"the IVR flow has {count}: " + "; ".join(self.problems))


def load_flow(text: str, *, services: Collection[str] | None = None) -> Flow:
    """The flow in YAML ``text``, checked whole; ``FlowInvalid`` lists every problem.

    ``services``: the names of the self-service and password services plugins offer; a flow
    naming another is refused. None skips that check (no plugins known yet).
    """
    return build_flow(_parse(text), services=services)


def _parse(text: str) -> Any:
    """The YAML document, or ``FlowInvalid`` saying on which line it goes wrong."""
    if len(text) > MAX_TEXT:
        raise FlowInvalid([f"the flow is {len(text)} characters; at most {MAX_TEXT}"])
    hidden = [f"line {number}: YAML reads '#:' as a comment; quote the key: \"#\":"
              for number, line in enumerate(text.splitlines(), 1) if _HIDDEN_KEY.match(line)]
    if hidden:
        raise FlowInvalid(hidden)
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader: see _Loader
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        hint = "; quote '*' and '#' keys" if "alias" in str(err.context) else ""
        raise FlowInvalid([f"{where}: {err.problem or err.context}{hint}"]) from err
    except yaml.YAMLError as err:
        raise FlowInvalid([f"YAML: {err}"]) from err


def build_flow(data: object, *, services: Collection[str] | None = None) -> Flow:
    """The flow in an already parsed document (YAML or JSON), checked whole, as ``load_flow``."""
    if not isinstance(data, Mapping):
        raise FlowInvalid(["the flow must be a mapping with name, start, blocked and nodes"])
    try:
        flow = Flow.model_validate(data)
    except ValidationError as err:
        errors = err.errors()
        raise FlowInvalid([_problem(error) for error in errors if not _echo(error, errors)]) from err
    found = [*_entry_problems(flow), *graph.problems(flow, services)]
    if found:
        raise FlowInvalid(found)
    for name in Flow.COMPILED:
        getattr(flow, name)  # now, so that no call pays for it
    return flow


def _entry_problems(flow: Flow) -> Iterator[str]:
    survey = flow.nodes.get(flow.survey)
    after_id = flow.vip.after if flow.vip else ""
    after = flow.nodes.get(after_id)
    if survey is not None and survey.kind != "survey":
        yield f"survey: '{flow.survey}' is a {survey.kind} node; name a survey node"
    if after is not None and after.kind not in ("play", "announce_outages"):
        yield f"vip.after: '{after_id}' is a {after.kind} node; name a play or announce_outages node"


def _echo(error: Any, errors: list[Any]) -> bool:
    """Whether ``error`` only repeats another: a list is "too short" when its items were refused."""
    loc = error["loc"]
    return error["type"] == "too_short" and any(
        other is not error and other["loc"][:len(loc)] == loc for other in errors)


def _problem(error: Any) -> str:
    """One pydantic error as ``place: what is wrong``, without the node kind in the place."""
    loc = [str(part) for part in error["loc"]]
    if len(loc) > 2 and loc[0] == "nodes" and loc[2] in KINDS:
        del loc[2]
    where, ctx = ".".join(loc) or "flow", error.get("ctx", {})
    if error["type"] in _MESSAGES:
        return f"{where}: {_MESSAGES[error['type']]}"
    if error["type"] == "union_tag_invalid":
        return f"{where}.kind: {ctx['tag']!r} is not a node kind; use one of {', '.join(KINDS)}"
    if error["type"] == "union_tag_not_found":
        return f"{where}: needs a kind, one of {', '.join(KINDS)}"
    if error["type"] == "string_pattern_mismatch" and ctx.get("pattern") in _PATTERNS:
        return f"{where}: {error['input']!r} is not {_PATTERNS[ctx['pattern']]}"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"


class _Loader(yaml.SafeLoader):
    """Safe YAML with YAML 1.2 scalars: ``no``/``on`` stay words, ``12:30`` and ``2025-10-01`` stay
    text, ``0755`` keeps its zero. No aliases (a small file cannot expand into a huge one) and
    no key twice (a second ``main:`` would silently replace the first)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.MarkedYAMLError(problem="aliases (*name) are not allowed; quote '*' and '#' keys",
                                       problem_mark=mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                continue  # the base class refuses a key that cannot be one
            if key in seen:
                raise yaml.MarkedYAMLError(problem=f"{key!r} is written twice",
                                           problem_mark=key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_DROPPED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:timestamp"}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false|True|False)$"),
                              list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"),
                              list("-+0123456789"))
