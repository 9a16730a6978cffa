"""`outreach` and `check` latency on a synthetic store of sent works (issue 22), on SQLite and PostgreSQL.

Builds --contacts contacts (a third tagged "театры", 10 per company, every 997th without a working
address), --works works and --count sent messages, each carrying one work to one contact, with
their work_sends, work_recipients (a fifth answered, half of those declined) and a full ledger
hash chain; then times, on the same tables:
  (base) one plain indexed SELECT: the work_recipients rows of one work;
  (a) ``outreach.outreach(WORK, tag="театры")`` - the function behind `mailcrm outreach`;
  (b) ``outreach.check([3 addresses], WORK)`` - the function behind `mailcrm check`.
Target: < 200 ms each at 100,000 messages and 10,000 contacts.  Nothing is asserted.

    python bench/outreach.py                       # SQLite in a temp dir, then PostgreSQL if it answers
    python bench/outreach.py --count 20000 --pg ''  # smaller, SQLite only
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from digest import _load, pg_database, timed  # noqa: E402
from sqlalchemy import text  # noqa: E402

from mailcrm import config  # noqa: E402
from mailcrm.app import outreach  # noqa: E402
from mailcrm.app.handle import Store  # noqa: E402
from mailcrm.domain import outreach as rules  # noqa: E402
from mailcrm.parse.works import key_of  # noqa: E402
from mailcrm.store import db, migrate, repository  # noqa: E402
from mailcrm.store.models import (  # noqa: E402
    Company,
    Contact,
    ContactTag,
    EmailAddress,
    LedgerEntry,
    Message,
    Tag,
    Work,
    WorkAlias,
    WorkRecipient,
    WorkSend,
)

USER = "me@example.org"
WORDS = ("Чайка", "Гроза", "Лес", "Дом", "Сад", "Море", "Зима", "Сон", "Берег", "Ветер")
TITLES = {w: f"{WORDS[w % 10]} {w}" for w in range(1, 10_001)}


def build(url: str, contacts: int, works: int, count: int, seed: int) -> dict[str, Any]:
    """Fill an empty (migrated) store; returns the work and addresses to time."""
    rnd = random.Random(seed)
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    cfg = config.parse(f'[[users]]\nemail = "{USER}"\ndropbox = "crm+bench@example.org"\n', "bench")
    factory = db.session_factory(engine)
    with db.transaction(factory) as s:
        user_id = repository.sync_users(s, cfg)[USER]
    now = dt.datetime(2026, 12, 1)
    n_comp = max(1, contacts // 10)
    _load(engine, Company, ({"id": i, "name": f"Театр {i}", "key": f"domain:t{i}.example", "domain": f"t{i}.example",
                             "source": "domain", "status": "active", "created_at": now} for i in range(1, n_comp + 1)))
    company = {c: (c % n_comp) + 1 for c in range(1, contacts + 1)}
    _load(engine, Contact, ({"id": c, "name": f"Person {c}", "company_id": company[c], "phones": [], "status": "active",
                             "needs_new_address": False, "user_fields": [], "source": "mail", "created_at": now,
                             "updated_at": now} for c in range(1, contacts + 1)))
    _load(engine, EmailAddress, ({"id": c, "address": f"p{c}@t{company[c]}.example", "contact_id": c,
                                  "status": "bounced" if c % 997 == 0 else "active", "created_at": now}
                                 for c in range(1, contacts + 1)))
    _load(engine, Tag, iter([{"id": 1, "name": "театры"}]))
    _load(engine, ContactTag, ({"contact_id": c, "tag_id": 1, "created_at": now}
                               for c in range(1, contacts + 1) if c % 3 == 0))
    _load(engine, Work, ({"id": w, "title": TITLES[w], "status": "active", "created_at": now}
                         for w in range(1, works + 1)))
    _load(engine, WorkAlias, ({"key": key_of(TITLES[w]), "work_id": w, "title": TITLES[w], "source": "file"}
                              for w in range(1, works + 1)))
    span = 3 * 365 * 86400
    plan = sorted(((rnd.randint(1, works), rnd.randint(1, contacts), now - dt.timedelta(seconds=rnd.randint(0, span)))
                   for _ in range(count)), key=lambda p: p[2])
    _load(engine, Message, ({"id": m, "identity": f"mid:<o{m}@bench>", "message_id": f"<o{m}@bench>",
                             "sha256": f"{m:064x}", "user_id": user_id, "kind": "sent", "direction": "out",
                             "date": at, "subject": f"Пьеса «{TITLES[w]}»", "snippet": "", "thread_key": f"<o{m}@bench>",
                             "in_reply_to": None, "source": "bench", "size": 20_000, "facts": {}, "status": "active",
                             "ingested_at": at} for m, (w, c, at) in enumerate(plan, 1)))
    _load(engine, WorkSend, ({"id": m, "work_id": w, "message_id": m, "address": f"p{c}@t{company[c]}.example",
                              "contact_id": c, "company_id": company[c], "at": at, "via": "file", "key": key_of(TITLES[w]),
                              "file_sha256": None} for m, (w, c, at) in enumerate(plan, 1)))
    summary: dict[tuple[int, int], dict[str, Any]] = {}
    for w, c, at in plan:
        r = summary.get((w, c))
        if r is None:
            ans = rnd.random()
            answer = "declined" if ans < 0.1 else "replied" if ans < 0.2 else "none"
            summary[(w, c)] = {"work_id": w, "contact_id": c, "company_id": company[c], "first_sent": at,
                               "last_sent": at, "times": 1, "answer": answer,
                               "answer_at": at + dt.timedelta(days=7) if answer != "none" else None,
                               "answer_text": "К сожалению, не подходит." if answer == "declined" else None,
                               "answer_by_user": False, "bounced": False}
        else:
            r["times"] += 1
            r["last_sent"] = at
    _load(engine, WorkRecipient, iter(summary.values()))

    def ledger() -> Any:
        prev = rules.GENESIS
        for m, (w, c, at) in enumerate(plan, 1):
            data = {"address": f"p{c}@t{company[c]}.example", "via": "file"}
            content = rules.entry_content(m, at, "sent", w, c, company[c], m, data)
            h = rules.entry_hash(prev, content)
            yield {"id": m, "seq": m, "at": at, "kind": "sent", "work_id": w, "contact_id": c,
                   "company_id": company[c], "message_id": m, "data": data, "prev_hash": prev, "hash": h}
            prev = h

    _load(engine, LedgerEntry, ledger())
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    busiest = max(range(1, works + 1), key=lambda w: sum(1 for k in summary if k[0] == w))
    picks = [f"p{c}@t{company[c]}.example" for c in (rnd.randint(1, contacts) for _ in range(3))]
    return {"work": TITLES[busiest], "work_id": busiest, "addresses": picks}


def measure(url: str, args: argparse.Namespace) -> dict[str, float]:
    """Build on ``url`` and time baseline, outreach and check (ms, median)."""
    t0 = time.perf_counter()
    info = build(url, args.contacts, args.works, args.count, args.seed)
    built = time.perf_counter() - t0
    engine = db.make_engine(url)
    migrate.upgrade(engine)  # as `open_store` does before any command: the connection is open when timing starts
    store = Store(engine, db.session_factory(engine))
    result: dict[str, Any] = {}

    def base() -> None:
        with store.factory() as s:
            s.execute(text("SELECT contact_id, answer FROM work_recipients WHERE work_id = :w"),
                      {"w": info["work_id"]}).all()

    def run_outreach() -> None:
        r = outreach.outreach(store, info["work"], "театры")
        result["lists"] = (len(r["sent"]), len(r["not_sent"]), len(r["left_out"]), len(r["no_working_address"]))

    def run_check() -> None:
        result["already"] = len(outreach.check(store, info["addresses"], info["work"])["already"])

    b, o, c = timed(base, args.repeat), timed(run_outreach, args.repeat), timed(run_check, args.repeat)
    engine.dispose()
    print(f"  built in {built:.0f} s; outreach lists sent/not yet/left out/no address = {result['lists']}; "
          f"check found {result['already']}")
    return {"base": b[1] * 1000, "outreach_first": o[0] * 1000, "outreach": o[1] * 1000,
            "check_first": c[0] * 1000, "check": c[1] * 1000}


def main() -> None:
    """Build, time, print one line per backend."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=100_000, help="sent messages (each one work to one contact)")
    ap.add_argument("--contacts", type=int, default=10_000)
    ap.add_argument("--works", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test",
                    help="a PostgreSQL server to create a database mailcrm_bench_<pid> on ('' to skip)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mailcrm-bench-outreach-"))
    backends = [("sqlite", f"sqlite:///{tmp / 'bench.sqlite3'}")]
    if args.pg:
        backends.append(("postgresql", ""))
    print(f"{args.count} sent messages, {args.contacts} contacts, {args.works} works; median of {args.repeat} "
          "(target < 200 ms)")
    for name, url in backends:
        pg_name = f"mailcrm_bench_{os.getpid()}"
        if name == "postgresql":
            try:
                url = pg_database(args.pg, pg_name, create=True)
            except Exception as exc:  # noqa: BLE001 - no server: say so and stop
                print(f"postgresql: skipped ({type(exc).__name__}: {str(exc).splitlines()[0]})")
                continue
        try:
            print(f"{name}:")
            r = measure(url, args)
            print(f"  baseline SELECT {r['base']:.1f} ms | outreach {r['outreach']:.1f} ms "
                  f"(first {r['outreach_first']:.1f}) | check {r['check']:.1f} ms (first {r['check_first']:.1f})")
        finally:
            if name == "postgresql":
                pg_database(args.pg, pg_name, create=False)
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
