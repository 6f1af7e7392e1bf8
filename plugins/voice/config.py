"""The ``[plugins.voice]`` settings, checked before anything connects to FreeSWITCH.

The Event Socket has no encryption and one shared password that controls every call on the
switch: it may originate calls to anywhere, listen to any of them and hang them up. A hub
that reaches it with the vanilla password (``ClueCon``), or over a network, is a toll-fraud
and eavesdropping hole, so either needs a setting that says it is meant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator

from hub.channel import is_loopback
from hub.errors import ConfigError
from plugins.voice.ivr import Flow, FlowInvalid, load_flow

DEFAULT_PASSWORD = "ClueCon"
"""The password of every vanilla FreeSWITCH (``event_socket.conf.xml``)."""


class VoiceConfig(BaseModel):
    """How the hub reaches FreeSWITCH, and how FreeSWITCH reaches the hub."""

    esl_host: str = "127.0.0.1"
    esl_port: int = Field(default=8021, ge=1, le=65535)
    esl_password: SecretStr | None = None
    """None: no switch is configured, and the channel waits idle (its health says so)."""
    allow_default_password: bool = False
    """Accept ``ClueCon``: only for a lab switch nobody else can reach."""
    allow_remote_esl: bool = False
    """Accept a host that is not loopback: the password and every call's data then cross
    that network in clear text; use a private network or a tunnel."""
    outbound_host: str = "127.0.0.1"
    """Where the hub listens for FreeSWITCH's ``socket`` dialplan application."""
    outbound_port: int = Field(default=8084, ge=0, le=65535)
    ivr_flow: str = ""
    """The IVR flow file (YAML, docs/voice/ivr.md); empty: the example flow shipped with the hub."""
    agent_endpoint: str = "user/{number}"
    """The dial string of an agent's phone; ``{number}`` is their agent number."""
    hold_music: str = "local_stream://moh"
    announce_position_seconds: float = Field(default=0, ge=0)
    """Every so many seconds a waiting caller hears their place in the queue (0: never)."""
    position_text: str = "您前面还有 {position} 位客户在等待，请稍候。"
    """What they hear (TTS text, or a playback target); ``{position}``: 1 for the next."""
    auto_answer: bool = False
    """Agents' phones answer an offered call by themselves (``sip_auto_answer``: the phone
    gets ``Call-Info: answer-after=0``): headset agents hear the caller without a key press.
    The centre's default: an admin sets it per agent with ``PUT
    /api/admin/channels/voice/phones/<agent id>``."""
    announce_agent: str = "工号 {digits} 为您服务"
    """What the caller hears once the agent answered, before being put through (自动报号):
    text for the TTS engine, or a playback target (a file, ``file_string://``, ``tts://``);
    ``{number}`` is the agent's number, ``{digits}`` the same spaced to be read digit by digit.
    Empty: put through at once."""
    transfer_context: str = "default"
    """The dialplan context an outside number is transferred or dialled through."""
    outside_endpoint: str = "loopback/{number}/{context}"
    """The dial string of an outside number the agent consults (``{context}``:
    ``transfer_context``); through the dialplan by default, or e.g. ``sofia/gateway/gw1/{number}``."""
    recordings_dir: str = "/var/lib/freeswitch/recordings"
    """Where FreeSWITCH writes call recordings (a path on the switch's machine)."""
    record_calls: bool = False
    """Record every call from the moment the agent answers (agents may still pause it)."""
    tts_engine: str = "flite"
    """FreeSWITCH's TTS module for prompts given as text only (``tts://<engine>|<voice>|<text>``)."""
    service_seconds: float = Field(default=5, gt=0)
    """A self-service's deadline (``hub_register_services``): past it the IVR takes its
    failure branch rather than keep the caller waiting on a back office."""
    command_seconds: float = Field(default=10, gt=0)
    reconnect_max_seconds: float = Field(default=60, gt=0)
    login_retry_seconds: float = Field(default=300, gt=0)
    """After the switch refused the password: wait this long before trying the same again."""

    @model_validator(mode="after")
    def _refuse_open_switch(self) -> VoiceConfig:
        password = self.esl_password.get_secret_value() if self.esl_password else None
        if password == DEFAULT_PASSWORD and not self.allow_default_password:
            raise ValueError(
                "esl_password is FreeSWITCH's default 'ClueCon', which anyone who reaches the "
                "switch can use to place and overhear calls: set the password in "
                "event_socket.conf.xml and here (or allow_default_password = true on a lab switch)")
        if not is_loopback(self.esl_host) and not self.allow_remote_esl:
            raise ValueError(
                f"esl_host {self.esl_host!r} is not loopback: the Event Socket is unencrypted, so "
                "run the hub on the switch's host, or set allow_remote_esl = true for a private "
                "network or tunnel")
        if not is_loopback(self.outbound_host) and not self.allow_remote_esl:
            raise ValueError(
                f"outbound_host {self.outbound_host!r} is not loopback: call control would be "
                "accepted from the network in clear text; set allow_remote_esl = true to mean it")
        return self

    @property
    def configured(self) -> bool:
        return self.esl_password is not None

    @classmethod
    def from_settings(cls, section: dict[str, Any]) -> VoiceConfig:
        """The section validated, or ``ConfigError`` with one line saying what to fix."""
        try:
            return cls(**section)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            message = str(first["msg"]).removeprefix("Value error, ")
            raise ConfigError(f"[plugins.voice] {where + ': ' if where else ''}{message}") from err


EXAMPLE_FLOW = Path(__file__).parent / "ivr" / "example.yaml"


def load_ivr_flow(config: VoiceConfig) -> Flow:
    """The configured IVR flow, checked whole; ``ConfigError`` names the file and every problem."""
    path = Path(config.ivr_flow) if config.ivr_flow else EXAMPLE_FLOW
    try:
        return load_flow(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"[plugins.voice] ivr_flow: cannot read {path}: {err.strerror}") from err
    except FlowInvalid as err:
        raise ConfigError(f"[plugins.voice] ivr_flow {path}: " + "; ".join(err.problems)) from err
