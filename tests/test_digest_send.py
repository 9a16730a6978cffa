"""Digest delivery and scheduling in-process: the (user, date) claim, retries, relay health, DST triggers.

Store tests run on SQLite and PostgreSQL (the ``store`` fixture); the relay is a real aiosmtpd
server on an ephemeral loopback port requiring STARTTLS and AUTH (tests/relay.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import ssl
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import free_port, require_tool
from relay import Relay, self_signed
from sqlalchemy import select

from mailcrm import config
from mailcrm.app import deals as deal_store
from mailcrm.app import digest_runs
from mailcrm.digest import schedule
from mailcrm.digest import send as send_mod
from mailcrm.store import db, repository
from mailcrm.store.models import DigestRun, SourceState, User, utcnow

DAY = dt.date(2026, 3, 10)
# aiosmtpd warns about AUTH without STARTTLS even on an implicit-TLS listener (TLS from the first byte).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _cfg(db_url: str, relay_port: int, *, security: str = "starttls", empty_day: str = "line",
         max_retries: int = 2, language: str = "en") -> config.Config:
    return config.parse(
        f'[database]\nurl = "{db_url}"\n'
        f'[digest]\nrelay_host = "127.0.0.1"\nrelay_port = {relay_port}\nrelay_security = "{security}"\n'
        'relay_username = "digest"\nrelay_password_env = "MAILCRM_TEST_RELAY_PW"\n'
        f'from_address = "mailcrm@example.org"\nempty_day = "{empty_day}"\nmax_retries = {max_retries}\n'
        '[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
        f'timezone = "Asia/Vladivostok"\nlanguage = "{language}"\n', "test")


@pytest.fixture
def tls_relay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A STARTTLS + AUTH relay (not started) whose certificate the digest sender trusts."""
    cert = self_signed(require_tool("openssl"), tmp_path)
    ctx = ssl.create_default_context(cafile=str(cert[0]))
    monkeypatch.setattr(send_mod, "tls_context", lambda: ctx)
    monkeypatch.setenv("MAILCRM_TEST_RELAY_PW", "relay-secret")
    relay = Relay(free_port(), cert=cert, credentials=("digest", "relay-secret"))
    yield relay
    relay.stop()


def _url(engine) -> str:  # type: ignore[no-untyped-def]
    return str(engine.url.render_as_string(hide_password=False))


def _prepare(factory, cfg: config.Config, *, with_deal: bool = True) -> int:  # type: ignore[no-untyped-def]
    with db.transaction(factory) as s:
        repository.sync_users(s, cfg)
        uid = s.scalar(select(User.id).where(User.email == "me@example.org"))
        if with_deal:
            ivan = deal_store.contact_for(s, "ivan@theatre.example")
            deal_store.create_deal(s, title="Афиши к премьере", contact_ids=[ivan.id], stage="invoiced",
                                   at=dt.datetime(2026, 3, 1, 9))
    assert uid is not None
    return int(uid)


def _run(cfg: config.Config, factory, day: dt.date = DAY, instance: str = "test:1", **kw):  # type: ignore[no-untyped-def]
    return asyncio.run(schedule.run_digest(cfg, factory, cfg.users[0], day, instance, **kw))


def test_digest_goes_out_once_over_starttls_with_auth(store, tls_relay: Relay) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cfg = _cfg(_url(engine), tls_relay.port)
    uid = _prepare(factory, cfg)
    tls_relay.start()
    first = _run(cfg, factory)
    assert first["outcome"] == schedule.SENT and first["summary"]["call_today"] == 1
    assert _run(cfg, factory)["outcome"] == schedule.TAKEN  # a retry, a restart, a second daemon
    assert _run(cfg, factory, instance="other:2")["outcome"] == schedule.TAKEN
    assert tls_relay.count() == 1
    got = tls_relay.messages[0]
    assert got.tls and got.login == "digest" and got.rcpt_tos == ["me@example.org"]
    assert got.message["X-Mailcrm-Digest"] == DAY.isoformat() and got.message["Auto-Submitted"] == "auto-generated"
    text = got.message.get_body(("plain",)).get_content()
    html = got.message.get_body(("html",)).get_content()
    assert "Call today" in text and "Афиши к премьере" in text and "Афиши к премьере" in html
    with db.transaction(factory) as s:
        run = s.scalar(select(DigestRun).where(DigestRun.user_id == uid))
        assert run is not None and run.status == "sent" and run.sent_at is not None and run.attempts == 1
        relay_state = s.get(SourceState, send_mod.RELAY_SOURCE)
        assert relay_state is not None and relay_state.ok_at is not None and relay_state.error is None


