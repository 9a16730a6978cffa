"""The Today page (done, snooze), the company pages and suggestions, the quarantine page, the charts (pygal
SVG without script), search as you type; httpx against the ASGI app on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from test_web_pages import Site, _csrf, _login, site  # noqa: F401  (the fixture)

from mailcrm.app import cases
from mailcrm.app.handle import Store
from mailcrm.spool import SpoolMeta
from mailcrm.store import db
from mailcrm.store.models import (
    Activity,
    Company,
    CompanySuggestion,
    Contact,
    Deal,
    EmailAddress,
    Message,
    Work,
    WorkRecipient,
)


def _contact_id(s: object, address: str) -> int:
    return s.query(EmailAddress).filter_by(address=address).one().contact_id  # type: ignore[attr-defined]


def test_today_page_done_and_snooze(site: Site) -> None:  # noqa: F811
    store = Store(site.engine, site.factory)
    due = cases.add_deal(store, site.cfg, "Счёт театру", ["alena@theatre.example"], stage="invoiced", company=None,
                         amount="150000", currency="RUB")
    later = cases.add_deal(store, site.cfg, "Film rights", ["john@films.example"], stage="invoiced", company=None,
                           amount=None, currency=None)
    with db.transaction(site.factory) as s:  # invoiced 3 days ago, untouched: due (first_after 1 day)
        for d in (due, later):
            deal = s.get(Deal, d["id"])
            deal.stage_changed_at = deal.opened_at = dt.datetime.utcnow() - dt.timedelta(days=3)

    async def run() -> None:
        async with site.client() as http:
            await _login(http, "me@example.org")
            r = await http.get("/today")
            assert r.status_code == 200 and "Позвонить сегодня" in r.text, r.text
            assert "Счёт театру" in r.text and "счёт выставлен" in r.text and "150\u00a0000\u00a0₽" in r.text
            assert "invoiced" not in r.text.replace('value="invoiced"', "")
            assert f'id="line-deal-{due["id"]}"' in r.text and f'id="line-deal-{later["id"]}"' in r.text
            csrf = _csrf(r.text)
            line = {"kind": "deal", "ref": str(due["id"]), "action": "done"}
            assert (await http.post("/today/act", data=line)).status_code == 403  # no CSRF field
            r = await http.post("/today/act", data={**line, "csrf": csrf})
            assert r.status_code == 303 and r.headers["location"] == "/today"
            r = await http.post("/today/act", data={"kind": "deal", "ref": str(later["id"]), "action": "snooze",
                                                    "days": "5", "csrf": csrf})
            assert r.status_code == 303
            r = await http.get("/today")
            assert f'id="line-deal-{due["id"]}"' not in r.text and f'id="line-deal-{later["id"]}"' not in r.text
            # Refusals are one line and a 4xx, never a crash.
            for bad in ({"kind": "deal", "ref": "999999", "action": "done"},
                        {"kind": "planet", "ref": "1", "action": "done"},
                        {"kind": "deal", "ref": str(due["id"]), "action": "explode"},
                        {"kind": "deal", "ref": "x", "action": "done"},
                        {"kind": "deal", "ref": str(due["id"]), "action": "snooze", "days": "0"}):
                r = await http.post("/today/act", data={**bad, "csrf": csrf})
                assert r.status_code == 400, (bad, r.status_code)
        async with site.client() as http:  # Kate reads English
            await _login(http, "kate@example.org")
            r = await http.get("/today")
            assert r.status_code == 200 and "Today" in r.text and "Позвонить" not in r.text

    asyncio.run(run())
    with db.transaction(site.factory) as s:
        done = s.query(Activity).filter_by(deal_id=due["id"], kind="call").one()
        assert done.contact_id == _contact_id(s, "alena@theatre.example") and done.data["web"] == "today"
        snoozed = s.query(Activity).filter_by(deal_id=later["id"], kind="snooze").one()
        assert (snoozed.due - snoozed.at.date()).days in (4, 5, 6)  # five local days (zone vs UTC date)


def test_company_page_and_suggestions(site: Site) -> None:  # noqa: F811
    store = Store(site.engine, site.factory)
    cases.edit_contact(store, "alena@theatre.example", name=None, title="Завлит", company="Театр «Ёлка»",
                       phones=["+7 916 123-45-67"], region="RU")
    with db.transaction(site.factory) as s:
        alena, john = _contact_id(s, "alena@theatre.example"), _contact_id(s, "john@films.example")
        s.add(Message(identity="m-1", sha256="1" * 64, kind="received", direction="in", subject="Про пьесу",
                      date=dt.datetime(2026, 2, 1, 10), thread_key="t1"))
        s.add(Activity(contact_id=alena, kind="note", at=dt.datetime(2026, 2, 2, 9), text="позвонить после премьеры"))
        s.add(CompanySuggestion(contact_id=john, company_name="Films Inc", kind="contact_company",
                                reason="signature"))
        s.add(CompanySuggestion(contact_id=alena, company_name="Другой театр", kind="contact_company",
                                reason="signature"))

    async def run() -> None:
        async with site.client() as http:
            await _login(http, "me@example.org")
            r = await http.get("/companies")
            assert r.status_code == 200 and "Театр «Ёлка»" in r.text and "Предложения группировки" in r.text
            assert "Films Inc" in r.text and "Другой театр" in r.text
            href = "/companies/" + quote("Театр «Ёлка»")
            assert f'href="{href}"' in r.text
            r = await http.get(href)
            assert r.status_code == 200 and "Алёна Ёлкина" in r.text and "Завлит" in r.text
            assert "позвонить после премьеры" in r.text and 'href="tel:' in r.text
            assert (await http.get("/companies/" + quote("Нет такой"))).status_code == 404
            # The contact card links to the company.
            assert f'href="{href}"' in (await http.get("/contacts/alena%40theatre.example")).text
            csrf = _csrf(r.text)
            with db.transaction(site.factory) as s:
                accept_id, reject_id = [g.id for g in s.query(CompanySuggestion).order_by(CompanySuggestion.id)]
            assert (await http.post(f"/suggestions/{accept_id}", data={"decision": "accept"})).status_code == 403
            r = await http.post(f"/suggestions/{accept_id}", data={"decision": "accept", "csrf": csrf})
            assert r.status_code == 303 and r.headers["location"] == "/companies"
            r = await http.post(f"/suggestions/{reject_id}", data={"decision": "reject", "csrf": csrf})
            assert r.status_code == 303
            r = await http.post(f"/suggestions/{reject_id}", data={"decision": "accept", "csrf": csrf})
            assert r.status_code == 400  # decided already
            assert (await http.post(f"/suggestions/{accept_id}", data={"decision": "maybe", "csrf": csrf})
                    ).status_code == 400
        async with site.client() as http:
            await _login(http, "kate@example.org")
            r = await http.get("/companies")
            assert "Grouping suggestions" in r.text and "No suggestions." in r.text

    asyncio.run(run())
    with db.transaction(site.factory) as s:
        john_c = s.get(Contact, _contact_id(s, "john@films.example"))
        assert s.get(Company, john_c.company_id).name == "Films Inc"
        alena_c = s.get(Contact, _contact_id(s, "alena@theatre.example"))
        assert s.get(Company, alena_c.company_id).name == "Театр «Ёлка»"
        assert [g.status for g in s.query(CompanySuggestion).order_by(CompanySuggestion.id)] == ["accepted", "rejected"]


def test_quarantine_page_retry(site: Site) -> None:  # noqa: F811
    spool = site.ctx.spool
    item_id = spool.put(b"From: x@example.org\r\nSubject: broken\r\n\r\nbody\r\n",
                        SpoolMeta(source="smtp", mail_from="x@example.org"))
    [item] = spool.claim(limit=1)
    spool.quarantine(item, "unknown author <script>")
    woken: list[bool] = []
    site.ctx.on_spooled = lambda: woken.append(True)

    async def run() -> None:
        async with site.client() as http:
            await _login(http, "kate@example.org")
            r = await http.get("/quarantine")
            assert r.status_code == 200 and "unknown author &lt;script&gt;" in r.text and item_id in r.text
            csrf = _csrf(r.text)
            assert (await http.post("/quarantine/retry", data={"id": item_id})).status_code == 403
            assert (await http.post("/quarantine/retry", data={"id": "nope", "csrf": csrf})).status_code == 404
            assert (await http.post("/quarantine/retry", data={"id": item_id[:8], "csrf": csrf})).status_code == 404
            r = await http.post("/quarantine/retry", data={"id": item_id, "csrf": csrf})
            assert r.status_code == 303 and r.headers["location"] == "/quarantine?retried=1"
            r = await http.get(r.headers["location"])
            assert "back in the queue" in r.text and "Nothing in quarantine." in r.text

    asyncio.run(run())
    assert spool.pending_ids() == [item_id] and spool.quarantine_count() == 0 and woken == [True]


def test_charts_are_svg_without_script(site: Site) -> None:  # noqa: F811
    store = Store(site.engine, site.factory)
    cases.tag_contact(store, "alena@theatre.example", ["театры"])
    won = cases.add_deal(store, site.cfg, "Пьеса", ["alena@theatre.example"], stage="lead", company=None,
                         amount=None, currency=None)
    cases.move_deal(store, won["id"], "invoiced")
    cases.move_deal(store, won["id"], "won")
    now = dt.datetime.utcnow()
    with db.transaction(site.factory) as s:
        w = Work(title="Пьеса о лете")
        s.add(w)
        s.flush()
        for address, answer in (("alena@theatre.example", "interested"), ("john@films.example", "none")):
            s.add(WorkRecipient(work_id=w.id, contact_id=_contact_id(s, address), first_sent=now, last_sent=now,
                                answer=answer))
        s.add(Message(identity="r-1", sha256="2" * 64, kind="received", direction="in", subject="Re: пьеса",
                      date=now - dt.timedelta(days=1), thread_key="t", in_reply_to="<a@b>"))

    async def run() -> None:
        async with site.client() as http:
            await _login(http, "me@example.org")
            r = await http.get("/charts")
            assert r.status_code == 200 and 'src="/charts/funnel.svg"' in r.text and "<script" not in r.text
            texts = {}
            for name in ("funnel", "replies", "stages"):
                r = await http.get(f"/charts/{name}.svg")
                assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
                assert "script" not in r.headers["content-security-policy"].replace("'none'", "")
                assert "<script" not in r.text.lower()
                root = ET.fromstring(r.content)  # well-formed XML
                texts[name] = " ".join(t for t in root.itertext())
            assert "театры" in texts["funnel"] and "отправлено" in texts["funnel"] and "выиграно" in texts["funnel"]
            assert "без тега" in texts["funnel"]  # John has no tag
            assert "Ответы по неделям" in texts["replies"]
            assert "выиграна" in texts["stages"] and "won" not in texts["stages"]
            assert (await http.get("/charts/other.svg")).status_code == 404
        async with site.client() as http:
            await _login(http, "kate@example.org")
            r = await http.get("/charts/funnel.svg")
            assert "answered" in r.text and "interested" in r.text

    asyncio.run(run())
    from mailcrm.app import charts

    rows = charts.funnel_by_tag(store)
    assert rows[0] == {"tag": "театры", "sent": 1, "answered": 1, "interested": 1, "won": 1}
    assert rows[-1] == {"tag": None, "sent": 1, "answered": 0, "interested": 0, "won": 0}
    today = dt.date.today()
    weeks = charts.replies_per_week(store, today, ZoneInfo("UTC"))
    assert len(weeks) == charts.WEEKS and sum(n for _, n in weeks) == 1
    stages = charts.stages_per_week(store, today, ZoneInfo("UTC"))["stages"]
    assert stages["won"][-1] == 1 and stages.get("lead", [0])[-1] == 0 and stages.get("invoiced", [0])[-1] == 0


def test_search_as_you_type(site: Site) -> None:  # noqa: F811
    async def run() -> None:
        async with site.client() as http:
            assert (await http.get("/search/results?q=a")).status_code == 303  # login first
            await _login(http, "me@example.org")
            r = await http.get("/")
            assert '<script src="/static/search.js" defer></script>' in r.text and 'id="results"' in r.text
            js = await http.get("/static/search.js")
            assert js.status_code == 200 and "javascript" in js.headers["content-type"] and "/search/results" in js.text
            r = await http.get("/search/results", params={"q": "ЁЛКИН"})
            assert r.status_code == 200 and "Алёна Ёлкина" in r.text and "<html" not in r.text
            assert "John Smith" not in r.text
            r = await http.get("/search/results", params={"q": "<b>nobody"})
            assert "Никого не нашлось" in r.text and "<b>nobody" not in r.text

    asyncio.run(run())


def test_digest_mail_from_the_config(tmp_path: Path, db_url: str) -> None:
    """compose takes [cadence.stage_labels] and [web] public_url from the config: the morning mail of a
    Russian user names the stage as configured, shows the amount and links the deal and the Today page."""
    from conftest import free_port, make_config_text

    from mailcrm import config
    from mailcrm.store import migrate

    extra = ('[cadence.stage_labels.ru]\ninvoiced = "ждём оплату"\n'
             '[web]\nlisten = "127.0.0.1:0"\npublic_url = "https://crm.example.org"\n')
    cfg = config.parse(make_config_text(tmp_path, db_url, free_port(), extra=extra), str(tmp_path / "c.toml"))
    assert cfg.cadence.labels("ru")["invoiced"] == "ждём оплату" and cfg.cadence.labels("ru")["paid"] == "оплачено"
    engine = db.make_engine(db_url)
    try:
        migrate.upgrade(engine)
        store = Store(engine, db.session_factory(engine))
        cases.sync_users(store, cfg)
        deal = cases.add_deal(store, cfg, "Счёт театру", ["alena@theatre.example"], stage="invoiced", company=None,
                              amount="150000", currency="RUB")
        with db.transaction(store.factory) as s:
            d = s.get(Deal, deal["id"])
            d.opened_at = d.stage_changed_at = dt.datetime.utcnow() - dt.timedelta(days=3)
        _digest, mail = cases.preview_digest(store, cfg, cfg.users[0], dt.date.today())
        assert "этап: ждём оплату, 150\u00a0000\u00a0₽" in mail.text and "invoiced" not in mail.text
        assert f'href="https://crm.example.org/deals#deal-{deal["id"]}"' in mail.html
        assert 'href="https://crm.example.org/today"' in mail.html
        assert 'href="https://crm.example.org/contacts/alena@theatre.example"' in mail.html
    finally:
        engine.dispose()
