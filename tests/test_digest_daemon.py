"""End to end: `mailcrm serve` as a subprocess sends the morning digest to an aiosmtpd relay started here.

- A digest missed while the daemon was down goes out at start (same local day); restarting the
  daemon afterwards, or `mailcrm digest send`, sends nothing more.  SQLite, STARTTLS + AUTH relay,
  a user in Asia/Vladivostok writing in Russian.
- Two daemons on one PostgreSQL database, both running when the cron trigger fires at the user's
  `digest_time`: exactly one digest; a BCC copy mailed to the daemon before then resets a deal's
  clock; killing the sender and starting it again the same day sends nothing more.

"At digest time" without waiting for a real morning: the test sets `digest_time` to the next
minute (or the last one) in the user's own zone.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import free_port, pg_available, pg_schema_url, require, require_tool
from daemon_proc import DROPBOX, USER, DaemonProcess
from relay import Relay, self_signed
from sqlalchemy import select, update

from mailcrm import config
from mailcrm.app import deals as deal_store
from mailcrm.store import db, migrate, repository
from mailcrm.store.models import DigestRun, Message, User

pytestmark = pytest.mark.slow


def _config_text(tmp: Path, name: str, db_url: str, smtp_port: int, relay_port: int, *, tz: str, digest_time: str,
                 language: str, tls: bool) -> str:
    security = 'relay_security = "starttls"\nrelay_username = "digest"\nrelay_password_env = "MAILCRM_TEST_RELAY_PW"\n' \
        if tls else 'relay_security = "none"\n'
    return (
        f'data_dir = "{tmp / name}"\n[database]\nurl = "{db_url}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
        f'[digest]\nenabled = true\nrelay_host = "127.0.0.1"\nrelay_port = {relay_port}\n{security}'
        'from_address = "mailcrm@example.org"\nmax_retries = 2\n[log]\nformat = "json"\nlevel = "info"\n'
        f'[[users]]\nemail = "{USER}"\nname = "Me"\ndropbox = "{DROPBOX}"\n'
        f'timezone = "{tz}"\ndigest_time = "{digest_time}"\nlanguage = "{language}"\n'
    )


def _prepare_store(cfg: config.Config, deals: list[tuple[str, str, str]], opened: dt.datetime) -> None:
    """Migrate, sync users and open deals before any daemon starts (deals: title, address, stage).

    The users count as registered at ``opened``: a digest due since then and not sent is missed.
    """
    engine = db.make_engine(cfg.database_url())
    try:
        migrate.upgrade(engine)
        factory = db.session_factory(engine)
        with db.transaction(factory) as s:
            repository.sync_users(s, cfg)
            s.execute(update(User).values(created_at=opened))
            for title, address, stage in deals:
                c = deal_store.contact_for(s, address)
                deal_store.create_deal(s, title=title, contact_ids=[c.id], stage=stage, at=opened)
    finally:
        engine.dispose()


def _events(log: Path) -> list[dict[str, object]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out


def _wait_event(log: Path, event: str, timeout: float, count: int = 1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for e in _events(log) if e.get("event") == event) >= count:
            return True
        time.sleep(0.2)
    return False


def _local_now(tz: str) -> dt.datetime:
    return dt.datetime.now(ZoneInfo(tz))


def _next_minute(now: dt.datetime, margin: float) -> dt.datetime:
    """The first whole minute at least ``margin`` seconds after ``now``."""
    return (now + dt.timedelta(seconds=margin)).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)


def _runs(cfg: config.Config) -> list[tuple[dt.date, str]]:
    engine = db.make_engine(cfg.database_url())
    try:
        with db.transaction(db.session_factory(engine)) as s:
            return [(r.local_date, r.status) for r in s.scalars(select(DigestRun))]
    finally:
        engine.dispose()


def test_missed_digest_goes_out_at_start_and_restarts_send_nothing_more(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    tz = "Asia/Vladivostok"
    cert = self_signed(require_tool("openssl"), tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # the daemon's one SSLContext trusts the test relay
    monkeypatch.setenv("MAILCRM_TEST_RELAY_PW", "relay-secret")
    relay = Relay(free_port(), cert=cert, credentials=("digest", "relay-secret")).start()
    now = _local_now(tz)
    earlier = now - dt.timedelta(minutes=1)
    # The digest time has passed today (local), the daemon was not running then.
    digest_time = earlier.strftime("%H:%M") if earlier.date() == now.date() else "00:00"
    port = free_port()
    path = tmp_path / "config.toml"
    path.write_text(_config_text(tmp_path, "data", f"sqlite:///{tmp_path / 'crm.sqlite3'}", port, relay.port, tz=tz,
                                 digest_time=digest_time, language="ru", tls=True))
    cfg = config.load(path)
    _prepare_store(cfg, [("Афиши к премьере", "ivan@theatre.example", "invoiced")],
                   dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=4))
    log = tmp_path / "serve.log"
    d = DaemonProcess(path, port, log)
    try:
        d.start()
        assert relay.wait_for(1, 60), f"no digest captured; log tail: {log.read_text()[-3000:]}"
        got = relay.messages[0]
        assert got.tls and got.login == "digest" and got.rcpt_tos == [USER]
        assert got.message["X-Mailcrm-Digest"] == now.date().isoformat()  # the user's local date, not UTC's
        text = got.message.get_body(("plain",)).get_content()
        assert "Позвонить сегодня" in text and "Афиши к премьере" in text and "ivan@theatre.example" in text
        assert "Asia/Vladivostok" in text
        assert _wait_event(log, "digest sent", 10)
        d.stop()
        # Restart the same day: the catch-up job runs again and finds the (user, date) row sent.
        d.start()
        assert _wait_event(log, "digest already sent or claimed", 30), log.read_text()[-3000:]
        res = d.cli("digest", "send", "--json")
        assert json.loads(res.stdout)["outcome"] == "taken"
        d.kill()  # a crash after the send changes nothing either
        d.start()
        assert _wait_event(log, "digest already sent or claimed", 30, count=2)
        time.sleep(1.0)
        assert relay.count() == 1
        assert _runs(cfg) == [(now.date(), "sent")]
        [row] = json.loads(d.cli("status", "--json").stdout)["digests"]
        assert (row["user"], row["last_date"], row["last_status"]) == (USER, now.date().isoformat(), "sent")
    finally:
        d.stop()
        relay.stop()


def _bcc_copy(d: DaemonProcess, to: str, subject: str) -> None:
    """Mail the user sent to a client, BCC'd to the dropbox (it resets that client's clock)."""
    when = format_datetime(dt.datetime.now(dt.timezone.utc))
    raw = (f"From: Me <{USER}>\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {when}\r\n"
           f"Message-ID: <bcc-{time.time_ns()}@example.org>\r\n\r\nДобрый день!\r\n").encode()
    with d.smtp() as s:
        s.sendmail(USER, [DROPBOX], raw)


def test_two_daemons_on_one_postgresql_send_exactly_one_digest(tmp_path: Path) -> None:
    require(pg_available(), "PostgreSQL not reachable")
    tz = "Europe/Moscow"
    relay = Relay(free_port()).start()
    # The next whole minute at least 35 s away (startup of two daemons), not across local midnight.
    now = _local_now(tz)
    fire = _next_minute(now, 35)
    if fire.date() != now.date():
        time.sleep((fire - now).total_seconds() + 5)
        fire = _next_minute(_local_now(tz), 35)
    with pg_schema_url() as url:
        daemons: list[DaemonProcess] = []
        cfgs = []
        for name in ("a", "b"):
            port = free_port()
            path = tmp_path / f"{name}.toml"
            path.write_text(_config_text(tmp_path, name, url, port, relay.port, tz=tz,
                                         digest_time=fire.strftime("%H:%M"), language="en", tls=False))
            cfgs.append(config.load(path))
            daemons.append(DaemonProcess(path, port, tmp_path / f"{name}.log"))
        opened = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=4)
        _prepare_store(cfgs[0], [("Poster run", "ivan@theatre.example", "invoiced"),
                                 ("Brochures", "petr@kino.example", "invoiced")], opened)
        try:
            for d in daemons:
                d.start()
            _bcc_copy(daemons[1], "Petr <petr@kino.example>", "Invoice reminder")
            engine = db.make_engine(url)
            try:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    with db.transaction(db.session_factory(engine)) as s:
                        if s.scalar(select(Message.id).where(Message.subject == "Invoice reminder")):
                            break
                    time.sleep(0.2)
                else:
                    pytest.fail("the BCC copy was not ingested")
            finally:
                engine.dispose()
            assert relay.count() == 0 and _local_now(tz) < fire, "setup took past digest_time; rerun"
            wait = (fire - _local_now(tz)).total_seconds() + 45
            assert relay.wait_for(1, wait), f"no digest; logs: {daemons[0].log_path.read_text()[-2000:]}"
            for d in daemons:
                assert _wait_event(d.log_path, "digest sent", 1) or \
                    _wait_event(d.log_path, "digest already sent or claimed", 15)
            time.sleep(2.0)
            assert relay.count() == 1
            sender = [d for d in daemons if _wait_event(d.log_path, "digest sent", 0.1)]
            assert len(sender) == 1
            text = relay.messages[0].message.get_body(("plain",)).get_content()
            assert "Call today" in text and "Poster run" in text
            assert "Brochures" not in text  # the BCC copy this morning reset its clock
            assert relay.messages[0].message["X-Mailcrm-Digest"] == fire.date().isoformat()
            # The sender crashes and comes back the same day: nothing more goes out.
            sender[0].kill()
            sender[0].start()
            assert _wait_event(sender[0].log_path, "digest already sent or claimed", 30)
            time.sleep(1.0)
            assert relay.count() == 1
            assert _runs(cfgs[0]) == [(fire.date(), "sent")]
        finally:
            for d in daemons:
                d.stop()
            relay.stop()
