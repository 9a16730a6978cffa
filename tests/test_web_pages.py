"""Web login and pages: httpx against the ASGI app on a real store (SQLite and PostgreSQL), and the
`mailcrm web password` command plus a login over a real loopback socket with `mailcrm serve --web`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import free_port, make_config_text
from sqlalchemy import select

from mailcrm import config
from mailcrm.app import cases, web_accounts
from mailcrm.app.handle import Store
from mailcrm.errors import ConfigError, Invalid
from mailcrm.spool import Spool
from mailcrm.store import db, migrate
from mailcrm.store.models import Activity, BounceEvent, Contact, Deal, DealStage, EmailAddress, Message, WebSession
from mailcrm.web.app import WebContext, create_app

USERS = (
    '[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\nlanguage = "ru"\n'
    '[[users]]\nemail = "kate@example.org"\nname = "Kate"\ndropbox = "crm+kate@example.org"\nlanguage = "en"\n'
    'timezone = "America/New_York"\n'
)
PASSWORD = "correct horse battery"


class Site:
    """The ASGI app over a migrated store with two users who have passwords, called through httpx."""

    def __init__(self, tmp: Path, db_url: str) -> None:
        self.cfg = config.parse(make_config_text(tmp, db_url, free_port(), users=USERS), str(tmp / "config.toml"))
        self.engine = db.make_engine(db_url)
        migrate.upgrade(self.engine)
        self.factory = db.session_factory(self.engine)
        for email in ("me@example.org", "kate@example.org"):
            web_accounts.set_password(self.factory, self.cfg, email, PASSWORD)
        with db.transaction(self.factory) as s:
            for name, addr in (("Алёна Ёлкина", "alena@theatre.example"), ("John Smith", "john@films.example")):
                c = Contact(name=name)
                s.add(c)
                s.flush()
                s.add(EmailAddress(address=addr, contact_id=c.id))
        self.ctx = WebContext(self.cfg, Spool(tmp / "spool"), self.factory)
        self.app = create_app(self.ctx)
        self.state: dict[str, object] = {}  # per-test values (an API token issued once)

    def client(self, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app, client=("127.0.0.1", 5000)),
                                 base_url="http://testserver", headers=headers)


@pytest.fixture
def site(tmp_path: Path, db_url: str) -> Iterator[Site]:
    s = Site(tmp_path, db_url)
    yield s
    s.engine.dispose()


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html
    return m.group(1)


async def _login(http: httpx.AsyncClient, email: str, password: str = PASSWORD,
                 nxt: str = "/") -> httpx.Response:
    page = await http.get("/login")
    return await http.post("/login", data={"email": email, "password": password, "csrf": _csrf(page.text),
                                           "next": nxt})


def test_pages_need_login_and_csrf(site: Site) -> None:
    async def run() -> None:
        async with site.client() as http:
            r = await http.get("/?q=%D0%B0")
            assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F%3Fq%3D%25D0%25B0"
            # Security headers on every answer, the intake's included.
            r = await http.get("/login")
            csp = r.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
            assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "same-origin"
            assert "x-frame-options" in (await http.post("/intake/nope", data={"a": "b"})).headers
            cookie = r.headers["set-cookie"]
            assert "mailcrm_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
            assert "Secure" not in cookie  # plain HTTP on loopback
            # A login POST without the CSRF field, or with a wrong one: 403, no session.
            r = await http.post("/login", data={"email": "me@example.org", "password": PASSWORD})
            assert r.status_code == 403 and "mailcrm_session" not in r.headers.get("set-cookie", "")
            r = await http.post("/login", data={"email": "me@example.org", "password": PASSWORD, "csrf": "x" * 43})
            assert r.status_code == 403
            # A wrong password: 401 and the form again, in the browser's language.
            r = await _login(http, "me@example.org", "wrong password!")
            assert r.status_code == 401 and "Неверный адрес или пароль" in r.text
            # The right one: a session cookie and back to where the user was going (only a local path).
            r = await _login(http, "me@example.org", nxt="//evil.example/x")
            assert r.status_code == 303 and r.headers["location"] == "/"
            cookies = r.headers.get_list("set-cookie")
            session = next(c for c in cookies if c.startswith("mailcrm_session="))
            assert "HttpOnly" in session and "SameSite=strict" in session
            r = await http.get("/")
            assert r.status_code == 200 and "me@example.org" in r.text and "Выйти" in r.text
            # Logout needs the CSRF field too; then the session is gone on the server.
            assert (await http.post("/logout")).status_code == 403
            assert (await http.get("/")).status_code == 200
            r = await http.post("/logout", data={"csrf": _csrf((await http.get("/")).text)})
            assert r.status_code == 303 and r.headers["location"] == "/login"
        with db.transaction(site.factory) as s:
            assert s.query(WebSession).count() == 0
        async with site.client() as http:  # an old cookie after logout is not a login
            http.cookies.set("mailcrm_session", session.split(";")[0].split("=", 1)[1])
            assert (await http.get("/")).status_code == 303

    asyncio.run(run())


def test_search_in_the_users_language(site: Site) -> None:
    async def run() -> None:
        async with site.client(**{"Accept-Language": "ru"}) as http:
            assert (await _login(http, "kate@example.org")).status_code == 303
            r = await http.get("/", params={"q": "theatre"})
            assert r.status_code == 200
            assert "Алёна Ёлкина" in r.text and "alena@theatre.example" in r.text and "John Smith" not in r.text
            assert "Sign out" in r.text and "Found: 1" in r.text  # Kate reads English whatever the browser says
            r = await http.get("/", params={"q": "<script>alert(1)</script>"})
            assert "<script>alert(1)" not in r.text and "&lt;script&gt;" in r.text and "Nobody found." in r.text
            assert (await http.get("/", params={"q": "a\x00b"})).status_code == 200  # PostgreSQL refuses NUL
        async with site.client() as http:
            await _login(http, "me@example.org")
            r = await http.get("/", params={"q": "films"})
            assert "John Smith" in r.text and "Найдено: 1" in r.text

    asyncio.run(run())


def test_logins_are_throttled_per_account_and_per_client(site: Site) -> None:
    async def run() -> None:
        async with site.client() as http:
            for _ in range(5):
                assert (await _login(http, "me@example.org", "nope nope nope")).status_code == 401
            r = await _login(http, "me@example.org")  # even the right password, while throttled
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and "mailcrm_session" not in str(
                r.headers.get_list("set-cookie"))
            # The other account from the same address is still let in (20 failures per address).
            assert (await _login(http, "kate@example.org")).status_code == 303
        async with site.client() as http:  # one address guessing many accounts is stopped per address
            for i in range(20):
                await _login(http, f"nobody{i}@example.org", "nope nope nope")
            assert (await _login(http, "kate@example.org")).status_code == 429

    asyncio.run(run())


def test_password_rules_and_sessions_end_on_change(site: Site) -> None:
    with pytest.raises(Invalid, match="too short"):
        web_accounts.set_password(site.factory, site.cfg, "me@example.org", "short")
    with pytest.raises(Invalid, match="not a user"):
        web_accounts.set_password(site.factory, site.cfg, "crm+secret@example.org", PASSWORD)
    token = web_accounts.login(site.factory, "ME@example.org", PASSWORD)
    assert token and web_accounts.session_user(site.factory, site.cfg, token).email == "me@example.org"
    assert web_accounts.login(site.factory, "me@example.org", PASSWORD + "x") is None
    assert web_accounts.login(site.factory, "unknown@example.org", PASSWORD) is None
    out = web_accounts.set_password(site.factory, site.cfg, "me@example.org", "another long password")
    assert out["sessions_ended"] == 1 and web_accounts.session_user(site.factory, site.cfg, token) is None


def test_cyrillic_search_any_case(site: Site, db_url: str) -> None:

    async def run() -> None:
        async with site.client() as http:
            await _login(http, "me@example.org")
            r = await http.get("/", params={"q": "ёлкина"})
            assert "Алёна Ёлкина" in r.text and "John Smith" not in r.text

    asyncio.run(run())


def test_contact_card_and_paginated_timeline_in_the_users_zone(site: Site) -> None:
    base = dt.datetime(2026, 1, 1, 21, 30)  # UTC: 00:30 next day in Moscow, 16:30 in New York
    with db.transaction(site.factory) as s:
        cid = s.query(EmailAddress).filter_by(address="alena@theatre.example").one().contact_id
        for i in range(120):
            s.add(Activity(contact_id=cid, kind="note", at=base - dt.timedelta(hours=i), text=f"note number {i}"))
        s.query(EmailAddress).filter_by(address="alena@theatre.example").one().status = "bounced"

    async def run() -> None:
        async with site.client() as http:
            await _login(http, "me@example.org")
            r = await http.get("/", params={"q": "theatre"})
            assert 'href="/contacts/alena%40theatre.example"' in r.text
            r = await http.get("/contacts/alena%40theatre.example")
            assert r.status_code == 200 and "Алёна Ёлкина" in r.text and "не доходит" in r.text
            assert "2026-01-02 00:30" in r.text and "note number 0<" in r.text and "note number 49<" in r.text
            assert "note number 50<" not in r.text and 'rel="next" href="?page=2&amp;before=' in r.text
            # The "older" link carries a keyset cursor: the next page starts after the last item shown.
            older = re.search(r'rel="next" href="\?([^"]+)"', r.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
            r = await http.get(f"/contacts/alena%40theatre.example?{older}")
            assert "note number 50<" in r.text and "note number 99<" in r.text and "note number 49<" not in r.text
            assert "note number 100<" not in r.text and 'rel="prev" href="?page=1"' in r.text
            r = await http.get("/contacts/alena%40theatre.example?page=2&before=garbage")  # a damaged link: by number
            assert "note number 50<" in r.text and "note number 49<" not in r.text
            r = await http.get("/contacts/alena@theatre.example", params={"page": 3})
            assert "note number 100<" in r.text and "note number 119<" in r.text and "note number 99<" not in r.text
            assert 'rel="next"' not in r.text and 'rel="prev" href="?page=2"' in r.text
            assert (await http.get("/contacts/nobody@example.org")).status_code == 404
        async with site.client() as http:
            await _login(http, "kate@example.org")
            r = await http.get("/contacts/alena@theatre.example")
            assert "2026-01-01 16:30" in r.text and "bounced" in r.text and "Timeline" in r.text

    asyncio.run(run())


def test_deals_board_move_won_lost(site: Site) -> None:
    store = Store(site.engine, site.factory)
    fresh = cases.add_deal(store, site.cfg, "Пьеса для театра", ["alena@theatre.example"], stage="brief",
                           company=None, amount="150000", currency=None)
    old = cases.add_deal(store, site.cfg, "Film rights", ["john@films.example"], stage="invoiced", company=None,
                         amount=None, currency=None)
    third = cases.add_deal(store, site.cfg, "Third", ["john@films.example"], stage="lead", company=None,
                           amount=None, currency=None)
    with db.transaction(site.factory) as s:  # invoiced 3 days ago: past its first_after (1 day)
        s.get(Deal, old["id"]).stage_changed_at = dt.datetime.utcnow() - dt.timedelta(days=3)

    async def run() -> None:
        async with site.client() as http:
            await _login(http, "me@example.org")
            r = await http.get("/deals")
            assert r.status_code == 200 and "Пьеса для театра" in r.text and "150\u00a0000\u00a0₽" in r.text
            assert "Бриф" in r.text or "бриф" in r.text  # stage names in the user's language
            assert f'class="deal overdue" id="deal-{old["id"]}"' in r.text
            assert f'class="deal" id="deal-{fresh["id"]}"' in r.text and "просрочено" in r.text
            csrf = _csrf(r.text)
            url = f"/deals/{fresh['id']}/move"
            assert (await http.post(url, data={"stage": "invoiced"})).status_code == 403  # no CSRF field
            r = await http.post(url, data={"stage": "invoiced", "csrf": csrf})
            assert r.status_code == 303 and r.headers["location"] == "/deals"
            r = await http.post(url, data={"stage": "nonsense", "csrf": csrf})
            assert r.status_code == 400 and "unknown stage" in r.text
            r = await http.post(f"/deals/{old['id']}/move", data={"stage": "won", "csrf": csrf})
            assert r.status_code == 303
            r = await http.post(f"/deals/{third['id']}/move", data={"stage": "lost", "csrf": csrf})
            assert r.status_code == 400  # a lost deal needs its reason
            r = await http.post(f"/deals/{third['id']}/move", data={"stage": "lost", "reason": "no budget",
                                                                     "csrf": csrf})
            assert r.status_code == 303
            r = await http.get("/deals")
            assert "Film rights" not in r.text and "Third" not in r.text  # closed deals leave the board
        with db.transaction(site.factory) as s:
            assert s.get(Deal, fresh["id"]).stage == "invoiced"
            assert s.get(Deal, old["id"]).status == "won"
            lost = s.get(Deal, third["id"])
            assert lost.status == "lost" and lost.lost_reason == "no budget"
            assert [h.stage for h in s.query(DealStage).filter_by(deal_id=fresh["id"]).order_by(DealStage.id)] == [
                "brief", "invoiced"]

    asyncio.run(run())


def test_bounces_page_reactivate_and_confirm(site: Site) -> None:
    with db.transaction(site.factory) as s:
        alena = s.query(EmailAddress).filter_by(address="alena@theatre.example").one()
        alena.status = "bounced"
        john = s.query(EmailAddress).filter_by(address="john@films.example").one()
        john.status = "suspect"
        m = Message(identity="bounce-1", sha256="0" * 64, kind="bounce", direction="in",
                    date=dt.datetime.utcnow(), thread_key="t")
        s.add(m)
        s.flush()
        s.add(BounceEvent(message_id=m.id, address=alena.address, address_id=alena.id, hard=True, status="5.1.1",
                          reason="mailbox_unknown", at=dt.datetime.utcnow()))

    async def run() -> None:
        async with site.client() as http:
            await _login(http, "kate@example.org")
            r = await http.get("/bounces")
            assert r.status_code == 200 and "alena@theatre.example" in r.text and "mailbox_unknown" in r.text
            assert "hard" in r.text and "Reactivate" in r.text
            csrf = _csrf(r.text)
            assert (await http.post("/bounces/reactivate", data={"address": "alena@theatre.example"})).status_code == 403
            r = await http.post("/bounces/reactivate", data={"address": "alena@theatre.example", "csrf": csrf})
            assert r.status_code == 303
            r = await http.post("/bounces/confirm", data={"address": "john@films.example", "csrf": csrf})
            assert r.status_code == 303
            r = await http.post("/bounces/confirm", data={"address": "nobody@example.org", "csrf": csrf})
            assert r.status_code == 400
        with db.transaction(site.factory) as s:
            assert s.query(EmailAddress).filter_by(address="alena@theatre.example").one().status == "active"
            assert s.query(EmailAddress).filter_by(address="john@films.example").one().status == "bounced"

    asyncio.run(run())


@pytest.mark.parametrize("web, ok", [
    ('listen = "0.0.0.0:8025"', False),
    ('listen = "192.0.2.1:8025"\ntls_cert = "/c.pem"', False),  # the key is missing
    ('listen = "0.0.0.0:8025"\nallow_insecure_http = true', True),
    ('listen = "[::1]:8025"', True),
    ('listen = "localhost:8025"', True),
    ('listen = "0.0.0.0:8025"\ntls_cert = "/c.pem"\ntls_key = "/k.pem"', True),
])
def test_non_loopback_listen_needs_tls(web: str, ok: bool) -> None:
    text = f'[web]\n{web}\n[[users]]\nemail = "me@example.org"\ndropbox = "crm+x@example.org"\n'
    if ok:
        config.parse(text, "/etc/mailcrm/config.toml")
        return
    with pytest.raises(ConfigError) as exc:
        config.parse(text, "/etc/mailcrm/config.toml")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("/etc/mailcrm/config.toml") and "web" in msg


@pytest.mark.slow
def test_password_command_and_login_over_loopback(tmp_path: Path) -> None:
    smtp, web = free_port(), free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(make_config_text(tmp_path, f"sqlite:///{tmp_path / 's.db'}", smtp, users=USERS))
    env = {"MAILCRM_CONFIG": str(cfg), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[1])}

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mailcrm", *args], input=stdin, env=env, capture_output=True,
                              text=True, timeout=120)

    r = cli("web", "password", "me@example.org", stdin=PASSWORD + "\n")
    assert r.returncode == 0 and "web password set for me@example.org" in r.stdout, r.stderr
    r = cli("web", "password", "me@example.org", "--json", stdin="short\n")
    assert r.returncode != 0 and "too short" in r.stderr and "Traceback" not in r.stderr
    # --web on a public address without TLS: refused with one line, exit 2.
    r = cli("serve", "--web", f"0.0.0.0:{web}")
    assert r.returncode == 2 and "allow_insecure_http" in r.stderr and "Traceback" not in r.stderr
    proc = subprocess.Popen([sys.executable, "-m", "mailcrm", "serve", "--web", f"127.0.0.1:{web}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{web}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 204:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "web listener did not start"
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/").status_code == 303
            page = http.get("/login")
            r = http.post("/login", data={"email": "me@example.org", "password": PASSWORD, "csrf": _csrf(page.text)})
            assert r.status_code == 303
            assert http.get("/static/style.css").status_code == 200
            r = http.get("/")
            assert r.status_code == 200 and "me@example.org" in r.text
    finally:
        proc.terminate()
        proc.wait(30)


FORWARD = (b"From: Me <me@example.org>\r\nTo: crm+secret@example.org\r\nSubject: Fwd: =?utf-8?b?0J/RjNC10YHQsA==?=\r\n"
           b"Date: Mon, 02 Feb 2026 10:00:00 +0300\r\nMessage-ID: <fwd1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           + "---------- Forwarded message ---------\r\nFrom: Олег Сидоров <oleg@kino.example>\r\n"
             "Date: Fri, 30 Jan 2026 at 09:15\r\nSubject: Пьеса\r\nTo: Me <me@example.org>\r\n\r\n"
             "Прочитали, интересно.\r\n\r\n--\r\nОлег Сидоров\r\nпродюсер\r\nКиностудия «Север»\r\n".encode())


def test_card_fields_learned_or_typed_edit_dates_and_raw_mail(site: Site) -> None:
    """The card marks fields learned from mail, edits them (CSRF-checked), lists special dates, marks the forward's
    original sender and links each message's raw .eml (a download, byte for byte)."""
    from mailcrm.app import apply as pipeline
    from mailcrm.domain.special_dates import DateSpec
    from mailcrm.spool import SpoolMeta
    from mailcrm.store import repository

    with db.transaction(site.factory) as s:
        repository.sync_users(s, site.cfg)
        job = pipeline.ingest(s, site.cfg, SpoolMeta(source="smtp", mail_from="me@example.org",
                                                     rcpt_tos=["crm+secret@example.org"], peer="127.0.0.1"), FORWARD)
        assert job.outcome == "stored", job
        mid = s.scalars(select(Message.id)).one()
    from mailcrm.app import activities
    with db.transaction(site.factory) as s:
        activities.add_special_date(s, "премьера", DateSpec(5, 20, None, None), address="oleg@kino.example")

    async def run() -> None:
        async with site.client() as http:
            await _login(http, "me@example.org")
            r = await http.get("/contacts/oleg@kino.example")
            assert r.status_code == 200 and "Олег Сидоров" in r.text
            assert "(из писем)" in r.text and "переслано вами" in r.text and "премьера" in r.text
            assert f'href="/messages/{mid}.eml"' in r.text
            csrf = _csrf(r.text)
            raw = await http.get(f"/messages/{mid}.eml")
            assert raw.status_code == 200 and raw.content == FORWARD
            assert raw.headers["content-type"].startswith("message/rfc822") and "attachment" in raw.headers["content-disposition"]
            assert (await http.get(f"/messages/{mid + 999}.eml")).status_code == 404
            # Edit: refused without CSRF, saved with it; typed fields lose the "learned" mark.
            url = "/contacts/oleg@kino.example/edit"
            assert (await http.post(url, data={"title": "директор"})).status_code == 403
            r = await http.post(url, data={"name": "Олег П. Сидоров", "title": "директор", "phones": "8 921 555-99-99",
                                           "csrf": csrf}, follow_redirects=True)
            assert r.status_code == 200 and "Олег П. Сидоров" in r.text and "директор" in r.text and "+79215559999" in r.text
            assert "директор</dd>" in r.text  # typed: no "learned" mark after it
            r = await http.post(url, data={"phones": "not a phone", "csrf": _csrf(r.text)})
            assert r.status_code == 400 and "not a phone number" in r.text
        async with site.client() as http:
            await _login(http, "kate@example.org")
            r = await http.get("/contacts/oleg@kino.example")
            assert "from mail" in r.text and "forwarded by you" in r.text and "Edit" in r.text
        async with site.client() as http:
            assert (await http.get(f"/messages/{mid}.eml")).status_code in (302, 303)  # login first

    asyncio.run(run())