def test_implicit_tls_relay(store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    cert = self_signed(require_tool("openssl"), tmp_path)
    ctx = ssl.create_default_context(cafile=str(cert[0]))
    monkeypatch.setattr(send_mod, "tls_context", lambda: ctx)
    monkeypatch.setenv("MAILCRM_TEST_RELAY_PW", "relay-secret")
    relay = Relay(free_port(), cert=cert, credentials=("digest", "relay-secret"), implicit_tls=True).start()
    try:
        cfg = _cfg(_url(engine), relay.port, security="tls")
        _prepare(factory, cfg)
        assert _run(cfg, factory)["outcome"] == schedule.SENT
        assert relay.count() == 1 and relay.messages[0].login == "digest"
        # Wrong password: a 535 is permanent, not retried, and reported.
        monkeypatch.setenv("MAILCRM_TEST_RELAY_PW", "wrong")
        bad = _run(cfg, factory, DAY + dt.timedelta(days=1), base_delay=5.0)  # would take 5 s+ if retried
        assert bad["outcome"] == schedule.FAILED and "535" in bad["error"]
    finally:
        relay.stop()


def test_relay_failure_is_retried_with_backoff_and_shown_in_status(store, tls_relay: Relay) -> None:  # type: ignore[no-untyped-def]
    from mailcrm.cli.core import status_data

    engine, factory = store
    url = _url(engine)
    cfg = _cfg(url, tls_relay.port, max_retries=1)
    uid = _prepare(factory, cfg)
    failed = _run(cfg, factory, base_delay=0.05)  # relay down: 2 attempts, then give up for now
    assert failed["outcome"] == schedule.FAILED and "relay" in failed["error"]
    relay_row = next(r for r in status_data(cfg)["sources"] if r["name"] == send_mod.RELAY_SOURCE)
    assert relay_row["error"] and relay_row["error_at"] is not None
    assert relay_row["state"]["last_failure"]["user"] == "me@example.org"
    assert relay_row["state"]["last_failure"]["date"] == DAY.isoformat()
    with db.transaction(factory) as s:
        run = s.scalar(select(DigestRun).where(DigestRun.user_id == uid))
        assert run is not None and (run.status, run.attempts) == ("failed", 1)
    # A later run the same day (the scheduler's retry job, or the next start) tries again; the relay
    # comes back during the backoff pause (started once that run's first attempt is recorded as
    # failed, so a slow machine cannot let the first attempt through) and the second attempt succeeds.
    def error_at() -> dt.datetime | None:
        with db.transaction(factory) as s:
            return s.scalar(select(SourceState.error_at).where(SourceState.name == send_mod.RELAY_SOURCE))

    before = error_at()

    def start_after_first_failure() -> None:
        deadline = dt.datetime.now() + dt.timedelta(seconds=30)
        while error_at() == before and dt.datetime.now() < deadline:
            threading.Event().wait(0.02)
        tls_relay.start()

    starter = threading.Thread(target=start_after_first_failure)
    starter.start()
    try:
        ok = _run(cfg, factory, base_delay=1.0)
    finally:
        starter.join()
    assert ok["outcome"] == schedule.SENT and ok["attempts"] == 2
    assert tls_relay.count() == 1
    relay_row = next(r for r in status_data(cfg)["sources"] if r["name"] == send_mod.RELAY_SOURCE)
    assert relay_row["error"] is None and relay_row["ok_at"] is not None
    assert relay_row["state"]["last_sent"]["attempt"] == 2
    with db.transaction(factory) as s:
        run = s.scalar(select(DigestRun).where(DigestRun.user_id == uid))
        assert run is not None and (run.status, run.attempts) == ("sent", 2)
    # Attempts are capped: a failed run that used them all is not tried again.
    cfg0 = _cfg(url, tls_relay.port, max_retries=0)
    tls_relay.stop()
    other = DAY + dt.timedelta(days=1)
    assert _run(cfg0, factory, other, base_delay=0.01)["outcome"] == schedule.FAILED
    assert _run(cfg0, factory, other, base_delay=0.01)["outcome"] == schedule.TAKEN


def test_empty_day_sends_one_line_or_nothing(store, tls_relay: Relay) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    url = _url(engine)
    _prepare(factory, _cfg(url, tls_relay.port), with_deal=False)
    tls_relay.start()
    assert _run(_cfg(url, tls_relay.port, empty_day="none"), factory)["outcome"] == schedule.SKIPPED
    assert tls_relay.count() == 0
    # Skipped is final for that day, like sent.
    assert _run(_cfg(url, tls_relay.port, empty_day="line"), factory)["outcome"] == schedule.TAKEN
    nxt = DAY + dt.timedelta(days=1)
    assert _run(_cfg(url, tls_relay.port, empty_day="line", language="ru"), factory, nxt)["outcome"] == schedule.SENT
    body = tls_relay.messages[0].message.get_body(("plain",)).get_content()
    assert "Сегодня дел нет" in body
    assert "дел нет" in tls_relay.messages[0].message["Subject"]


def test_claim_states_never_send_twice(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    cfg = _cfg("sqlite://", 25)
    uid = _prepare(factory, cfg, with_deal=False)
    t0 = utcnow()
    alive = lambda _who: True  # noqa: E731 - every claimer counts as running
    run = digest_runs.claim(factory, uid, DAY, "a:1", 3, now=t0, alive=alive)
    assert run is not None
    assert digest_runs.claim(factory, uid, DAY, "b:2", 3, now=t0, alive=alive) is None  # held
    # Left in "claimed" by a crash before anything was sent: taken over once stale ...
    late = t0 + digest_runs.STALE_CLAIM + dt.timedelta(seconds=1)
    assert digest_runs.claim(factory, uid, DAY, "b:2", 3, now=late, alive=alive) == run
    assert digest_runs.claim(factory, uid, DAY, "c:3", 3, now=late, alive=alive) is None  # exactly one taker
    # ... but never once the SMTP transaction began (the relay may have the mail).
    assert not digest_runs.mark_sending(factory, run, "a:1")  # the old owner lost it
    assert digest_runs.mark_sending(factory, run, "b:2")
    much_later = late + 10 * digest_runs.STALE_CLAIM
    assert digest_runs.claim(factory, uid, DAY, "d:4", 3, now=much_later, alive=lambda _w: False) is None
    with db.transaction(factory) as s:
        relay_state = s.get(SourceState, send_mod.RELAY_SOURCE)
        assert relay_state is not None and "may not have arrived" in relay_state.state["uncertain"]["note"]
    # A claimer on this host whose process is gone is taken over at once (restart on digest time).
    other = DAY + dt.timedelta(days=1)
    first = digest_runs.claim(factory, uid, other, "x:1", 3, now=t0, alive=alive)
    assert digest_runs.claim(factory, uid, other, "y:2", 3, now=t0, alive=lambda who: who != "x:1") == first
    with db.transaction(factory) as s:
        assert s.get(DigestRun, first).attempts == 2  # type: ignore[union-attr]


def test_instance_alive_knows_dead_local_processes() -> None:
    import socket
    import subprocess
    import sys

    host = socket.gethostname()
    assert digest_runs.instance_alive(f"{host}:{os.getpid()}")
    assert digest_runs.instance_alive(f"cli:{host}:{os.getpid()}")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert not digest_runs.instance_alive(f"{host}:{gone.pid}")
    assert digest_runs.instance_alive(f"elsewhere.example:{gone.pid}")  # another machine: only time tells
    assert digest_runs.instance_alive(None)


def test_cron_trigger_keeps_local_time_across_dst() -> None:
    user = _cfg("sqlite://", 25).users[0].model_copy(update={"timezone": "Europe/Berlin", "digest_time": "08:00"})
    trigger = schedule.trigger_for(user)
    fires, prev, now = [], None, dt.datetime(2025, 3, 28, 12, tzinfo=dt.timezone.utc)
    for _ in range(4):
        nxt = trigger.get_next_fire_time(prev, now)
        fires.append(nxt)
        prev, now = nxt, nxt + dt.timedelta(seconds=1)
    utc = [f.astimezone(dt.timezone.utc) for f in fires]
    # 08:00 local every day; 07:00 UTC before the spring change (CET), 06:00 UTC after it (CEST).
    assert [f.astimezone(ZoneInfo("Europe/Berlin")).strftime("%m-%d %H:%M") for f in fires] == \
        ["03-29 08:00", "03-30 08:00", "03-31 08:00", "04-01 08:00"]
    assert [u.hour for u in utc] == [7, 6, 6, 6]


def test_vladivostok_and_moscow_fire_at_their_own_mornings() -> None:
    base = _cfg("sqlite://", 25).users[0]
    now = dt.datetime(2026, 3, 9, 12, tzinfo=dt.timezone.utc)
    vvo = schedule.trigger_for(base.model_copy(update={"timezone": "Asia/Vladivostok"})).get_next_fire_time(None, now)
    msk = schedule.trigger_for(base.model_copy(update={"timezone": "Europe/Moscow"})).get_next_fire_time(None, now)
    assert vvo.astimezone(dt.timezone.utc) == dt.datetime(2026, 3, 9, 22, tzinfo=dt.timezone.utc)  # 08:00 +10
    assert msk.astimezone(dt.timezone.utc) == dt.datetime(2026, 3, 10, 5, tzinfo=dt.timezone.utc)  # 08:00 +03
    # At 23:30 UTC it is already 09:30 on the 10th in Vladivostok (missed: catch up) but 02:30 in Moscow.
    late = dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.timezone.utc)
    assert schedule.missed_today(base.model_copy(update={"timezone": "Asia/Vladivostok"}), late)
    assert not schedule.missed_today(base.model_copy(update={"timezone": "Europe/Moscow"}), late)


def test_a_digest_time_that_passed_before_the_user_was_registered_was_not_missed() -> None:
    # Vladivostok, digest at 08:00 (22:00 UTC the day before); the daemon starts at 09:30 local.
    user = _cfg("sqlite://", 25).users[0].model_copy(update={"timezone": "Asia/Vladivostok"})
    start = dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.timezone.utc)
    due = dt.datetime(2026, 3, 9, 22, 0)  # naive UTC, as the store keeps created_at
    assert schedule.missed_today(user, start, since=due - dt.timedelta(days=3))
    assert schedule.missed_today(user, start, since=due)  # registered at the very minute: it was due
    # Registered at 08:10 local (installed this morning): today's digest was never due.
    assert not schedule.missed_today(user, start, since=due + dt.timedelta(minutes=10))
    # An aware time in another zone means the same instant.
    assert not schedule.missed_today(
        user, start, since=(due + dt.timedelta(minutes=10)).replace(tzinfo=dt.timezone.utc).astimezone(
            ZoneInfo("Europe/Moscow")))


def test_a_time_that_happens_twice_in_autumn_maps_to_one_local_date() -> None:
    # 02:30 happens twice in Berlin on 2025-10-26; APScheduler fires at both, and both are the
    # same local date, so the (user, date) claim lets only the first one send.
    user = _cfg("sqlite://", 25).users[0].model_copy(update={"timezone": "Europe/Berlin", "digest_time": "02:30"})
    trigger = schedule.trigger_for(user)
    start = dt.datetime(2025, 10, 25, 12, tzinfo=dt.timezone.utc)
    first = trigger.get_next_fire_time(None, start)
    second = trigger.get_next_fire_time(first, first + dt.timedelta(seconds=1))
    berlin = ZoneInfo("Europe/Berlin")
    dates = {f.astimezone(berlin).date() for f in (first, second)}
    assert dates == {dt.date(2025, 10, 26)}
