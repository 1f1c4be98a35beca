"""Real mail servers for the email tests: a private Dovecot IMAP server per test session.

`make test` installs Debian's `dovecot-imapd`; this module never touches the system
service. It writes a minimal `dovecot.conf` into a directory of the caller's, starts
`dovecot -F` on a free port of 127.0.0.1 (plaintext IMAP, no TLS), waits for the greeting
and stops the server again on leaving the `with` block::

    @pytest.fixture(scope="session")
    def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
        users = {"support@sahaya.test": "secret"}
        with Dovecot.start(tmp_path_factory.mktemp("dovecot"), users=users) as server:
            yield server

    def test_poll(dovecot: Dovecot) -> None:
        uid = dovecot.deliver("support@sahaya.test", raw_message_bytes)
        ...  # point the code under test at dovecot.host / dovecot.port
        assert dovecot.flags("support@sahaya.test")[uid] >= {"\\\\Seen"}

Users live in a passwd-file (`{PLAIN}` passwords) that Dovecot re-reads when it changes,
so `add_user` works before and after the start. Mail is stored as Maildir; `deliver`
and `messages` go through IMAP (APPEND, UID FETCH), the same path the code under test uses.

`SmtpServer.start()` is the other half: a real SMTP server (aiosmtpd, in its own thread) on
a free port of 127.0.0.1 that records what it accepts and refuses on request, for the
outbound tests (tests/functional/test_outbox.py, test_email_channel.py).

Dovecot 2.3 (Debian 12) and 2.4 (Debian 13) take different configuration syntax; both are
written here. Run as an ordinary user, every Dovecot process runs as that user. Run as
root, Dovecot refuses to give root mail access or to run its login process as root, so
the login process keeps Debian's `dovenull` and the mailboxes belong to `nobody`, in a
directory of their own under the system temporary directory (pytest's per-user temporary
root is closed to other users) that is removed again on stop.
"""

from __future__ import annotations

import contextlib
import email
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Self, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

