"""Contact search latency on 100,000 contacts (issue: Cyrillic search), SQLite and PostgreSQL.

Builds N contacts with Russian and Latin names, companies, titles, addresses, phones and tags (core
``insert()``; the search column computed by the store's own function), then times, in one run:
  (base) one bare ``SELECT id FROM contacts WHERE search_text LIKE :p LIMIT 500`` on the same table;
  (a) ``repository.list_contacts`` - the function behind ``mailcrm contacts --search`` - for a query
      with one hit (a unique surname in another case), a phone number written nationally, and a
      common fragment (hundreds of hits, limit 500, each with its addresses and tags).
Target: < 50 ms for a search on 100,000 contacts on both backends. Nothing is asserted.

    python bench/search.py [--count 100000]                  # SQLite in a temp dir
    python bench/search.py --db postgresql://postgres@127.0.0.1:5432/test
      (creates a database ``mailcrm_bench_<pid>`` next to the given one and drops it at the end)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from mailcrm.store import db, migrate, repository  # noqa: E402
from mailcrm.store.models import Company, Contact, ContactTag, EmailAddress, Tag  # noqa: E402
from mailcrm.store.search import like_pattern, search_text  # noqa: E402

FIRST = ["Пётр", "Анна", "Иван", "Мария", "Ольга", "Сергей", "John", "Maria", "Алёна", "Дмитрий", "Елена", "Paul"]
SYL = ["ва", "ко", "ли", "ро", "се", "ми", "да", "ну", "то", "ре", "ka", "lo", "ber", "man", "ев", "ин"]
TITLES = ["Завлит", "Директор", "Продюсер", "Editor", "Literary manager", "Главный режиссёр", None]
TAGS = ["театры", "кино", "издательства", "vip", "фестивали"]


def surname(rnd: random.Random) -> str:
    return "".join(rnd.choice(SYL) for _ in range(rnd.randint(2, 4))).capitalize() + rnd.choice(["ов", "ова", "ин", "son", ""])


def build(engine: Any, n: int, seed: int = 7) -> str:
    """Fill the store; returns the unique surname planted once."""
    rnd = random.Random(seed)
    now = dt.datetime(2026, 12, 1)
    companies = [f"Театр {surname(rnd)}" if i % 2 else f"{surname(rnd)} Films" for i in range(n // 10)]
    with engine.begin() as conn:
        conn.execute(insert(Company.__table__), [{"id": i + 1, "name": c, "key": f"k{i}", "status": "active",
                                                  "source": "signature", "created_at": now} for i, c in enumerate(companies)])
        conn.execute(insert(Tag.__table__), [{"id": i + 1, "name": t} for i, t in enumerate(TAGS)])
    unique = "Шереметьевская"
    contacts, addresses, tags = [], [], []
    for i in range(1, n + 1):
        name = f"{rnd.choice(FIRST)} {unique if i == n // 2 else surname(rnd)}"
        title, comp = rnd.choice(TITLES), rnd.randrange(len(companies))
        phones = [f"+7921{i:07d}"] if i % 3 == 0 else []
        addr = f"p{i}@corp{comp}.example"
        tag = TAGS[i % len(TAGS)] if i % 2 else None
        contacts.append({"id": i, "name": name, "title": title, "company_id": comp + 1, "phones": phones,
                         "status": "active", "needs_new_address": False, "user_fields": [], "source": "mail",
                         "created_at": now, "updated_at": now,
                         "search_text": search_text(name, title, companies[comp], [addr], phones, [tag] if tag else [])})
        addresses.append({"id": i, "address": addr, "contact_id": i, "status": "active", "created_at": now})
        if tag:
            tags.append({"contact_id": i, "tag_id": TAGS.index(tag) + 1, "created_at": now})
    with engine.begin() as conn:
        for table, rows in ((Contact, contacts), (EmailAddress, addresses), (ContactTag, tags)):
            for k in range(0, len(rows), 10_000):
                conn.execute(insert(table.__table__), rows[k:k + 10_000])
        if engine.dialect.name == "sqlite":  # the store keeps its trigram table beside the column
            conn.execute(text("INSERT INTO contact_search(rowid, search_text) VALUES (:id, :search_text)"),
                         [{"id": c["id"], "search_text": c["search_text"]} for c in contacts])
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return unique


def timed(fn: Callable[[], Any], runs: int = 15) -> tuple[float, Any]:
    fn()  # warm
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def run(url: str, n: int) -> None:
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    t = time.perf_counter()
    unique = build(engine, n)
    print(f"{engine.dialect.name}: {n:,} contacts built in {time.perf_counter() - t:.1f} s")
    factory = db.session_factory(engine)
    queries = [("one hit, other case", unique.upper()), ("phone, national form", f"8 (921) {n // 2 // 3 * 3:07d}"),
               ("common fragment", "ова")]
    for label, q in queries:
        pattern = like_pattern(q, "RU")

        def bare() -> int:  # the plain scan the column would need without a trigram index
            with engine.connect() as conn:
                return len(conn.execute(text("SELECT id FROM contacts WHERE status = 'active' AND search_text LIKE :p "
                                             "ESCAPE '\\' LIMIT 500"), {"p": pattern}).all())

        def case() -> tuple[list[dict[str, Any]], int]:
            with factory() as s:
                return repository.list_contacts(s, q, 500, "RU")

        base_ms, base_n = timed(bare)
        ms, (rows, total) = timed(case)
        print(f"  {label:24} {q!r:28} hits {total:6,} (listed {len(rows)})  search {ms:7.1f} ms  "
              f"scan LIKE {base_ms:6.1f} ms  search/scan {ms / base_ms:5.2f}  target < 50 ms: {'yes' if ms < 50 else 'NO'}")
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--db", help="a PostgreSQL URL (a scratch database is made next to it)")
    args = ap.parse_args()
    if args.db:
        base = make_url(args.db)
        name = f"mailcrm_bench_{os.getpid()}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(base.set(database=name).render_as_string(hide_password=False), args.count)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.sqlite3", args.count)


if __name__ == "__main__":
    main()
