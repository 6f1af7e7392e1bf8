"""The email channel: IMAP IDLE in, SMTP out, one conversation per mail thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.channel import Channel
from hub.hookspecs import hookimpl

if TYPE_CHECKING:
    from hub.facade import Hub
    from hub.jobs import PluginJob
    from hub.messages import InboundMessage

@hookimpl
def hub_register_channels(register: Callable[[type[Channel]], None]) -> None:
    from plugins.email.channel import EmailChannel

    register(EmailChannel)


@hookimpl
def hub_register_tasks(register: Callable[[PluginJob], None]) -> None:
    from hub.jobs import PluginJob
    from plugins.email.config import EmailConfig
    from plugins.email.sending import give_up, resend_stalled, send_job

    register(PluginJob("email", "send", send_job, on_give_up=give_up))
    register(PluginJob("email", "resend_stalled", resend_stalled,
                       every=EmailConfig().resend_sweep_seconds))


@hookimpl
def hub_pick_queue(hub: Hub, interaction: dict[str, Any], message: InboundMessage) -> str | None:
    """A mail waits in the queue of the account it was sent to."""
    if message.channel != "email":
        return None
    from plugins.email.channel import LIVE

    channel = LIVE.get(hub)
    return None if channel is None else channel.queues.get(message.entry)
