"""What the interpreter asks the voice channel to do (actions) and what the channel answers
(results): small frozen dataclasses, one per FreeSWITCH-sized step, with no FreeSWITCH in them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Audio:
    """A prompt item ready to play: the sound ``file`` if set, else ``text`` spoken by TTS in ``voice``."""

    file: str
    text: str
    voice: str


@dataclass(frozen=True, slots=True)
class Play:
    """Play the prompts; answer ``Played``."""

    prompts: tuple[Audio, ...]


@dataclass(frozen=True, slots=True)
class Collect:
    """Play the prompts and collect one answer of ``min_digits``..``max_digits`` digits, the caller
    may press over the prompts; answer ``Digits`` (without the terminator) or ``NoInput``. The
    interpreter judges the digits and counts the tries: ask FreeSWITCH for one try. ``secret``:
    keep the digits out of logs."""

    prompts: tuple[Audio, ...]
    min_digits: int
    max_digits: int
    timeout: float
    digit_timeout: float
    terminators: str
    secret: bool = False


@dataclass(frozen=True, slots=True)
class CallService:
    """Call the self-service ``name`` with the call's variables; answer ``ServiceResult``."""

    name: str
    variables: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Verify:
    """Have the password service ``service`` check ``password``; answer ``ServiceResult(ok)``,
    ok meaning the password is right."""

    service: str
    password: str = field(repr=False)
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RouteToQueue:
    """Final: play the prompts, then the call waits in ``queue`` for an agent. Call
    ``IvrRun.after_agent`` when the agent leaves, for the survey."""

    queue: str
    priority: int = 0
    skills: tuple[str, ...] = ()
    prompts: tuple[Audio, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)
    """The call's variables for the interaction (secrets left out)."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """Final: play the prompts, then send the call to ``target``."""

    target: str
    prompts: tuple[Audio, ...] = ()


@dataclass(frozen=True, slots=True)
class Hangup:
    """Final: play the prompts, then hang up. ``reason``: completed, blocked or caller_hung_up."""

    reason: str
    prompts: tuple[Audio, ...] = ()


@dataclass(frozen=True, slots=True)
class Played:
    """The prompts were played."""


@dataclass(frozen=True, slots=True)
class Digits:
    """The caller pressed ``digits``."""

    digits: str


@dataclass(frozen=True, slots=True)
class NoInput:
    """The caller pressed nothing before the timeout."""


@dataclass(frozen=True, slots=True)
class ServiceResult:
    """A service's answer: ``ok`` and its values (a password service: ``ok`` = the password is right)."""

    ok: bool
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    """The caller hung up; the run ends."""


Action = Play | Collect | CallService | Verify | RouteToQueue | Transfer | Hangup
Result = Played | Digits | NoInput | ServiceResult | CallerHungUp
ANSWERS: dict[type, tuple[type, ...]] = {
    Play: (Played, CallerHungUp), Collect: (Digits, NoInput, CallerHungUp),
    CallService: (ServiceResult, CallerHungUp), Verify: (ServiceResult, CallerHungUp),
}
"""The results that may answer each action that awaits one."""
