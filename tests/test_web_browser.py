"""The web pages in a real browser: Debian's headless Chromium driven by Selenium against `mailcrm serve --web`
on PostgreSQL (its lower() folds Cyrillic; SQLite's folds ASCII only until the folded search column lands).
Log in, search a Cyrillic name as you type, open the card and its company, mark a Today line done, move a
deal on the board, mark one won, reactivate a bounced address, see the charts drawn, log out; the pages in
Russian for one user and in English for another; a page without login redirects; a POST without the CSRF
field is refused.  A screenshot of the page is saved under the test's tmp directory when a step fails.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import free_port, make_config_text, pg_available, pg_schema_url, require, require_tool

from mailcrm import config
from mailcrm.app import cases, web_accounts
from mailcrm.app.handle import open_store
from mailcrm.store import db
from mailcrm.store.models import Activity, BounceEvent, Contact, Deal, EmailAddress, Message

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
USERS = ('[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
         'language = "ru"\n'
         '[[users]]\nemail = "kate@example.org"\nname = "Kate"\ndropbox = "crm+kate@example.org"\nlanguage = "en"\n')


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, config.Config, int]]:
    require(pg_available(), "PostgreSQL not reachable")
    with pg_schema_url() as url:
        web = free_port()
        path = tmp_path / "config.toml"
        path.write_text(make_config_text(tmp_path, url, free_port(), extra=f'[web]\nlisten = "127.0.0.1:{web}"\n',
                                         users=USERS))
        cfg = config.load(path)
        store = open_store(cfg)
        for email in ("me@example.org", "kate@example.org"):
            web_accounts.set_password(store.factory, cfg, email, PASSWORD)
        with db.transaction(store.factory) as s:
            c = Contact(name="Алёна Ёлкина")
            oleg = Contact(name="Олег")
            s.add_all([c, oleg])
            s.flush()
            s.add(EmailAddress(address="alena@theatre.example", contact_id=c.id))
            s.add(EmailAddress(address="oleg@films.example", contact_id=oleg.id, status="bounced"))
            m = Message(identity="bounce-1", sha256="0" * 64, kind="bounce", direction="in",
                        date=dt.datetime.utcnow(), thread_key="t")
            s.add(m)
            s.flush()
            s.add(BounceEvent(message_id=m.id, address="oleg@films.example", hard=True, status="5.1.1",
                              reason="mailbox_unknown", at=dt.datetime.utcnow()))
        cases.edit_contact(store, "alena@theatre.example", name=None, title=None, company="Театр «Ёлка»",
                           phones=None, region="RU")
        invoice = cases.add_deal(store, cfg, "Счёт за постановку", ["oleg@films.example"], stage="invoiced",
                                 company=None, amount="90000", currency="RUB")
        with db.transaction(store.factory) as s:  # invoiced three days ago, no call since: on Today
            d = s.get(Deal, invoice["id"])
            d.opened_at = d.stage_changed_at = dt.datetime.utcnow() - dt.timedelta(days=3)
        deal = cases.add_deal(store, cfg, "Пьеса для театра", ["alena@theatre.example"], stage="lead", company=None,
                              amount="150000", currency=None)
        won = cases.add_deal(store, cfg, "Сценарий", ["alena@theatre.example"], stage="brief", company=None,
                             amount=None, currency=None)
        store.close()
        env = {"MAILCRM_CONFIG": str(path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[1])}
        proc = subprocess.Popen([sys.executable, "-m", "mailcrm", "serve"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        base = f"http://127.0.0.1:{web}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 204:
                        break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline and proc.poll() is None, "web listener did not start"
                    time.sleep(0.1)
            yield base, cfg, (deal["id"] * 1000 + won["id"]) * 1000 + invoice["id"]
            store = open_store(cfg)
            with db.transaction(store.factory) as s:
                assert s.get(Deal, deal["id"]).stage == "brief"
                assert s.get(Deal, won["id"]).status == "won"
                assert s.query(EmailAddress).filter_by(address="oleg@films.example").one().status == "active"
                call = s.query(Activity).filter_by(deal_id=invoice["id"], kind="call").one()
                assert call.data["web"] == "today"
            store.close()
        finally:
            proc.terminate()
            proc.wait(30)


def test_browser_flow(served: tuple[str, config.Config, int], tmp_path: Path) -> None:
    require_tool("chromium", "/usr/bin/chromium")
    driver_path = require_tool("chromedriver", "/usr/bin/chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, _cfg, ids = served
    ids, invoice_id = divmod(ids, 1000)
    deal_id, won_id = divmod(ids, 1000)
    # Outside the browser: a page without login redirects, a POST without CSRF is refused.
    r = httpx.get(base + "/deals")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert httpx.post(base + "/login", data={"email": "me@example.org", "password": PASSWORD}).status_code == 403

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,900", "--lang=ru"):
        opts.add_argument(arg)
    browser = webdriver.Chrome(service=Service(driver_path), options=opts)
    browser.implicitly_wait(5)
    step = "start"
    try:
        step = "redirect"
        browser.get(base + "/")
        assert browser.current_url.startswith(base + "/login")
        step = "login"
        browser.find_element(By.NAME, "email").send_keys("me@example.org")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form.login button").click()
        assert WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "logout"))).text == "Выйти"
        step = "search as you type"
        browser.find_element(By.ID, "q").send_keys("ёлкин")  # no Enter: search.js asks as the user types
        link = WebDriverWait(browser, 10).until(ec.element_to_be_clickable(
            (By.CSS_SELECTOR, "#results a[href='/contacts/alena%40theatre.example']")))
        assert link.text == "Алёна Ёлкина" and "q=" in browser.current_url  # the address bar follows
        step = "card"
        link.click()
        assert browser.find_element(By.ID, "contact-name").text == "Алёна Ёлкина"
        assert "alena@theatre.example" in browser.page_source
        step = "company"
        browser.find_element(By.LINK_TEXT, "Театр «Ёлка»").click()
        assert browser.find_element(By.ID, "company-name").text == "Театр «Ёлка»"
        assert browser.find_element(By.LINK_TEXT, "Алёна Ёлкина")
        step = "today"
        browser.find_element(By.LINK_TEXT, "Сегодня").click()
        line = browser.find_element(By.ID, f"line-deal-{invoice_id}")
        text = line.text.replace("\u00a0", " ")
        assert "Счёт за постановку" in text and "счёт выставлен" in text and "90 000 ₽" in text, text
        assert "Позвонить сегодня" in browser.page_source
        line.find_element(By.CSS_SELECTOR, "button.do-done").click()
        WebDriverWait(browser, 10).until(ec.staleness_of(line))
        assert not browser.find_elements(By.ID, f"line-deal-{invoice_id}")
        step = "board"
        browser.get(base + "/deals")
        card = browser.find_element(By.ID, f"deal-{deal_id}")
        assert "150 000 ₽" in card.text.replace("\u00a0", " ")
        Select(card.find_element(By.NAME, "stage")).select_by_value("brief")
        card.find_element(By.CSS_SELECTOR, "button.do-move").click()
        WebDriverWait(browser, 10).until(ec.staleness_of(card))  # the POST answered, the board reloaded
        column = browser.find_element(By.CSS_SELECTOR, 'section[data-stage="brief"]')
        assert column.find_element(By.ID, f"deal-{deal_id}")
        assert "Бриф" in column.text or "бриф" in column.text
        step = "won"
        card = browser.find_element(By.ID, f"deal-{won_id}")
        card.find_element(By.CSS_SELECTOR, "button.do-won").click()
        WebDriverWait(browser, 10).until(ec.staleness_of(card))
        assert not browser.find_elements(By.ID, f"deal-{won_id}")
        step = "reactivate"
        browser.get(base + "/bounces")
        row = browser.find_element(By.XPATH, "//tr[td[contains(., 'oleg@films.example')]]")
        assert "mailbox_unknown" in row.text and "постоянный" in row.text
        row.find_element(By.CSS_SELECTOR, "button.do-reactivate").click()
        WebDriverWait(browser, 10).until(ec.staleness_of(row))
        step = "charts"
        browser.get(base + "/charts")
        for name in ("funnel", "replies", "stages"):  # drawn: the SVG loaded as an image under the CSP
            WebDriverWait(browser, 10).until(lambda b, n=name: b.execute_script(
                "var i = document.getElementById(arguments[0]); return i.complete && i.naturalWidth > 0;",
                f"chart-{n}"))
        step = "logout"
        button = browser.find_element(By.ID, "logout")
        button.click()
        WebDriverWait(browser, 10).until(ec.staleness_of(button))
        assert browser.current_url.startswith(base + "/login")
        browser.get(base + "/deals")
        assert browser.current_url.startswith(base + "/login")
        step = "english"
        browser.find_element(By.NAME, "email").send_keys("kate@example.org")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form.login button").click()
        assert WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "logout"))).text == "Sign out"
        assert browser.find_element(By.TAG_NAME, "h1").text == "Deals"  # back to where she was going
        assert "brief" in browser.find_element(By.CSS_SELECTOR, 'section[data-stage="brief"] h2').text
        browser.find_element(By.LINK_TEXT, "Today").click()
        assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Today")
        browser.find_element(By.LINK_TEXT, "Companies").click()
        assert "Grouping suggestions" in browser.page_source and "Театр «Ёлка»" in browser.page_source
    except BaseException:
        shot = tmp_path / f"failed-{step}.png"
        browser.save_screenshot(str(shot))
        print(f"screenshot of the failing step: {shot}")
        raise
    finally:
        browser.quit()
