"""A real, private Dovecot IMAP server for tests: its own config, port, users and Maildirs.

Import it as ``from dovecot import Dovecot`` (pytest puts this test directory on sys.path,
as it does for ``webchat_support`` in tests/plugins/web). Typical fixture::

    @pytest.fixture
    def imap(tmp_path):
        if reason := Dovecot.available():
            pytest.skip(reason)
        with Dovecot(tmp_path / "dovecot") as server:
            server.add_user("agent@example.test", "secret")
            server.start()
            yield server

The config and the log live under ``root``. Everything Dovecot's own processes must reach
(sockets, state, the users file, the Maildirs) lives in a short private directory under
/tmp: a pytest tmp path is too long for unix socket names and sits in a 0700 directory
that the unprivileged mail and auth users cannot traverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import imaplib
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

MAIL_UID = MAIL_GID = 65534  # nobody/nogroup: exists everywhere and is >= first_valid_uid
READY_TIMEOUT = 15.0
STOP_GRACE = 1.0
"""Seconds a stopping Dovecot gets before what is left of it is killed."""
IMAP_BINARIES = ("/usr/lib/dovecot/imap", "/usr/libexec/dovecot/imap")

CONFIG = """\
# Written by tests/plugins/email/dovecot.py; a private instance, not the system service.
protocols = imap
listen = 127.0.0.1
base_dir = {run}
state_dir = {state}
log_path = {log}
auth_verbose = yes
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Tests exercise the wrong-password path; the production 2 s delay only slows them down.
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_fsync = never
imap_idle_notify_interval = 10 secs
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {users}
}}
protocol imap {{
  # Reconnect and concurrency tests open more than the default 10 sessions per user.
  mail_max_userip_connections = 200
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


class DovecotError(RuntimeError):
    """The private Dovecot did not do what the harness asked; the message carries the log tail."""


class DovecotUnavailable(DovecotError):
    """This machine cannot run a private Dovecot (not root, or the packages are missing)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def binary(name: str) -> str | None:
    """Where a Dovecot program is; /usr/sbin is often missing from PATH."""
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin")


def quote(mailbox: str) -> str:
    """An IMAP quoted string, because imaplib sends mailbox names verbatim."""
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def group_members(group: int) -> list[int]:
    """Live processes in a process group; zombies do not count (some inits reap them late)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # After the last ")" (the command name may hold spaces): state, ppid, pgrp, ...
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
            if int(pgrp) == group and state not in "ZX":
                members.append(int(stat.parent.name))
    return members


class Dovecot:
    """One private Dovecot IMAP server with passwd-file users and Maildir mailboxes."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        if reason := self.available():
            raise DovecotUnavailable(reason)
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port(host)
        self.config = self.root / "dovecot.conf"
        self.log = self.root / "dovecot.log"
        self._spool = Path(tempfile.mkdtemp(prefix="dovecot-", dir="/tmp"))
        self._spool.chmod(0o711)  # the mail and auth users traverse it, but may not list it
        self._users_file = self._spool / "users"
        self._users: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count()
        (self._spool / "home").mkdir(mode=0o711)
        self._write_users()
        self.config.write_text(CONFIG.format(
            run=self._spool / "run", state=self._spool / "state", log=self.log,
            users=self._users_file, host=host, port=self.port,
        ))

    @staticmethod
    def available() -> str | None:
        """Why a private Dovecot cannot run here, or None when it can."""
        if os.geteuid() != 0:
            return "Dovecot tests need root: the server drops to the dovecot and dovenull users"
        for name in ("dovecot", "doveadm"):
            if not binary(name):
                return f"{name} is not installed (apt-get install dovecot-core dovecot-imapd)"
        if not any(Path(path).exists() for path in IMAP_BINARIES):
            return "the Dovecot IMAP server is not installed (apt-get install dovecot-imapd)"
        try:
            pwd.getpwnam("dovecot"), pwd.getpwnam("dovenull"), grp.getgrnam("dovecot")
        except KeyError as err:
            return f"the dovecot package's system users are missing ({err}); install dovecot-core"
        return None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Start ``dovecot -F`` and return once the port greets with ``* OK``."""
        if self.running:
            raise DovecotError(f"Dovecot on port {self.port} is already running")
        # A crashed instance leaves master.pid and sockets behind; a fresh base_dir is simpler.
        shutil.rmtree(self._spool / "run", ignore_errors=True)
        with self.log.open("ab") as log:
            # Its own session, so stop() and kill() can reach every forked child at once.
            self._process = subprocess.Popen(
                [binary("dovecot") or "dovecot", "-F", "-c", str(self.config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )
        self._wait_ready()
        return self

    def stop(self) -> None:
        """SIGTERM the master, then make sure none of its children linger."""
        self._end(signal.SIGTERM)
        shutil.rmtree(self._spool / "run", ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL the master and every child, as a crash would; clients see a dropped socket."""
        self._end(signal.SIGKILL)

    def restart(self) -> Self:
        """Stop and start again on the same port with the same mail (UIDVALIDITY survives)."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server and remove the private spool (sockets, users, Maildirs)."""
        self.stop()
        shutil.rmtree(self._spool, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        """The master's pid (also its process group) while running."""
        return self._process.pid if self.running and self._process else None

    @property
    def running(self) -> bool:
        """Whether the master process is alive."""
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server log, for failure messages."""
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    async def astart(self) -> Self:
        """start() without blocking the event loop the code under test runs on."""
        return await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        """stop() without blocking the event loop."""
        await asyncio.to_thread(self.stop)

    async def arestart(self) -> Self:
        """restart() without blocking the event loop."""
        return await asyncio.to_thread(self.restart)

    async def akill(self) -> None:
        """kill() without blocking the event loop."""
        await asyncio.to_thread(self.kill)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running:
                self._end(signal.SIGKILL)
                raise DovecotError(f"dovecot exited while starting:\n{self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(
                (self.host, self.port), timeout=1
            ) as sock:
                if sock.makefile("rb").readline().startswith(b"* OK"):
                    return
            time.sleep(0.05)
        self._end(signal.SIGKILL)
        raise DovecotError(f"dovecot gave no greeting on port {self.port} in {READY_TIMEOUT}s:\n"
                           f"{self.log_tail()}")

    def _end(self, sig: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        group = process.pid  # start_new_session made the master its group's leader
        # The whole group at once: the master alone waits about a second for its children.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, sig)
        try:
            # A clean stop takes milliseconds; but a login process with a client that has not
            # spoken yet (one connecting just then) outlives SIGTERM, and the master waits
            # about six seconds for it. Nothing of the mail is left to write by then.
            process.wait(timeout=STOP_GRACE if sig == signal.SIGTERM else 10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            process.wait(timeout=10)
        # Children outlive a killed master (and a slow imap may outlive a clean stop);
        # their group keeps the master's pid, so it can be neither reused nor missed.
        deadline = time.monotonic() + 5
        while members := group_members(group):
            if time.monotonic() > deadline:
                raise DovecotError(f"Dovecot processes {members} would not die")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            time.sleep(0.02)

    # -- users and Maildirs --------------------------------------------------------------

    def add_user(self, user: str, password: str) -> None:
        """Add (or re-password) a user; Dovecot re-reads the users file on its next lookup."""
        self.add_users({user: password})

    def add_users(self, users: dict[str, str]) -> None:
        """Add (or re-password) several users with one write of the users file. Users added
        before ``start`` can log in at once; while running, this waits until the last can."""
        for user, password in users.items():
            if any(char in user + password for char in ":\n") or "/" in user:
                raise ValueError("user names and passwords may not contain ':', '/' or newlines")
        for user, password in users.items():
            self._users[user] = password
            home = self._spool / "home" / user
            for path in (home, *(home / "Maildir" / sub for sub in ("", "cur", "new", "tmp"))):
                self._make_owned_dir(path)
        if not users:
            return
        self._write_users()
        if self.running:
            self._wait_login(user, password)

    def _wait_login(self, user: str, password: str) -> None:
        # The auth process looks at the users file at most once a second: a login in the
        # same second as an earlier lookup may not know the new user yet, and a failed login
        # makes Dovecot slow down every later login from this address. So wait for the next
        # second first, then check.
        time.sleep(1.0 - time.time() % 1.0 + 0.02)
        deadline = time.monotonic() + 5
        while True:
            client = imaplib.IMAP4(self.host, self.port, timeout=10)
            try:
                client.login(user, password)
                client.logout()
                return
            except imaplib.IMAP4.error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
            finally:
                with contextlib.suppress(OSError):
                    client.shutdown()

    def maildir(self, user: str) -> Path:
        """The user's Maildir (INBOX); other folders are ``.Name`` directories inside it."""
        return self._spool / "home" / user / "Maildir"

    def _folder_dir(self, user: str, folder: str) -> Path:
        if folder.upper() == "INBOX":
            return self.maildir(user)
        path = self.maildir(user) / f".{folder}"
        for sub in ("", "cur", "new", "tmp"):
            self._make_owned_dir(path / sub)
        (path / "maildirfolder").touch()
        os.chown(path / "maildirfolder", MAIL_UID, MAIL_GID)
        return path

    def _make_owned_dir(self, path: Path) -> None:
        path.mkdir(mode=0o700, exist_ok=True)
        os.chown(path, MAIL_UID, MAIL_GID)

    def _write_users(self) -> None:
        # Written beside and renamed, so a lookup never reads half a file; the auth
        # process runs as the dovecot user, hence group dovecot.
        lines = "".join(
            f"{user}:{{PLAIN}}{password}:{MAIL_UID}:{MAIL_GID}::{self._spool / 'home' / user}::\n"
            for user, password in self._users.items()
        )
        partial = self._users_file.with_suffix(".new")
        partial.write_text(lines)
        os.chown(partial, 0, grp.getgrnam("dovecot").gr_gid)
        partial.chmod(0o640)
        # Dovecot re-reads the file when its mtime changes, in whole seconds: two users added
        # within one second would leave the second unknown. Each write moves it a second on.
        self._users_mtime = max(int(time.time()), getattr(self, "_users_mtime", 0) + 1)
        os.utime(partial, (self._users_mtime, self._users_mtime))
        partial.replace(self._users_file)

    # -- delivering mail ---------------------------------------------------------------

    def drop(self, user: str, raw: bytes, folder: str = "INBOX") -> Path:
        """Deliver as an MTA does (tmp/ then rename into new/); Dovecot assigns the UID later."""
        box = self._folder_dir(user, folder)
        name = self._unique_name(len(raw))
        self._write_owned(box / "tmp" / name, raw)
        os.rename(box / "tmp" / name, box / "new" / name)
        return box / "new" / name

    def fill(self, user: str, messages: Iterable[bytes], folder: str = "INBOX") -> int:
        """Bulk-load messages straight into ``cur/`` (UIDs follow the order given); returns the count."""
        box = self._folder_dir(user, folder)
        # Dovecot sorts unseen files by the seconds and microseconds in their names.
        base, pid, batch = int(time.time()), os.getpid(), next(self._names)
        count = 0
        for count, raw in enumerate(messages, 1):
            secs, usecs = divmod(count, 1_000_000)
            name = f"{base + secs}.M{usecs}P{pid}Q{batch}.harness,S={len(raw)}:2,"
            self._write_owned(box / "cur" / name, raw)
        if count and self.running:
            self.status(user, folder)  # one sync assigns every UID now, not in the timed code
        return count

    def _unique_name(self, size: int) -> str:
        now = time.time()
        return f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{next(self._names)}.harness,S={size}"

    def _write_owned(self, path: Path, raw: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, raw)
            os.fchown(fd, MAIL_UID, MAIL_GID)
        finally:
            os.close(fd)

    # -- acting as another IMAP client -------------------------------------------------

    @contextlib.contextmanager
    def session(self, user: str, folder: str | None = None) -> Iterator[imaplib.IMAP4]:
        """A logged-in stdlib IMAP client, with ``folder`` selected when given."""
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(user, self._users[user])
            if folder is not None:
                self._ok(client.select(quote(folder)), "SELECT", folder)
            yield client
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()

    def append(
        self, user: str, raw: bytes, folder: str = "INBOX", flags: str = "", date: datetime | None = None
    ) -> int:
        """APPEND a message and return its UID (from APPENDUID)."""
        when = imaplib.Time2Internaldate(date) if date else None
        with self.session(user) as client:
            typ, data = client.append(quote(folder), flags or None, when, raw)
        self._ok((typ, data), "APPEND", folder)
        match = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
        if not match:
            raise DovecotError(f"APPEND gave no APPENDUID: {data!r}")
        return int(match[1])

    async def aappend(
        self, user: str, raw: bytes, folder: str = "INBOX", flags: str = "", date: datetime | None = None
    ) -> int:
        """append() without blocking the event loop."""
        return await asyncio.to_thread(self.append, user, raw, folder, flags, date)

    def create_folder(self, user: str, name: str) -> None:
        """CREATE a mailbox (the server must be running)."""
        with self.session(user) as client:
            self._ok(client.create(quote(name)), "CREATE", name)

    def mark_seen(self, user: str, uid: int, folder: str = "INBOX") -> None:
        """Set \\Seen on a message, as a person reading it in another client would."""
        with self.session(user, folder) as client:
            self._ok(client.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Seen)"), "STORE", folder)

    def move(self, user: str, uid: int, src: str, dst: str) -> None:
        """UID MOVE one message to another folder."""
        with self.session(user, src) as client:
            self._ok(client.uid("MOVE", str(uid), quote(dst)), "MOVE", src)

    def delete_all(self, user: str, folder: str = "INBOX") -> None:
        """Flag every message \\Deleted and EXPUNGE."""
        with self.session(user, folder) as client:
            if self.status(user, folder)["MESSAGES"]:
                self._ok(client.store("1:*", "+FLAGS.SILENT", "(\\Deleted)"), "STORE", folder)
                self._ok(client.expunge(), "EXPUNGE", folder)

    def uids(self, user: str, folder: str = "INBOX") -> list[int]:
        """Every UID in the folder, ascending."""
        with self.session(user, folder) as client:
            typ, data = client.uid("SEARCH", "ALL")
        self._ok((typ, data), "UID SEARCH", folder)
        return sorted(int(uid) for uid in (data[0] or b"").split())

    def status(self, user: str, folder: str = "INBOX") -> dict[str, int]:
        """STATUS counters: UIDVALIDITY, UIDNEXT, MESSAGES and UNSEEN."""
        with self.session(user) as client:
            typ, data = client.status(quote(folder), "(UIDVALIDITY UIDNEXT MESSAGES UNSEEN)")
        self._ok((typ, data), "STATUS", folder)
        items = (data[0] or b"").rsplit(b"(", 1)[-1].rstrip(b")").split()
        return {key.decode(): int(value) for key, value in zip(items[::2], items[1::2], strict=True)}

    def set_uidvalidity(self, user: str, folder: str, value: int) -> None:
        """Change a live mailbox's UIDVALIDITY, as a server migration would."""
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(value), folder)

    def doveadm(self, *args: str) -> str:
        """Run ``doveadm`` against this instance (most commands need it running); returns stdout."""
        done = subprocess.run(
            [binary("doveadm") or "doveadm", "-c", str(self.config), *args],
            capture_output=True, text=True, timeout=60, check=False,
        )
        if done.returncode:
            raise DovecotError(f"doveadm {' '.join(args)} failed: {done.stderr.strip()}\n{self.log_tail()}")
        return done.stdout

    def _ok(self, response: tuple[str, list[bytes | None]], command: str, folder: str) -> None:
        typ, data = response
        if typ != "OK":
            raise DovecotError(f"{command} {folder!r} answered {typ}: {data!r}")
