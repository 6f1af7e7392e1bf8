"""Runs one call through a flow: a pure state machine that answers each result with the next
action. No I/O and no FreeSWITCH: the voice channel performs each action (play_and_get_digits,
a back-office call, a bridge...) and feeds back what became of it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.routing.regions import within
from plugins.voice.ivr import nodes
from plugins.voice.ivr.actions import (
    ANSWERS,
    Action,
    Audio,
    CallerHungUp,
    CallService,
    Collect,
    Digits,
    Hangup,
    NoInput,
    Play,
    Played,
    Result,
    RouteToQueue,
    ServiceResult,
    Transfer,
    Verify,
)
from plugins.voice.ivr.flow import VIP_NODE, Flow
from plugins.voice.ivr.path import MASK, CallPath, Step
from plugins.voice.ivr.prompts import Prompt


@dataclass(frozen=True, slots=True)
class Facts:
    """What is known of the caller as the call arrives: identity, routing's notions, outages."""

    number: str
    customer_id: int | None = None
    customer_name: str = ""
    tier: str = "ordinary"
    vip: bool = False
    blocked: bool = False
    region: str = ""
    outages: tuple[str, ...] = ()
    """What to tell the caller about the major outages in their region."""
    language: str = ""

    def variables(self, language: str) -> dict[str, str]:
        """The call's variables at the start."""
        customer_id = "" if self.customer_id is None else str(self.customer_id)
        return {"number": self.number, "customer_id": customer_id, "customer_name": self.customer_name,
                "tier": self.tier, "region": self.region, "language": language}


