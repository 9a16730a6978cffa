"""A throw-away Dovecot IMAP server on 127.0.0.1 for tests and benchmarks (test helper).

Debian's ``dovecot-imapd`` is started with its own config in a private temp dir: a free
high port, plaintext auth allowed (loopback only), a passwd-file user, Maildir storage,
optionally STARTTLS with a self-signed certificate.  Started as root, the static userdb
maps to the ``dovecot`` system user and ``first_valid_uid`` is lowered so logins work.
``stop()`` kills the whole process group and removes the directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
USER = "crm"
PASSWORD = "s3cret-pass"


def free_port() -> int:
    """An ephemeral loopback port that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _self_signed(cert: Path, key: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )


class Dovecot:
    """One Dovecot instance; ``users`` maps login -> password."""

    def __init__(self, tls: bool = False, users: dict[str, str] | None = None) -> None:
        self.tls = tls
        self.users = users or {USER: PASSWORD}
        # Not pytest's tmp_path: that is mode 0700 and the dovecot user must reach the Maildir.
        self.dir = Path(tempfile.mkdtemp(prefix="mailcrm-dovecot-"))
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.imaps_port = free_port() if tls else 0  # implicit TLS (RFC 8314) next to STARTTLS
        self.proc: subprocess.Popen[bytes] | None = None
        self.cert = self.dir / "cert.pem"
        self._write_config()

    # -- setup --------------------------------------------------------------------------
    def _write_config(self) -> None:
        d = self.dir
        for sub in ("run", "state", "home"):
            (d / sub).mkdir()
        if os.geteuid() == 0:
            mail_user = "dovecot"
            internal, login = "dovecot", "dovenull"
        else:
            mail_user = internal = login = pwd.getpwuid(os.geteuid()).pw_name
        uid = pwd.getpwnam(mail_user).pw_uid
        gid = pwd.getpwnam(mail_user).pw_gid
        for name in self.users:
            home = d / "home" / name
            home.mkdir()
            os.chown(home, uid, gid)
        os.chown(d / "home", uid, gid)
        (d / "passwd").write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in self.users.items()))
        ssl = "ssl = no\n"
        if self.tls:
            key = d / "key.pem"
            _self_signed(self.cert, key)
            ssl = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{key}\n"
        (d / "dovecot.conf").write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {min(uid, 100)}
first_valid_gid = {min(gid, 100)}
disable_plaintext_auth = no
auth_mechanisms = plain login
{ssl}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
""")

    def maildir(self, user: str = USER) -> Path:
        """The user's Maildir root (INBOX)."""
        return self.dir / "home" / user / "Maildir"

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> "Dovecot":
        """Start in the foreground (own process group) and wait for the greeting."""
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.dir / "dovecot.conf")],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr.log", "ab"), start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited {self.proc.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer: {self.log_tail()}")

    def stop(self) -> None:
        """Kill the process group and wait (the data directory stays for a restart)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        """Stop and start again on the same port and data."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop and remove everything."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self) -> str:
        """The last lines of Dovecot's logs (for failure messages)."""
        out = ""
        for name in ("dovecot.log", "stderr.log"):
            p = self.dir / name
            if p.exists():
                out += p.read_text(errors="replace")[-1500:]
        return out

    # -- client helpers --------------------------------------------------------------------
    def client(self, user: str = USER):  # type: ignore[no-untyped-def]
        """A logged-in imapclient connection (plain; STARTTLS when the server has TLS)."""
        import ssl

        from imapclient import IMAPClient

        c = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=30)
        if self.tls:
            ctx = ssl.create_default_context(cafile=str(self.cert))
            c.starttls(ctx)
        c.login(user, self.users[user])
        return c

    def append(self, folder: str, messages: list[bytes], user: str = USER, when=None) -> None:  # type: ignore[no-untyped-def]
        """APPEND messages to a folder (created when missing); ``when`` sets the INTERNALDATE."""
        c = self.client(user)
        try:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            for m in messages:
                c.append(folder, m, msg_time=when)
        finally:
            c.logout()

    def write_maildir(self, folder: str, messages: list[bytes], user: str = USER) -> None:
        """Write messages as Maildir files directly (fast bulk load; Dovecot indexes on SELECT)."""
        root = self.maildir(user)
        base = root if folder == "INBOX" else root / f".{folder.replace('/', '.')}"
        info = pwd.getpwnam("dovecot" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name)
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        stamp = int(time.time())
        for i, m in enumerate(messages):
            (base / "cur" / f"{stamp}.M{i}P{os.getpid()}.bench,S={len(m)}:2,").write_bytes(m)
        for dirpath, dirnames, filenames in os.walk(root):
            os.chown(dirpath, info.pw_uid, info.pw_gid)
            for f in filenames:
                os.chown(os.path.join(dirpath, f), info.pw_uid, info.pw_gid)
        sub_file = root / "subscriptions"
        if folder != "INBOX":
            names = set(sub_file.read_text().split("\n")) if sub_file.exists() else set()
            names.discard("")
            names.add(folder)
            sub_file.write_text("\n".join(sorted(names)) + "\n")
            os.chown(sub_file, info.pw_uid, info.pw_gid)


