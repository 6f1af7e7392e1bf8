"""Checks of a flow as a whole, once each node is valid on its own: every edge lands on a node,
every node is reached, no loop a silent caller never leaves, shallow menus, a verified password
before the services that need one, and only variables the flow has."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any

from plugins.voice.ivr.nodes import CHOICE, GO, INPUT, VERIFIED, CollectNode, ServiceNode, SurveyNode
from plugins.voice.ivr.prompts import Prompt

if TYPE_CHECKING:
    from plugins.voice.ivr.flow import Flow

FACTS = ("number", "customer_id", "customer_name", "tier", "region", "language")
"""Variables every call has, from the caller's facts."""
_FAR = 1 << 30


def problems(flow: Flow, services: Collection[str] | None = None) -> list[str]:
    """Everything wrong with the flow as a whole, node by node in document order."""
    missing = list(_missing(flow))
    found = [*missing, *_variables(flow), *_unspoken(flow), *_services(flow, services)]
    if missing:
        return found  # the walks below follow every edge, so each must land on a node
    return [*found, *_unreached(flow), *_silent_loops(flow), *_too_deep(flow), *_unverified(flow)]


def _missing(flow: Flow) -> Iterator[str]:
    after = flow.vip.after if flow.vip else ""
    for where, target in (("start", flow.start), ("survey", flow.survey), ("vip.after", after)):
        if target and target not in flow.nodes:
            yield f"{where}: '{target}' is not a node"
    for node_id, node in flow.nodes.items():
        for field, target, _how in node.edges():
            if target not in flow.nodes:
                yield f"nodes.{node_id}.{field}: goes to '{target}', which is not a node"


def reached(flow: Flow, ways: Collection[str] = (GO, INPUT, CHOICE, VERIFIED)) -> set[str]:
    """The nodes a caller can reach from the entries, taking only edges of the ``ways`` given."""
    seen, todo = set(flow.entries), list(flow.entries)
    while todo:
        for _field, target, how in flow.nodes[todo.pop()].edges():
            if how in ways and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _unreached(flow: Flow) -> Iterator[str]:
    seen = reached(flow)
    whence = "start or the survey" if flow.survey else "start"
    yield from (f"nodes.{node_id}: is never reached from {whence}" for node_id in flow.nodes
                if node_id not in seen)


def _unverified(flow: Flow) -> Iterator[str]:
    unverified = reached(flow, (GO, INPUT, CHOICE))
    for node_id, node in flow.nodes.items():
        if isinstance(node, ServiceNode) and node.needs_verification and node_id in unverified:
            yield (f"nodes.{node_id}: needs a verified service password but can be reached without "
                   "one; put a verify node before it")


def _silent_loops(flow: Flow) -> Iterator[str]:
    """Loops of edges taken without input: a caller who presses nothing would go round forever."""
    state: dict[str, bool] = {}  # True while on the walk's trail, False once done
    for root in flow.nodes:
        if root not in state:
            yield from _loops_from(flow, root, state)


def _loops_from(flow: Flow, root: str, state: dict[str, bool]) -> Iterator[str]:
    # An iterative depth-first walk: a flow may be longer than Python's recursion limit.
    trail, stack = [root], [_silent_edges(flow, root)]
    state[root] = True
    while stack:
        target = next(stack[-1], None)
        if target is None:
            state[trail.pop()] = False
            stack.pop()
        elif state.get(target):
            loop = [*trail[trail.index(target):], target]
            yield (f"nodes.{target}: {' -> '.join(loop)} goes round forever for a caller who presses "
                   "nothing; end it with a hangup, queue or transfer")
        elif target not in state:
            state[target] = True
            trail.append(target)
            stack.append(_silent_edges(flow, target))


def _silent_edges(flow: Flow, node_id: str) -> Iterator[str]:
    return (target for _field, target, how in flow.nodes[node_id].edges() if how == GO)


def menu_levels(flow: Flow) -> dict[str, int]:
    """The fewest menu choices a caller makes to reach each node (a 0-1 breadth-first search)."""
    level, todo = dict.fromkeys(flow.entries, 0), deque(flow.entries)
    while todo:
        node_id = todo.popleft()
        for _field, target, how in flow.nodes[node_id].edges():
            step = level[node_id] + (how == CHOICE)
            if step < level.get(target, _FAR):
                level[target] = step
                todo.append(target) if how == CHOICE else todo.appendleft(target)
    return level


