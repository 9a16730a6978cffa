"""Form intake end to end: httpx against a real `mailcrm serve` (SQLite and PostgreSQL), a test relay for the
"new lead" mail, the digest preview; and a notification mail from a configured form sender over SMTP.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port
from daemon_proc import DROPBOX, USER, DaemonProcess
from relay import Relay
from sqlalchemy import create_engine, func, select

from mailcrm.store.db import normalize_url
from mailcrm.store.models import Activity, Contact, Deal, Lead

pytestmark = pytest.mark.slow


def config_text(tmp: Path, db_url: str, smtp: int, web: int, relay: int, *, rate: int = 5,
                max_body: int = 4096) -> str:
    return (
        f'data_dir = "{tmp / "data"}"\n[database]\nurl = "{db_url}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp}\n'
        f'[web]\nlisten = "127.0.0.1:{web}"\nrate_limit = {rate}\nmax_body = {max_body}\n'
        'trusted_proxies = ["127.0.0.1"]\n'
        f'[digest]\nenabled = true\nrelay_host = "127.0.0.1"\nrelay_port = {relay}\nrelay_security = "none"\n'
        'from_address = "mailcrm@example.org"\n[log]\nformat = "json"\n'
        f'[[users]]\nemail = "{USER}"\nname = "Me"\ndropbox = "{DROPBOX}"\ntimezone = "Europe/Moscow"\n'
        '[[forms]]\nname = "site"\ncors_origins = ["https://site.example"]\nhoneypot = "website"\n'
        'fields = { "tel-737" = "phone" }\n'
        '[[forms]]\nname = "tilda"\nfrom = "robot@tilda.ws"\n'
    )


class Web:
    """A running daemon with its web port."""

    def __init__(self, tmp: Path, db_url: str, relay_port: int, **kw: int) -> None:
        self.smtp, self.port = free_port(), free_port()
        cfg = tmp / "config.toml"
        cfg.write_text(config_text(tmp, db_url, self.smtp, self.port, relay_port, **kw))
        self.daemon = DaemonProcess(cfg, self.smtp, tmp / "serve.log")
        self.db_url = db_url

    def start(self) -> "Web":
        self.daemon.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 204:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("web listener did not start")

    def url(self, name: str = "site") -> str:
        forms = json.loads(self.daemon.cli("form", "list", "--json").stdout)
        return next(f["url"] for f in forms if f["name"] == name)

    def count(self, model: type) -> int:
        engine = create_engine(normalize_url(self.db_url))
        try:
            with engine.connect() as c:
                return int(c.execute(select(func.count()).select_from(model)).scalar_one())
        finally:
            engine.dispose()

    def wait_leads(self, n: int, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.count(Lead) < n:
            time.sleep(0.1)
        return self.count(Lead)


def _client(i: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"203.0.113.{i}"}  # the daemon trusts 127.0.0.1 as a proxy


def test_intake_end_to_end(tmp_path: Path, db_url: str) -> None:
    relay = Relay(free_port()).start()
    web = Web(tmp_path, db_url, relay.port)
    web.daemon.cli("form", "add", "site")
    web.start()
    try:
        url = web.url()
        assert url.startswith(f"http://127.0.0.1:{web.port}/intake/")
        with httpx.Client(timeout=10) as http:
            # Tilda: urlencoded, its own names and tranid.
            r = http.post(url, data={"Name": "Иван Петров", "Phone": "+7 (921) 555-99-99", "Email": "ivan@corp.example",
                                     "tranid": "777:1", "utm_source": "yandex"}, headers=_client(1))
            assert r.status_code == 200 and r.json()["ok"] and r.json()["id"]
            # The same submission again (a retry after a timeout): stored once.
            assert http.post(url, data={"Name": "Иван Петров", "Phone": "+79215559999", "Email": "ivan@corp.example",
                                        "tranid": "777:1"}, headers=_client(1)).status_code == 200
            # Contact Form 7: multipart, a custom phone field mapped in [[forms]].
            r = http.post(url, files={"your-name": (None, "John Smith"), "tel-737": (None, "+1 415 555 0100"),
                                      "your-message": (None, "Call me")}, headers=_client(2))
            assert r.status_code == 200, r.text
            # Google Forms (Apps Script) JSON with Russian field names, phone only.
            r = http.post(url, content=json.dumps({"Имя": "Олег", "Телефон": "8 903 000-00-01",
                                                   "Комментарий": "Нужна смета"}, ensure_ascii=False).encode(),
                          headers={"Content-Type": "application/json", **_client(3)})
            assert r.status_code == 200
            # Honeypot filled: 200, nothing stored.
            r = http.post(url, data={"name": "bot", "phone": "+79990000000", "website": "http://spam"}, headers=_client(4))
            assert r.status_code == 200 and "id" not in r.json()
            # Wrong token, same length: 404 and the same body as any unknown path under /intake.
            bad = url[:-3] + ("aaa" if not url.endswith("aaa") else "bbb")
            assert http.post(bad, data={"name": "x"}).status_code == 404
            assert http.post(url.rsplit("/", 1)[0] + "/x", data={"name": "x"}).json() == {"ok": False,
                                                                                          "error": "not found"}
            # 413, 400 with a JSON error naming the problem.
            assert http.post(url, content=b"a=" + b"x" * 5000, headers={
                "Content-Type": "application/x-www-form-urlencoded", **_client(5)}).status_code == 413
            r = http.post(url, content=b'{"name": ', headers={"Content-Type": "application/json", **_client(5)})
            assert r.status_code == 400 and "malformed JSON" in r.json()["error"]
            # CORS: the listed origin gets the header and a preflight; another origin is refused.
            r = http.options(url, headers={"Origin": "https://site.example", "Access-Control-Request-Method": "POST"})
            assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "https://site.example"
            assert http.options(url, headers={"Origin": "https://evil.example"}).status_code == 403
            r = http.post(url, data={"name": "x", "phone": "+79990000001"},
                          headers={"Origin": "https://evil.example", **_client(6)})
            assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
            # Rate limit: 5 a minute per client address.
            codes = [http.post(url, content=b"{", headers={"Content-Type": "application/json", **_client(7)}).status_code
                     for _ in range(7)]
            assert codes == [400] * 5 + [429] * 2
        assert web.wait_leads(3) == 3
        time.sleep(0.5)
        assert web.count(Lead) == 3 and web.count(Deal) == 3
        deals = json.loads(web.daemon.cli("deal", "list", "--json").stdout)
        people = {p["name"]: p for d in deals for p in d["people"]}
        assert people["Иван Петров"]["addresses"] == ["ivan@corp.example"]
        assert people["Иван Петров"]["phones"] == ["+79215559999"]
        assert people["Олег"] == {**people["Олег"], "addresses": [], "phones": ["+79030000001"]}
        assert people["John Smith"]["phones"] == ["+14155550100"]
        assert {d["stage"] for d in deals} == {"lead"}
        engine = create_engine(normalize_url(db_url))
        with engine.connect() as c:
            texts = list(c.execute(select(Activity.text).where(Activity.kind == "lead")).scalars())
        engine.dispose()
        assert any("Нужна смета" in t for t in texts) and any("utm_source=yandex" in t for t in texts)
        # The "new lead" mails went through the relay, one per lead.
        assert relay.wait_for(3, 20)
        notices = [m for m in relay.messages if m.message["X-Mailcrm-Lead"]]
        assert sorted(m.message["X-Mailcrm-Lead"] for m in notices) == ["1", "2", "3"], [str(m.message) for m in notices]
        assert all(m.rcpt_tos == [USER] for m in notices)
        body = next(m.message.get_body().get_content() for m in notices if "Олег" in str(m.message["Subject"]))
        assert "+79030000001" in body and "Нужна смета" in body
        # Today's digest lists each lead with its phone.
        preview = json.loads(web.daemon.cli("digest", "preview", "--json").stdout)
        assert preview["summary"]["new_leads"] == 3
        assert "Олег" in preview["text"] and "+79030000001" in preview["text"]
        # Rotating the token: the old URL answers 404 within seconds, the new one works.
        new_url = json.loads(web.daemon.cli("form", "rotate", "site", "--json").stdout)["url"]
        time.sleep(2.5)
        assert httpx.post(url, data={"name": "late"}, headers=_client(8)).status_code == 404
        assert httpx.post(new_url, data={"name": "Late", "phone": "+79990001122"}, headers=_client(8)).status_code == 200
        assert web.wait_leads(4) == 4
    finally:
        web.daemon.stop()
        relay.stop()


TILDA_MAIL = """From: Tilda <robot@tilda.ws>
To: {dropbox}
Reply-To: anna@client.example
Subject: New lead from site.example
Message-ID: <tilda-1@tilda.ws>
Date: Sun, 06 Dec 2026 10:00:00 +0300
Content-Type: text/plain; charset=utf-8