PROVIDER_AUTHSERV_ID = "imap.test.example"


def make_message(i: int, *, from_: str = "me@example.org", to: str | None = None, subject: str | None = None,
                 body: str | None = None, headers: str = "", msgid: str | None = None) -> bytes:
    """A small RFC 5322 message numbered ``i`` (sent by the test user by default)."""
    to = to or f"Contact {i} <c{i}@corp{i % 50}.example.com>"
    subject = subject or f"Proposal {i}"
    body = body or f"Hello,\r\n\r\nthis is message number {i}.\r\n\r\n--\r\nMe\r\n"
    msgid = msgid or f"<msg{i}.test@example.org>"
    # What the user's provider stamps on delivery (RFC 8601); the test configs trust this
    # authserv-id, so mail in an IMAP "dropbox" folder has its author proven (issue 20).
    stamp = f"Authentication-Results: {PROVIDER_AUTHSERV_ID}; dmarc=pass header.from={from_.rpartition('@')[2]}\r\n"
    return (
        f"{stamp}From: Me <{from_}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: Mon, 01 Jan 2024 10:{i // 60 % 60:02d}:{i % 60:02d} +0300\r\nMessage-ID: {msgid}\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n{headers}\r\n{body}"
    ).encode()


# -- an in-process mailcrm (store + spool + worker + IMAP threads) ------------------------------
class Harness:
    """Store, spool, worker thread and IMAP account threads in this process; ``close()`` stops all."""

    def __init__(self, config_text: str, tmp: Path, start_imap: bool = True, start_worker: bool = True) -> None:
        import threading

        from mailcrm import config
        from mailcrm.ingest.worker import Worker
        from mailcrm.sources import imap
        from mailcrm.spool import Spool
        from mailcrm.store import db, migrate, repository

        self.cfg = config.parse(config_text, str(tmp / "config.toml"))
        self.engine = db.make_engine(self.cfg.database_url())
        migrate.upgrade(self.engine)
        self.factory = db.session_factory(self.engine)
        with db.transaction(self.factory) as s:
            repository.sync_users(s, self.cfg)
        self.spool = Spool(self.cfg.spool_path())
        self.worker = Worker(self.cfg, self.factory, self.spool)
        self.outcomes: list[tuple[str, str]] = []
        self.worker.on_committed(lambda item, outcome: self.outcomes.append((item.meta.source, outcome)))
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        if start_worker:
            self.start_worker()
        self.sources = imap.build_sources(self.cfg, self.spool, self.worker, self.factory, self.stop_event)
        if start_imap:
            self.threads += [imap.run_source(s) for s in self.sources]

    def start_worker(self) -> None:
        """Start the ingest worker thread (tests may hold it back to see what waits for a commit)."""
        from mailcrm.ingest.worker import start_thread

        self.threads.append(start_thread(self.worker, self.stop_event))

    def wait_connected(self, timeout: float = 15.0) -> None:
        """Wait until every IMAP source finished its first sync pass (and sits in IDLE)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(s.cycles >= 1 and s.connected.is_set() for s in self.sources):
                time.sleep(0.2)  # let it enter IDLE
                return
            time.sleep(0.05)
        raise AssertionError("IMAP sources did not connect")

    def count(self, model, *where) -> int:  # type: ignore[no-untyped-def]
        """Rows of ``model`` matching ``where``."""
        from sqlalchemy import func, select

        with self.factory() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def wait_for(self, predicate, timeout: float = 10.0) -> float:  # type: ignore[no-untyped-def]
        """Poll ``predicate`` until true; returns the seconds it took (AssertionError on timeout)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if predicate():
                return time.monotonic() - t0
            time.sleep(0.05)
        if predicate():
            return time.monotonic() - t0
        raise AssertionError(f"condition not met within {timeout}s")

    def close(self) -> None:
        """Stop the threads and dispose of the engine."""
        self.stop_event.set()
        self.spool.wake()
        for t in self.threads:
            t.join(15)
        self.engine.dispose()


def imap_block(server: Dovecot, name: str = "crm-box", folders: str = '{ "INBOX" = "dropbox" }',
               password_file: Path | None = None, extra: str = "", implicit_tls: bool = False) -> str:
    """An [[imap]] config block pointing at ``server`` (STARTTLS, or implicit TLS on its imaps port)."""
    pw = password_file or server.dir / f"{name}.pass"
    if password_file is None:
        pw.write_text(server.users[USER] + "\n")
    security = ("tls" if implicit_tls else "starttls") if server.tls else "plain"
    port = server.imaps_port if implicit_tls else server.port
    tls = f'ca_file = "{server.cert}"\n' if server.tls else ""
    return (
        f'[[imap]]\nname = "{name}"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\n'
        f'username = "{USER}"\npassword_file = "{pw}"\nfolders = {folders}\npoll_interval = 300\n{tls}{extra}\n'
    )