def _too_deep(flow: Flow) -> Iterator[str]:
    level = menu_levels(flow)
    menus = {node_id: level[node_id] for node_id, node in flow.nodes.items() if node.kind == "menu"}
    main = min(menus.values(), default=0)
    for node_id, depth in menus.items():
        if depth - main > flow.max_menu_depth:
            yield (f"nodes.{node_id}: a menu {depth - main} levels below the main menu; at most "
                   f"{flow.max_menu_depth} allowed (max_menu_depth)")


def _declared(flow: Flow) -> Iterator[tuple[str, str, bool]]:
    """(place, variable, secret) for every variable a node stores."""
    for node_id, node in flow.nodes.items():
        if isinstance(node, CollectNode | SurveyNode):
            yield f"nodes.{node_id}.into", node.into, isinstance(node, CollectNode) and node.secret
        for index, name in enumerate(getattr(node, "returns", ())):
            yield f"nodes.{node_id}.returns.{index}", name, False
        for key, option in getattr(node, "options", {}).items():
            yield from ((f"nodes.{node_id}.options.{key}.set", name, False) for name in option.set)


def variables(flow: Flow) -> tuple[frozenset[str], frozenset[str]]:
    """(every variable the flow has, the secret ones among them)."""
    declared = list(_declared(flow))
    return (frozenset(FACTS) | {name for _, name, _ in declared},
            frozenset(name for _, name, secret in declared if secret))


def _variables(flow: Flow) -> Iterator[str]:
    known, secret = variables(flow)
    for where, name, _secret in _declared(flow):
        if name in FACTS and name != "language":
            yield f"{where}: '{name}' is a fact of the caller; the flow cannot change it"
    for where, prompt in _prompts(flow):
        for name in sorted(prompt.names):
            if name in secret:
                yield f"{where}.tts: {{{name}}} is secret and is never spoken"
            elif name not in known:
                yield f"{where}.tts: {{{name}}} is not a variable of this flow"
    for node_id, node in flow.nodes.items():
        for index, rule in enumerate(getattr(node, "rules", ())):
            for name in sorted(set(rule.when.variables) - known):
                yield f"nodes.{node_id}.rules.{index}.when.variables: '{name}' is not a variable of this flow"


def languages(flow: Flow) -> frozenset[str]:
    """The flow's ``language`` and every language a menu option switches the call to."""
    chosen = {option.set["language"] for node in flow.nodes.values()
              for option in getattr(node, "options", {}).values() if "language" in option.set}
    return frozenset({flow.language, *chosen})


def _unspoken(flow: Flow) -> Iterator[str]:
    """Prompt lists with nothing to say in one of the call's languages (every item is for another)."""
    spoken = sorted(languages(flow))
    for where, prompts in _prompt_lists(flow):
        for language in spoken:
            if not any(not prompt.lang or prompt.lang == language for prompt in prompts):
                yield f"{where}: nothing to say in {language}; add an item with lang: {language} or no lang"


def _prompts(flow: Flow) -> Iterator[tuple[str, Prompt]]:
    for where, prompts in _prompt_lists(flow):
        yield from ((f"{where}.{index}", prompt) for index, prompt in enumerate(prompts))


def _prompt_lists(flow: Flow) -> Iterator[tuple[str, tuple[Prompt, ...]]]:
    """Every non-empty list of prompt items in the flow, with its place."""
    parts: list[tuple[str, Any]] = [(f"nodes.{node_id}", node) for node_id, node in flow.nodes.items()]
    parts += [("vip", flow.vip)] if flow.vip else []
    for where, part in [*parts, ("blocked", flow.blocked)]:
        for field in type(part).model_fields:
            value = getattr(part, field)
            if isinstance(value, tuple) and value and isinstance(value[0], Prompt):
                yield f"{where}.{field}", value


def _services(flow: Flow, services: Collection[str] | None) -> Iterator[str]:
    if services is None:
        return
    for node_id, node in flow.nodes.items():
        name = getattr(node, "service", None)
        if name is not None and name not in services:
            known = ", ".join(sorted(services)) or "none"
            yield f"nodes.{node_id}.service: '{name}' is not a service any plugin offers (offered: {known})"
