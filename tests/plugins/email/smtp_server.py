"""A real SMTP server (aiosmtpd) on loopback for tests that send mail; it records what it accepts.

Import it the way the web tests import their helper (pytest puts this directory on
``sys.path``)::

    from smtp_server import SmtpTestServer

    with SmtpTestServer(security="starttls", username="agent", password="secret") as smtp:
        await submit(smtp.smtp_server(), message)          # plugins.email.smtp.SmtpServer
        got = smtp.wait_for(1)                             # blocks this thread; see below
        assert got[0].rcpt_tos == ["zhang@example.cn"]
        assert got[0].message["Subject"] == "Re: hi"

As a fixture (in a conftest.py)::

    @pytest.fixture
    def smtp(tmp_path):
        with SmtpTestServer(directory=tmp_path) as server:
            yield server

What it can do:

* ``security``: ``"none"`` (plain), ``"starttls"`` (STARTTLS required before MAIL) or ``"tls"``
  (implicit TLS, like port 465). TLS uses a throwaway self-signed certificate for
  ``localhost`` and ``127.0.0.1``, made at start-up; clients trust ``cert_bundle`` (a path).
* ``username`` / ``password``: AUTH PLAIN/LOGIN is offered and required before MAIL; a wrong
  password gets ``535 5.7.8`` at once. Without a username anyone may send.
* ``received``: every accepted message as a :class:`Received` (envelope, raw bytes, parsed).
  ``wait_for(count, timeout)`` blocks until that many arrived (thread-safe, for a Celery
  worker or any thread); inside the event loop that is sending, use
  ``await wait_for_async(...)`` instead, which waits in a worker thread.
* ``fail_next(count, permanent=False)``: the next ``count`` DATA commands are answered
  ``451 4.3.0`` (or ``550 5.7.1`` when permanent) and nothing is recorded.
* ``refuse(address)``: RCPT TO that address is answered ``550 5.1.1``.
* ``delay_next(seconds, count=1)``: the next ``count`` DATA commands are answered only after
  ``seconds``, so a test can kill the client mid-send. A message whose client hangs up
  during the delay is put in ``abandoned``, not ``received`` (the server never said 250).
* ``stop()`` / ``start()``: the server goes away and comes back on the same port; a stopped
  server refuses connections, which is how "the mail server is down" is tested.

The server runs in its own thread with its own event loop (aiosmtpd's ``Controller``), so it
serves both asyncio tests and blocking code in other threads.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from plugins.email.smtp import SmtpServer

Security = Literal["none", "starttls", "tls"]
TEMPORARY = "451 4.3.0 Temporary failure, try again later"
PERMANENT = "550 5.7.1 Message refused"


@dataclass(frozen=True, slots=True)
class Received:
    """One message the server accepted (or, in ``abandoned``, would have)."""

    mail_from: str
    """The envelope sender as given; ``"<>"`` for the null sender."""
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage = field(repr=False)
    """``raw`` parsed with ``email.policy.default``."""
    user: str | None
    """The AUTH user name, or None if the client did not log in."""
    tls: bool


class SmtpTestServer:
    """An aiosmtpd server on 127.0.0.1 and a free port; see the module docstring."""

    def __init__(
        self,
        *,
        security: Security = "none",
        username: str = "",
        password: str = "",
        directory: Path | str | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.security: Security = security
        self.username = username
        self.password = password
        self.received: list[Received] = []
        self.abandoned: list[Received] = []
        self._changed = threading.Condition()
        self._failures: list[str] = []
        self._delays: list[float] = []
        self._refused: set[str] = set()
        self._controller: Controller | None = None
        self._tmp = None if directory else tempfile.TemporaryDirectory(prefix="smtp-test-")
        self.directory = Path(directory or self._tmp.name)  # type: ignore[union-attr]
        self.cert_bundle: str | None = None
        if security != "none":
            self.cert_bundle = _write_certificate(self.directory)

    # -- life -----------------------------------------------------------------------------

    def start(self) -> SmtpTestServer:
        """Start listening (again, on the same port); returns self."""
        if self._controller is None:
            self._controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                          server_hostname="smtp.test", **self._options())
            self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection; ``start()`` brings it back."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def close(self) -> None:
        """Stop, and remove the certificate directory if this server made it."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def smtp_server(self, **overrides: Any) -> SmtpServer:
        """How ``plugins.email.smtp`` reaches this server; keywords override fields."""
        settings: dict[str, Any] = {
            "host": self.host, "port": self.port, "security": self.security,
            "username": self.username, "password": self.password,
            "timeout": 10.0, "cert_bundle": self.cert_bundle,
        }
        return SmtpServer(**(settings | overrides))

    # -- behaviour ------------------------------------------------------------------------

    def fail_next(self, count: int = 1, *, permanent: bool = False, reply: str | None = None) -> None:
        """Answer the next ``count`` DATA commands with a failure (451, or 550, or ``reply``)."""
        with self._changed:
            self._failures.extend([reply or (PERMANENT if permanent else TEMPORARY)] * count)

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Answer the next ``count`` DATA commands only after ``seconds``."""
        with self._changed:
            self._delays.extend([seconds] * count)

    def refuse(self, address: str) -> None:
        """Answer RCPT TO ``address`` with 550 from now on."""
        with self._changed:
            self._refused.add(address.lower())

    def clear(self) -> None:
        """Forget what was received and every failure, delay and refusal still planned."""
        with self._changed:
            self.received.clear()
            self.abandoned.clear()
            self._failures.clear()
            self._delays.clear()
            self._refused.clear()

    # -- waiting --------------------------------------------------------------------------

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Block until at least ``count`` messages were received; returns a copy of them.

        Raises TimeoutError naming how many arrived. Safe from any thread, but not from the
        event loop that is sending the mail (it would stop that loop): use
        :meth:`wait_for_async` there.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"the SMTP test server received {len(self.received)} "
                                   f"message(s) in {timeout} s, expected {count}")
            return list(self.received)

    # The thread's own wait does the timing: asyncio.timeout could not stop that thread.
    async def wait_for_async(self, count: int, timeout: float = 5.0) -> list[Received]:  # noqa: ASYNC109
        """:meth:`wait_for` for coroutines: waits in a worker thread, the loop runs on."""
        return await asyncio.to_thread(self.wait_for, count, timeout)

    # -- used by the handler, in the server's thread --------------------------------------

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"decode_data": False}
        if self.security != "none":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.directory / "cert.pem", self.directory / "key.pem")
            if self.security == "starttls":
                options.update(tls_context=context, require_starttls=True)
            else:
                options.update(ssl_context=context)
        if self.username:
            # aiosmtpd counts only STARTTLS as TLS, so implicit TLS must not require it (and
            # aiosmtpd warns that AUTH does not require TLS: true for "none", not for "tls").
            options.update(authenticator=self._authenticate, auth_required=True,
                           auth_require_tls=self.security == "starttls")
        return options

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode() == self.username and auth_data.password.decode() == self.password
        ):
            return AuthResult(success=True, auth_data=self.username)
        # handled=False lets aiosmtpd answer 535; with the default it says nothing at all
        # and the client waits for its timeout.
        return AuthResult(success=False, handled=False)

    def _next_data(self) -> tuple[float, str | None]:
        with self._changed:
            delay = self._delays.pop(0) if self._delays else 0.0
            failure = self._failures.pop(0) if self._failures else None
        return delay, failure

    def _is_refused(self, address: str) -> bool:
        with self._changed:
            return address.lower() in self._refused

    def _record(self, item: Received, *, abandoned: bool = False) -> None:
        with self._changed:
            (self.abandoned if abandoned else self.received).append(item)
            self._changed.notify_all()


class _Handler:
    """The aiosmtpd handler: consults the server's plans and records what it accepts."""

    def __init__(self, owner: SmtpTestServer) -> None:
        self.owner = owner

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if self.owner._is_refused(address):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        delay, failure = self.owner._next_data()
        item = _received(server, session, envelope)
        if delay:
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                # aiosmtpd cancels the session when the client hangs up.
                if failure is None:
                    self.owner._record(item, abandoned=True)
                raise
        if failure is not None:
            return failure
        self.owner._record(item)
        return f"250 2.0.0 OK queued as {len(self.owner.received)}"


def _received(server: SMTP, session: Session, envelope: Envelope) -> Received:
    raw = envelope.original_content or b""
    return Received(
        mail_from=envelope.mail_from or "", rcpt_tos=list(envelope.rcpt_tos), raw=raw,
        message=message_from_bytes(raw, policy=policy.default),  # type: ignore[arg-type]
        user=session.auth_data if session.authenticated else None,
        # session.ssl is set by STARTTLS only; the transport knows about implicit TLS too.
        tls=server.transport is not None and server.transport.get_extra_info("ssl_object") is not None,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_certificate(directory: Path) -> str:
    """A self-signed certificate for localhost and 127.0.0.1; returns the cert.pem path."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cert_path = directory / "cert.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(cert_path)
