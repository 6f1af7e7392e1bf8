"""Submitting mail with aiosmtplib, its failures told in the hub's error vocabulary.

NotReady means try again later (the server is away, busy, or answered 4xx); AuthFailed
means the account needs other credentials; ChannelError means the server refused this
message for good (5xx). Passwords never appear in an error or a log line.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponse,
    SMTPResponseException,
)

from hub.errors import AuthFailed, ChannelError, HubError, NotReady

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]
AUTH_REFUSED = (530, 534, 535)
"""Authentication required, mechanism too weak, credentials invalid."""


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how an account submits mail."""

    host: str
    port: int
    security: Security = "starttls"
    """``starttls`` (587), ``tls`` (implicit TLS, 465) or ``none`` (loopback servers only)."""
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    cert_bundle: str | None = None
    """A CA file to trust for a private server's certificate (tests)."""

    @property
    def where(self) -> str:
        """``user@host`` (or just the host) for messages a person reads."""
        return f"{self.username}@{self.host}" if self.username else self.host


async def submit(
    server: SmtpServer,
    message: EmailMessage,
    *,
    sender: str | None = None,
    recipients: Sequence[str] | None = None,
) -> str:
    """Send ``message`` over one new connection; returns the server's final reply, ``250 ...``.

    ``sender`` is the envelope sender (``""`` sends the null sender RFC 3834 asks of
    automatic replies); ``sender`` and ``recipients`` default to the message's headers.
    If the server took the message for some recipients and refused others, the reply
    names the refused ones; the message was sent, so this raises nothing.
    Raises NotReady, AuthFailed or ChannelError.
    """
    async with _session(server) as client:
        try:
            refused, reply = await client.send_message(
                message, sender=sender, recipients=list(recipients) if recipients is not None else None
            )
        except (SMTPException, OSError, TimeoutError) as err:
            raise _hub_error(server, err) from err
        except ValueError as err:  # an address aiosmtplib will not put on the wire
            raise ChannelError(f"the message cannot be sent: {err}") from err
    return f"250 {reply}" + _refused_note(refused)


async def check_login(server: SmtpServer) -> None:
    """Connect, upgrade to TLS as configured, log in if the account has credentials, QUIT.

    Used when an admin saves an account; raises what :func:`submit` would.
    """
    async with _session(server):
        pass


@contextlib.asynccontextmanager
async def _session(server: SmtpServer) -> AsyncIterator[aiosmtplib.SMTP]:
    client = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        use_tls=server.security == "tls",
        start_tls=server.security == "starttls",
        cert_bundle=server.cert_bundle,
        timeout=server.timeout,
    )
    try:
        await client.connect()
        if server.username:
            await client.login(server.username, server.password)
    except (SMTPException, OSError, TimeoutError) as err:
        client.close()
        raise _hub_error(server, err) from err
    try:
        yield client
    except BaseException:
        # Mid-transaction (or cancelled while the server is still reading DATA) a QUIT
        # would only wait for an answer to something else; hang up instead.
        client.close()
        raise
    await _quit(client)


async def _quit(client: aiosmtplib.SMTP) -> None:
    # The message is already accepted (or the error already chosen); a server that
    # drops the line instead of answering QUIT changes nothing.
    try:
        await client.quit()
    except (SMTPException, OSError, TimeoutError):
        client.close()


def _hub_error(server: SmtpServer, err: BaseException) -> HubError:
    """The hub's error for an aiosmtplib (or socket) failure."""
    if isinstance(err, SMTPRecipientsRefused):
        return _recipients_error(server, err)
    if isinstance(err, SMTPResponseException):
        return _reply_error(server, err)
    if isinstance(err, SMTPNotSupported) or _is_missing_extension(err):
        return ChannelError(f"the SMTP server {server.host}:{server.port} does not offer what the "
                            f"account needs: {err}")
    certificate = _certificate_error(err)
    if certificate is not None:
        return NotReady(f"the TLS certificate of {server.host}:{server.port} could not be verified: "
                        f"{certificate.verify_message or certificate}")
    detail = str(err) or type(err).__name__
    return NotReady(f"the SMTP server {server.host}:{server.port} is not reachable: {detail}")


def _reply_error(server: SmtpServer, err: SMTPResponseException) -> HubError:
    reply = f"{err.code} {err.message}"
    if err.code in AUTH_REFUSED or (isinstance(err, SMTPAuthenticationError) and err.code >= 500):
        if not server.username:
            return AuthFailed(f"the SMTP server {server.host} requires a user name and password: {reply}")
        return AuthFailed(f"the SMTP server refused the user name or password for {server.where}: {reply}")
    if 400 <= err.code < 500:
        return NotReady(f"the SMTP server {server.host} asked to try again later: {reply}")
    if err.code >= 500:
        return ChannelError(f"the SMTP server {server.host} refused the message: {reply}")
    return NotReady(f"the SMTP server {server.host} answered unexpectedly: {reply}")


def _recipients_error(server: SmtpServer, err: SMTPRecipientsRefused) -> HubError:
    replies = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in err.recipients)
    if any(400 <= r.code < 500 for r in err.recipients):
        # Some may be accepted on a later try; all-or-nothing keeps one send one message.
        return NotReady(f"the SMTP server {server.host} deferred the recipients: {replies}")
    return ChannelError(f"the SMTP server {server.host} refused the recipients: {replies}")


def _is_missing_extension(err: BaseException) -> bool:
    # aiosmtplib raises a bare SMTPException when AUTH or STARTTLS is not offered.
    return type(err) is SMTPException and "not supported" in str(err)


def _certificate_error(err: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _refused_note(refused: dict[str, SMTPResponse]) -> str:
    if not refused:
        return ""
    log.warning("SMTP server refused %d of the recipients", len(refused))
    names = ", ".join(f"{rcpt} ({reply.code} {reply.message})" for rcpt, reply in refused.items())
    return f"; refused: {names}"