def facts_from_caller(caller: Mapping[str, Any], language: str = "") -> Facts:
    """The facts of a caller as ``Hub.caller(number)`` gives them: the customer, their tier
    and VIP standing, the blocklist, the region and the outages told there."""
    return Facts(str(caller["number"]), caller.get("customer_id"), caller.get("name") or "",
                 caller.get("tier") or "ordinary", bool(caller.get("vip")), bool(caller.get("blocked")),
                 caller.get("region") or "", tuple(caller.get("outages") or ()), language)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class IvrRun:
    """One call's way through a flow: ``start()``, then ``feed()`` what became of each action until
    a final one; ``path`` records every step. Built-in rules whatever the flow says: a blocked
    caller never reaches a queue or a transfer, and a VIP goes to the ``vip`` queue."""

    def __init__(self, flow: Flow, facts: Facts, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.flow, self.facts, self._clock = flow, facts, clock
        # A language the flow has no prompts for would leave the caller in silence.
        language = facts.language if facts.language in flow.languages else flow.language
        self.variables = facts.variables(language)
        self.path = CallPath()
        self.verified = False
        self.action: Action | None = None
        self._node_id, self._tries = "", 0
        self._node: Any = None  # the node being visited, of any kind
        self._step: Step  # its step in the path, set on entering it

    @property
    def done(self) -> bool:
        """Whether a final action was given (the IVR part of the call is over)."""
        return isinstance(self.action, RouteToQueue | Transfer | Hangup)

    @property
    def score(self) -> int | None:
        """The satisfaction score the caller gave, if any."""
        scored = [step for step in self.path.steps if step.outcome == "scored"]
        return int(scored[-1].detail) if scored else None

    def public_variables(self) -> dict[str, str]:
        """The call's variables without the secret ones."""
        return {name: value for name, value in self.variables.items() if name not in self.flow.secrets}

    def start(self) -> Action:
        """The first action of the call."""
        if self.action is not None:
            raise RuntimeError("this IVR run has already started")
        return self._run(self.flow.start)

    def after_agent(self) -> Action:
        """The agent left and the caller is still there: the survey, or the hangup without one."""
        if not isinstance(self.action, RouteToQueue):
            raise RuntimeError("the caller was not sent to an agent")
        return self._run(self.flow.survey) if self.flow.survey else self._emit(Hangup("completed"))

    def back_at(self, node_id: str) -> Action:
        """An agent sent the caller back into the flow at ``node_id`` (a menu, the password,
        a self-service): the path goes on from there."""
        if not isinstance(self.action, RouteToQueue):
            raise RuntimeError("the caller was not sent to an agent")
        if node_id not in self.flow.nodes:
            raise KeyError(node_id)
        return self._run(node_id)

    def feed(self, result: Result) -> Action:
        """The next action, given what became of the last one."""
        answers = ANSWERS.get(type(self.action), ())
        if not isinstance(result, answers):
            waiting = type(self.action).__name__ if self.action else "nothing (call start() first)"
            raise TypeError(f"{type(result).__name__} does not answer {waiting}")
        if isinstance(result, CallerHungUp):
            self._close("caller_hung_up")
            return self._emit(Hangup("caller_hung_up"))
        if isinstance(result, Played):
            return self._run(self._leave(self._node.next, "ok" if self._node.kind == "service" else "played"))
        if isinstance(result, Digits | NoInput):
            return self._run(self._answer(result))
        return self._run(self._checked(result) if isinstance(self.action, Verify) else self._served(result))

    def _run(self, outcome: Action | str) -> Action:
        """Enter nodes until one gives an action. load_flow refuses loops without input, so the
        bound is only a guard."""
        for _ in range(len(self.flow.nodes) + 2):
            if not isinstance(outcome, str):
                return outcome
            outcome = self._enter(outcome)
        raise RuntimeError(f"the flow goes round without input at {self._node_id!r}")

    def _enter(self, node_id: str) -> Action | str:
        node = self.flow.node(node_id)
        self._node_id, self._node, self._tries = node_id, node, 0
        self._step = self.path.open(node_id, node.kind, self.flow.title_of(node_id), self._clock())
        return getattr(self, f"_enter_{node.kind}")(node)  # type: ignore[no-any-return]

    def _enter_play(self, node: nodes.PlayNode) -> Action:
        return self._emit(Play(self._say(node.prompt)))

    def _enter_announce_outages(self, node: nodes.AnnounceOutagesNode) -> Action | str:
        if not self.facts.outages:
            return self._leave(node.next, "none")
        news = tuple(Audio("", text, self.flow.language) for text in self.facts.outages)
        return self._emit(Play(self._say(node.prompt) + news))

    def _enter_service(self, node: nodes.ServiceNode) -> Action | str:
        if node.needs_verification and not self.verified:
            return self._leave(node.on_failure, "not_verified")  # load_flow makes this unreachable
        self._step.detail = "verified" if self.verified else ""
        return self._emit(CallService(node.service, dict(self.variables)))

    def _enter_branch(self, node: nodes.BranchNode) -> str:
        target = next((rule.to for rule in node.rules if self._holds(rule.when)), node.otherwise)
        return self._leave(target, "went", target)

    def _enter_queue(self, node: nodes.QueueNode) -> Action:
        if self.facts.blocked:
            return self._refuse()
        self._close("routed", node.queue)
        return self._emit(RouteToQueue(node.queue, node.priority, node.skills, self._say(node.prompt),
                                       self.public_variables()))

    def _enter_transfer(self, node: nodes.TransferNode) -> Action:
        if self.facts.blocked:
            return self._refuse()
        self._close("transferred", node.target)
        return self._emit(Transfer(node.target, self._say(node.prompt)))

    def _enter_hangup(self, node: nodes.HangupNode) -> Action:
        self._close("hung_up")
        return self._emit(Hangup("completed", self._say(node.prompt)))

    def _refuse(self) -> Action:
        self._close("blocked")
        return self._emit(Hangup("blocked", self._say(self.flow.blocked.prompt)))

    def _ask(self, node: nodes.InputNode, before: tuple[Prompt, ...] = ()) -> Action:
        fewest, most, terminators, secret = node.shape()
        return self._emit(Collect(self._say((*before, *node.prompt)), fewest, most, node.timeout,
                                  node.digit_timeout, terminators, secret))

    _enter_menu = _enter_collect = _enter_verify = _enter_survey = _ask

    def _answer(self, result: Digits | NoInput) -> Action | str:
        node: nodes.InputNode = self._node
        digits = result.digits if isinstance(result, Digits) else ""
        self._step.digits.append(MASK if digits and node.shape()[3] else digits)
        accepted = getattr(self, f"_accept_{node.kind}")(node, digits) if digits else None
        if accepted is not None:
            return accepted  # type: ignore[no-any-return]
        return self._retry(node, node.invalid if digits else node.no_input)

    def _retry(self, node: nodes.InputNode, before: tuple[Prompt, ...]) -> Action | str:
        self._tries += 1
        if self._tries < node.tries:
            return self._ask(node, before)
        return self._leave(node.on_failure or getattr(node, "next", ""), "failed")

    def _accept_menu(self, node: nodes.MenuNode, digits: str) -> str | None:
        option = node.options.get(digits)
        if option is None:
            return None
        self.variables.update(option.set)
        return self._leave(option.to, "chose", f"{digits} {option.label or self.flow.title_of(option.to)}")

    def _accept_collect(self, node: nodes.CollectNode, digits: str) -> str | None:
        if not _fits(node, digits) or (node.pattern is not None and not node.pattern.fullmatch(digits)):
            return None
        self.variables[node.into] = digits
        return self._leave(node.next, "collected")

    def _accept_verify(self, node: nodes.VerifyNode, digits: str) -> Action | None:
        return self._emit(Verify(node.service, digits, dict(self.variables))) if _fits(node, digits) else None

    def _accept_survey(self, node: nodes.SurveyNode, digits: str) -> str | None:
        if len(digits) != 1 or not "1" <= digits <= str(node.scale):
            return None
        self.variables[node.into] = digits
        return self._leave(node.next, "scored", digits)

    def _checked(self, result: ServiceResult) -> Action | str:
        if not result.ok:
            return self._retry(self._node, self._node.invalid)
        self.verified = True
        return self._leave(self._node.next, "verified")

    def _served(self, result: ServiceResult) -> Action | str:
        node: nodes.ServiceNode = self._node
        found = {name: result.values.get(name) for name in node.returns}
        values = {name: str(value) for name, value in found.items() if value is not None}
        if not result.ok or len(values) < len(node.returns):
            return self._leave(node.on_failure, "failed")
        self.variables.update(values)
        return self._emit(Play(self._say(node.say)))

    def _holds(self, when: nodes.Condition) -> bool:
        facts, values = self.facts, self.variables
        return ((when.tier is None or facts.tier in when.tier)
                and (when.vip is None or when.vip == facts.vip)
                and (when.blocked is None or when.blocked == facts.blocked)
                and (when.identified is None or when.identified == (facts.customer_id is not None))
                and (when.verified is None or when.verified == self.verified)
                and (when.outage is None or when.outage == bool(facts.outages))
                and (when.region is None or any(within(facts.region, area) for area in when.region))
                and all(values.get(name, "") in allowed for name, allowed in when.variables.items())
                and (when.open is None or when.open == self.flow.schedule.is_open(self._clock())))

    def _say(self, prompts: Iterable[Prompt]) -> tuple[Audio, ...]:
        """The prompt items for the call's language, their texts filled in."""
        language = self.variables["language"]
        return tuple(Audio(p.file, p.text(self.variables), p.voice or p.lang or language)
                     for p in prompts if not p.lang or p.lang == language)

    def _leave(self, target: str, outcome: str, detail: str | None = None) -> str:
        """End this node's step; the next node is ``target``, unless a VIP just heard the greeting."""
        self._close(outcome, detail)
        vip = self.flow.vip
        return VIP_NODE if vip and self.facts.vip and self._node_id == vip.after else target

    def _close(self, outcome: str, detail: str | None = None) -> None:
        self._step.outcome = outcome
        self._step.detail = self._step.detail if detail is None else detail
        self._step.ended_at = self._clock()

    def _emit(self, action: Action) -> Action:
        self._step.played.extend(audio.text or audio.file for audio in getattr(action, "prompts", ()))
        self.action = action
        return action


def _fits(node: nodes.CollectNode | nodes.VerifyNode, digits: str) -> bool:
    return digits.isascii() and digits.isdigit() and node.min_digits <= len(digits) <= node.max_digits