_INSTALL_HINT = "run `make test` (it installs dovecot-imapd)"
_START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dovecot_binary() -> str:
    """The path of the `dovecot` master binary, or a RuntimeError saying how to get it."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")
    if found is None or not Path("/usr/lib/dovecot/imap").exists():
        raise RuntimeError(f"Dovecot's IMAP server is not installed: {_INSTALL_HINT}")
    return found


def dovecot_version(binary: str | None = None) -> tuple[int, int]:
    """(major, minor) of the installed Dovecot, e.g. (2, 3)."""
    out = subprocess.run(  # noqa: S603 - fixed argv
        [binary or dovecot_binary(), "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.match(r"(\d+)\.(\d+)", out.strip())
    if match is None:
        raise RuntimeError(f"cannot parse `dovecot --version` output: {out!r}")
    return int(match[1]), int(match[2])


class Dovecot:
    """A private Dovecot IMAP server on 127.0.0.1; see the module docstring."""

    host = "127.0.0.1"

    def __init__(self, directory: Path, users: Mapping[str, str] | None = None) -> None:
        self.directory = Path(directory).resolve()
        self.port = 0
        self.version = (0, 0)
        self.startup_seconds = 0.0
        self._users: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._mail_root = self.directory / "mail"
        self._own_mail_root = False
        for name, password in (users or {}).items():
            self.add_user(name, password)

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def start(cls, directory: Path, users: Mapping[str, str] | None = None) -> Iterator[Self]:
        """Start a server whose files all live in `directory`; stop it on leaving."""
        server = cls(directory, users)
        server._start()
        try:
            yield server
        finally:
            server.stop()

    @property
    def log_path(self) -> Path:
        return self.directory / "dovecot.log"

    def log(self) -> str:
        """Dovecot's log so far (also what it printed to stderr), for failure messages."""
        parts = []
        for path in (self.log_path, self.directory / "dovecot.stderr"):
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "".join(parts)

    def _start(self) -> None:
        binary = dovecot_binary()
        self.version = dovecot_version(binary)
        self.directory.mkdir(parents=True, exist_ok=True)
        for sub in ("run", "state"):
            (self.directory / sub).mkdir(exist_ok=True)
        self._prepare_mail_root()
        started = time.monotonic()
        # The free port is only free until Dovecot binds it; try again if someone was quicker.
        for _attempt in range(3):
            self.port = _free_port()
            config = self.directory / "dovecot.conf"
            config.write_text(self._config())
            self.log_path.unlink(missing_ok=True)
            with (self.directory / "dovecot.stderr").open("wb") as stderr:
                self._process = subprocess.Popen(  # noqa: S603 - fixed argv
                    [binary, "-F", "-c", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                    cwd=self.directory,
                    start_new_session=True,
                )
            try:
                self._wait_for_greeting()
            except RuntimeError:
                self._terminate()
                if "Address already in use" in self.log():
                    continue
                self._remove_mail_root()
                raise
            self.startup_seconds = time.monotonic() - started
            return
        self._remove_mail_root()
        raise RuntimeError(f"Dovecot found no free port; log:\n{self.log()}")

    def _wait_for_greeting(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + _START_TIMEOUT
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"dovecot exited with status {self._process.returncode}; log:\n{self.log()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as sock:
                    greeting = sock.makefile("rb").readline()
                if greeting.startswith(b"* OK"):
                    return
                last_error = RuntimeError(f"unexpected greeting {greeting!r}")
            except OSError as exc:
                last_error = exc
            time.sleep(0.05)
        raise RuntimeError(
            f"dovecot did not greet on {self.host}:{self.port} within {_START_TIMEOUT:.0f} s "
            f"({last_error}); log:\n{self.log()}"
        )

    def stop(self) -> None:
        """Stop the server and all its processes, and wait for them."""
        self._terminate()
        self._remove_mail_root()

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        # The whole process group at once: the master alone takes a second to reap its children.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    # -- files -----------------------------------------------------------------------------

    def _mail_owner(self) -> tuple[int, int]:
        if os.geteuid() != 0:
            return os.getuid(), os.getgid()
        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid

    def _prepare_mail_root(self) -> None:
        if os.geteuid() != 0:
            self._mail_root = self.directory / "mail"
            self._mail_root.mkdir(exist_ok=True)
            return
        self._mail_root = Path(tempfile.mkdtemp(prefix="sahaya-dovecot-mail-"))
        self._own_mail_root = True
        uid, gid = self._mail_owner()
        os.chown(self._mail_root, uid, gid)

    def _remove_mail_root(self) -> None:
        if self._own_mail_root:
            shutil.rmtree(self._mail_root, ignore_errors=True)
            self._own_mail_root = False

    def _config(self) -> str:
        uid, gid = self._mail_owner()
        d = self.directory
        common = {
            "listen": self.host,
            "base_dir": d / "run",
            "state_dir": d / "state",
            "instance_name": f"sahaya-test-{self.port}",
            "log_path": self.log_path,
            "ssl": "no",
            "auth_mechanisms": "plain login",
            "auth_failure_delay": "0",
            "mail_uid": uid,
            "mail_gid": gid,
            "first_valid_uid": uid,
            "first_valid_gid": gid,
        }
        if os.geteuid() == 0:
            # The login process must not run as root: it keeps its default (dovenull),
            # chrooted into base_dir/login; auth runs as root to read the passwd-file.
            common["default_internal_user"] = "root"
            common["default_internal_group"] = "root"
            chroot = ""
        else:
            me = pwd.getpwuid(os.getuid()).pw_name
            common["default_internal_user"] = me
            common["default_login_user"] = me
            common["default_internal_group"] = grp.getgrgid(os.getgid()).gr_name
            chroot = "  chroot =\n"
        lines = "".join(f"{key} = {value}\n" for key, value in common.items())
        services = (
            "service imap-login {\n"
            f"{chroot}"
            f"  inet_listener imap {{\n    port = {self.port}\n  }}\n"
            "  inet_listener imaps {\n    port = 0\n  }\n"
            "}\n"
            # no anvil-auth-penalty socket: no growing delays after failed logins
            "service anvil {\n"
            f"{chroot}"
            "  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n"
            "}\n"
            "namespace inbox {\n  inbox = yes\n  separator = /\n}\n"
        )
        passwd = d / "passwd"
        if self.version >= (2, 4):
            return (
                "dovecot_config_version = 2.4.0\n"
                "dovecot_storage_version = 2.4.0\n"
                "protocols = imap\n"
                f"{lines}"
                "auth_allow_cleartext = yes\n"
                "mail_driver = maildir\n"
                f"mail_home = {self._mail_root}/%{{user}}\n"
                "mail_path = ~/Maildir\n"
                f"passdb passwd-file {{\n  passwd_file_path = {passwd}\n}}\n"
                "userdb static {\n}\n"
                f"{services}"
            )
        return (
            "protocols = imap\n"
            f"{lines}"
            "disable_plaintext_auth = no\n"
            f"mail_location = maildir:{self._mail_root}/%u/Maildir\n"
            f"passdb {{\n  driver = passwd-file\n  args = {passwd}\n}}\n"
            f"userdb {{\n  driver = static\n  args = home={self._mail_root}/%u\n}}\n"
            f"{services}"
        )

    # -- users and mail --------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Add (or re-password) a mailbox user; Dovecot re-reads the file on its next login."""
        for value in (name, password):
            if not value or any(ch in value for ch in ":\r\n\0"):
                raise ValueError(f"unusable user name or password: {value!r}")
        self._users[name] = password
        self.directory.mkdir(parents=True, exist_ok=True)
        passwd = self.directory / "passwd"
        staging = passwd.with_suffix(".new")
        staging.write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in self._users.items()))
        staging.chmod(0o600)
        staging.replace(passwd)  # a new inode, so Dovecot notices the change

    @contextlib.contextmanager
    def imap(self, user: str) -> Iterator[imaplib.IMAP4]:
        """An IMAP connection logged in as `user` (who must have been added), logged out after."""
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            conn.login(user, self._users[user])
            yield conn
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                conn.logout()

    def deliver(self, user: str, message: bytes, mailbox: str = "INBOX") -> int:
        """Put a raw RFC 5322 message into `user`'s mailbox via APPEND; returns its UID."""
        with self.imap(user) as conn:
            if mailbox.upper() != "INBOX":
                conn.create(_quote(mailbox))  # "NO [ALREADYEXISTS]" when it exists: fine
            status, data = conn.append(_quote(mailbox), "", None, message)
            if status != "OK":
                raise RuntimeError(f"APPEND to {mailbox} failed: {data!r}")
        match = re.search(rb"\[APPENDUID \d+ (\d+)\]", data[0] or b"")
        if match is None:
            raise RuntimeError(f"APPEND answered without APPENDUID: {data!r}")
        return int(match[1])

    def messages(self, user: str, mailbox: str = "INBOX") -> list[bytes]:
        """The raw messages in `user`'s mailbox, in UID order, without marking them seen."""
        return [raw for _uid, raw in self._fetch(user, mailbox, "BODY.PEEK[]")]

    def flags(self, user: str, mailbox: str = "INBOX") -> dict[int, set[str]]:
        """UID → flags (e.g. {"\\\\Seen"}) for every message in `user`'s mailbox."""
        result: dict[int, set[str]] = {}
        with self.imap(user) as conn:
            _select(conn, mailbox)
            status, data = conn.uid("FETCH", "1:*", "(FLAGS)")
        if status != "OK":
            raise RuntimeError(f"UID FETCH FLAGS failed: {data!r}")
        for item in data:
            if not isinstance(item, bytes):
                continue
            uid = re.search(rb"UID (\d+)", item)
            flags = re.search(rb"FLAGS \(([^)]*)\)", item)
            if uid and flags:
                # \Recent belongs to the session that saw the message first, not the message
                result[int(uid[1])] = set(flags[1].decode().split()) - {"\\Recent"}
        return result

    def _fetch(self, user: str, mailbox: str, part: str) -> list[tuple[int, bytes]]:
        found: list[tuple[int, bytes]] = []
        with self.imap(user) as conn:
            _select(conn, mailbox)
            status, data = conn.uid("SEARCH", "ALL")
            uids = data[0].split() if status == "OK" and data[0] else []
            for uid in uids:
                status, fetched = conn.uid("FETCH", uid, f"({part})")
                payload = next(
                    (item[1] for item in fetched if isinstance(item, tuple)),
                    None,
                )
                if status != "OK" or payload is None:
                    raise RuntimeError(f"UID FETCH {uid!r} failed: {fetched!r}")
                found.append((int(uid), payload))
        return found


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _select(conn: imaplib.IMAP4, mailbox: str) -> None:
    status, data = conn.select(_quote(mailbox), readonly=True)
    if status != "OK":
        raise RuntimeError(f"SELECT {mailbox} failed: {data!r}")


@dataclass
class Recorder:
    """An aiosmtpd handler that records what it accepts; queue replies to make it refuse."""

    received: list[Envelope] = field(default_factory=list)
    rcpt_replies: deque[str] = field(default_factory=deque)
    data_replies: deque[str] = field(default_factory=deque)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.popleft()
        self.received.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [
            cast(EmailMessage, email.message_from_bytes(e.content, policy=default_policy))
            for e in self.received
            if isinstance(e.content, bytes)
        ]


@dataclass
class SmtpServer:
    """A real SMTP server on 127.0.0.1 (aiosmtpd in a thread of its own)."""

    host: str
    port: int
    recorder: Recorder

    @classmethod
    @contextlib.contextmanager
    def start(cls) -> Iterator[SmtpServer]:
        recorder = Recorder()
        port = _free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            yield cls("127.0.0.1", port, recorder)
        finally:
            controller.stop()
