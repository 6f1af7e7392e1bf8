"""IVR flows as data: a flow admins write in YAML (``load_flow``), checked whole before any call
runs it, and a pure interpreter (``IvrRun``) that turns a call into actions for the voice channel
and records the caller's path (呼叫轨迹) for the agent. No FreeSWITCH in here.

Modules: ``prompts`` (what is said), ``nodes`` (the node kinds), ``flow`` (the document and
loading), ``graph`` (whole-flow checks), ``actions`` (actions and results), ``interpreter``
(``IvrRun``, caller facts) and ``path`` (the recorded path).
"""

from plugins.voice.ivr.actions import (
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
from plugins.voice.ivr.flow import Flow, FlowInvalid, build_flow, load_flow
from plugins.voice.ivr.interpreter import Facts, IvrRun, facts_from_caller
from plugins.voice.ivr.path import CallPath, Step

__all__ = [
    "Action",
    "Audio",
    "CallPath",
    "CallService",
    "CallerHungUp",
    "Collect",
    "Digits",
    "Facts",
    "Flow",
    "FlowInvalid",
    "Hangup",
    "IvrRun",
    "NoInput",
    "Play",
    "Played",
    "Result",
    "RouteToQueue",
    "ServiceResult",
    "Step",
    "Transfer",
    "Verify",
    "build_flow",
    "facts_from_caller",
    "load_flow",
]
