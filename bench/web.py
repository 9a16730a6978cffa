"""Web page speed: server time of a contact's first timeline page and of a search, in process (httpx ASGI).

Usage: python bench/web.py [--db URL] [--contacts 100000] [--items 2000] [--runs 20]
Builds a store (a temporary SQLite file unless --db names an empty database), a contact with
``--items`` timeline entries and ``--contacts`` contacts, signs in, then times GET /contacts/<addr>
(first page), GET /?q=<name>, the search-as-you-type fragment /search/results?q=<name> and /today
(median and worst of ``--runs``).  Targets (issue 24): the card < 150 ms, search < 50 ms on 100,000
contacts; the fragment's ratio to the search page is printed (it should be about 1 or less).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert, select

from mailcrm import config
from mailcrm.app import web_accounts
from mailcrm.spool import Spool
from mailcrm.store import db, migrate
from mailcrm.store.models import Activity, Contact, EmailAddress
from mailcrm.web.app import WebContext, create_app

PASSWORD = "bench password 123"


def build(url: str, tmp: Path, contacts: int, items: int) -> WebContext:
    text = (f'data_dir = "{tmp}"\n[database]\nurl = "{url}"\n[[users]]\nemail = "me@example.org"\n'
            'dropbox = "crm+x@example.org"\nlanguage = "en"\n')
    cfg = config.parse(text, "bench")
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
        s.execute(insert(Activity), [{"contact_id": ids[0], "kind": "note", "at": base - dt.timedelta(hours=i),
                                      "text": f"note {i}", "data": {}} for i in range(items)])
    return WebContext(cfg, Spool(tmp / "spool"), factory)


async def measure(ctx: WebContext, runs: int) -> dict[str, list[float]]:
    app = create_app(ctx)
    out: dict[str, list[float]] = {"card": [], "search": [], "results": [], "today": []}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 1)),
                                 base_url="http://bench") as http:
        page = await http.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        r = await http.post("/login", data={"email": "me@example.org", "password": PASSWORD, "csrf": csrf})
        assert r.status_code == 303
        for name, path in (("card", "/contacts/p0@host0.example"), ("search", "/?q=Person 77777"),
                           ("results", "/search/results?q=Person 77777"), ("today", "/today")):
            for _ in range(runs):
                t = time.perf_counter()
                r = await http.get(path)
                out[name].append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db")
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        url = a.db or f"sqlite:///{tmp / 'bench.sqlite3'}"
        t = time.perf_counter()
        ctx = build(url, tmp, a.contacts, a.items)
        print(f"built {a.contacts} contacts, {a.items} timeline items in {time.perf_counter() - t:.1f} s ({url.split(':')[0]})")
        res = asyncio.run(measure(ctx, a.runs))
        for name, target in (("card", 150), ("search", 50), ("results", 50), ("today", 1000)):
            ms = res[name]
            print(f"{name}: median {statistics.median(ms):.1f} ms, worst {max(ms):.1f} ms (target < {target} ms)")
        # search.js asks /search/results on every pause in typing: it should cost no more than the page.
        print(f"results / search page: {statistics.median(res['results']) / statistics.median(res['search']):.2f}")


if __name__ == "__main__":
    main()