Request details:

Name: Анна
Phone: +7 921 111-22-33
Comments: Хочу консультацию

Additional information:
Transaction ID: 99:1
"""


def test_form_notification_mail_becomes_a_lead(tmp_path: Path, db_url: str) -> None:
    relay = Relay(free_port()).start()
    web = Web(tmp_path, db_url, relay.port).start()
    try:
        raw = TILDA_MAIL.format(dropbox=DROPBOX).replace("\n", "\r\n").encode()
        with web.daemon.smtp() as s:
            s.sendmail("robot@tilda.ws", [DROPBOX], raw)
            s.sendmail("robot@tilda.ws", [DROPBOX], raw)  # the same mail twice: one lead
            # Anyone else is still refused.
            with pytest.raises(Exception, match="not a registered user"):
                s.sendmail("robot@other.example", [DROPBOX], raw.replace(b"robot@tilda.ws", b"robot@other.example"))
        assert web.wait_leads(1) == 1
        time.sleep(0.5)
        assert web.count(Lead) == 1
        deals = json.loads(web.daemon.cli("deal", "list", "--json").stdout)
        assert len(deals) == 1 and deals[0]["people"][0]["addresses"] == ["anna@client.example"]
        assert deals[0]["people"][0]["phones"] == ["+79211112233"] and deals[0]["people"][0]["name"] == "Анна"
        assert web.count(Contact) == 1
        assert relay.wait_for(1, 20)
    finally:
        web.daemon.stop()
        relay.stop()


def test_web_port_taken_is_one_line_and_exit_2(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = tmp_path / "config.toml"
        cfg.write_text(config_text(tmp_path, f"sqlite:///{tmp_path / 'crm.sqlite3'}", free_port(), port, free_port())
                       .replace("[digest]\nenabled = true", "[digest]\nenabled = false"))
        res = subprocess.run([sys.executable, "-m", "mailcrm", "--config", str(cfg), "serve"], capture_output=True,
                             text=True, timeout=60)
    assert res.returncode == 2, res.stderr[-500:]
    assert "Address already in use" in res.stderr and "Traceback" not in res.stderr
