"""Web page speed: server time of a contact's timeline pages and of a search, in process (httpx ASGI),
against a plain indexed SELECT and the login page measured in the same run (issues 24 and 26).

Usage: python bench/web.py [--db URL] [--contacts 100000] [--items 2000] [--runs 20] [--json]
Builds a store (a temporary SQLite file; with a PostgreSQL ``--db`` URL, a scratch database
``mailcrm_bench_<pid>`` made next to it and dropped at the end), a contact with ``--items`` timeline
entries (half messages, half notes) among ``--contacts`` contacts, signs in, then times
GET /contacts/<addr> (the first page), the 40th page through the "older" links' keyset cursor and
through ``?page=40`` (offsets), GET /?q=<name> (one hit), the search-as-you-type fragment
/search/results?q=<name> (its ratio to the search page is printed: about 1 or less) and /today.  Targets: the card's first page
< 150 ms, search < 50 ms on 100,000 contacts.  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from mailcrm import config  # noqa: E402
from mailcrm.app import web_accounts  # noqa: E402
from mailcrm.spool import Spool  # noqa: E402
from mailcrm.store import db, migrate, search  # noqa: E402
from mailcrm.store.models import Activity, Contact, EmailAddress, Message, Participant  # noqa: E402
from mailcrm.web.app import WebContext, create_app  # noqa: E402

PASSWORD = "bench password 123"
ME = "p0@host0.example"


def build(url: str, tmp: Path, contacts: int, items: int) -> WebContext:
    """A migrated store with ``contacts`` contacts (search text and trigram index filled) and one busy contact."""
    text_cfg = (f'data_dir = "{tmp}"\n[database]\nurl = "{url}"\n[[users]]\nemail = "me@example.org"\n'
                'dropbox = "crm+x@example.org"\nlanguage = "en"\n')
    cfg = config.parse(text_cfg, "bench")
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    factory = db.session_factory(engine)
    web_accounts.set_password(factory, cfg, "me@example.org", PASSWORD)
    with db.transaction(factory) as s:
        s.execute(insert(Contact), [{"name": f"Person {i} Иванов", "phones": [], "status": "active",
                                     "needs_new_address": False} for i in range(contacts)])
        ids = list(s.scalars(select(Contact.id).order_by(Contact.id)))
        s.execute(insert(EmailAddress), [{"address": f"p{i}@host{i % 997}.example", "contact_id": cid,
                                          "status": "active"} for i, cid in enumerate(ids)])
        base = dt.datetime(2026, 1, 1)
        s.execute(insert(Activity), [{"contact_id": ids[0], "kind": "note", "at": base - dt.timedelta(hours=2 * i),
                                      "text": f"note {i}", "data": {}} for i in range(items - items // 2)])
        s.execute(insert(Message), [{"identity": f"mid:<w{i}@bench>", "message_id": f"<w{i}@bench>",
                                     "sha256": f"{i:064x}", "kind": "received", "direction": "in",
                                     "date": base - dt.timedelta(hours=2 * i + 1), "subject": f"letter {i}",
                                     "snippet": "Thank you for the script, we will read it.", "thread_key": f"<w{i}@bench>",
                                     "source": "bench", "size": 20_000, "facts": {}, "status": "active"}
                                    for i in range(items // 2)])
        mids = list(s.scalars(select(Message.id).order_by(Message.id)))
        s.execute(insert(Participant), [{"message_id": m, "address": ME, "contact_id": ids[0], "role": "from",
                                         "direction": "in", "date": base - dt.timedelta(hours=2 * i + 1)}
                                        for i, m in enumerate(mids)])
    for i in range(0, len(ids), 5000):  # the bulk insert bypassed the store's session events
        with db.transaction(factory) as s:
            search.refresh(s, ids[i:i + 5000])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    return WebContext(cfg, Spool(tmp / "spool"), factory)


async def measure(ctx: WebContext, runs: int) -> dict[str, list[float]]:
    """Server times (ms) of each request, ``runs`` times each after one warm-up."""
    app = create_app(ctx)
    out: dict[str, list[float]] = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 1)),
                                 base_url="http://bench") as http:
        page = await http.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        r = await http.post("/login", data={"email": "me@example.org", "password": PASSWORD, "csrf": csrf})
        assert r.status_code == 303
        card = f"/contacts/{ME}"
        older = card
        for _ in range(39):  # follow "older" to the 40th page: its link is what a reader clicks
            r = await http.get(older)
            link = re.search(r'rel="next" href="\?([^"]+)"', r.text)
            assert link is not None, "fewer than 40 pages"
            older = f"{card}?{link.group(1).replace('&amp;', '&')}"
        engine = ctx.factory.kw["bind"]

        async def base_select() -> None:
            def run() -> None:
                with engine.connect() as conn:
                    conn.execute(text("SELECT m.id, m.subject, m.date FROM message_participants p JOIN messages m "
                                      "ON m.id = p.message_id WHERE p.contact_id = 1 ORDER BY p.date DESC LIMIT 50")).all()
            await asyncio.to_thread(run)

        def get(path: str) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                resp = await http.get(path)
                assert resp.status_code == 200, (path, resp.status_code)
            return run

        for name, fn in (("base_select", base_select), ("login_page", get("/login")), ("card", get(card)),
                         ("card_page40_keyset", get(older)), ("card_page40_offset", get(f"{card}?page=40")),
                         ("search", get("/?q=Person 77777")), ("results", get("/search/results?q=Person 77777")),
                         ("today", get("/today"))):
            await fn()
            out[name] = []
            for _ in range(runs):
                t = time.perf_counter()
                await fn()
                out[name].append((time.perf_counter() - t) * 1000)
    return out


def scratch_database(url: str, name: str, create: bool) -> str:
    """Create (or drop) database ``name`` on the PostgreSQL server of ``url``; returns its URL."""
    admin = create_engine(db.normalize_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' if create else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    return make_url(db.normalize_url(url)).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    """Build, measure, print the medians against the baselines and targets."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="a PostgreSQL URL: a scratch database is made next to it and dropped")
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--json", action="store_true", help="one JSON object of the medians (ms)")
    a = ap.parse_args()
    name = f"mailcrm_bench_{os.getpid()}"
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        url = scratch_database(a.db, name, True) if a.db else f"sqlite:///{tmp / 'bench.sqlite3'}"
        try:
            t = time.perf_counter()
            ctx = build(url, tmp, a.contacts, a.items)
            built = time.perf_counter() - t
            res = asyncio.run(measure(ctx, a.runs))
            ctx.factory.kw["bind"].dispose()
        finally:
            if a.db:
                scratch_database(a.db, name, False)
    med = {k: statistics.median(v) for k, v in res.items()}
    targets = {"card": 150.0, "search": 50.0}
    if a.json:
        print(json.dumps({"db": url.split(":")[0], **{f"{k}_ms": v for k, v in med.items()},
                          "targets_ms": targets}))
        return
    # search.js asks /search/results on every pause in typing: it should cost no more than the page.
    print(f"results / search page: {med['results'] / med['search']:.2f}")
    print(f"{url.split(':')[0]}: {a.contacts} contacts, a contact with {a.items} timeline items; built in {built:.1f} s")
    for k, v in med.items():
        goal = f"  target < {targets[k]:.0f} ms: {'yes' if v < targets[k] else 'NO'}" if k in targets else ""
        print(f"  {k:<20} median {v:7.1f} ms, worst {max(res[k]):7.1f} ms  x{v / med['base_select']:6.0f} base select, "
              f"x{v / med['login_page']:5.1f} login page{goal}")


if __name__ == "__main__":
    main()
