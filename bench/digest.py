"""Digest and contact-card latency on a big synthetic store, against one plain indexed SELECT.

Builds 10,000 contacts, 2,000 open deals and 1,000,000 messages (core ``insert()`` executemany, COPY on
PostgreSQL; schema from the real Alembic migrations; ~3 min on 2 cores), then times, on the same tables:
  (base) one plain indexed SELECT: a contact's latest 50 messages via the participant (contact, date) index;
  (a) ``make_digest`` - the function behind ``mailcrm digest preview`` (collect + rules + render);
  (b) ``contact_card`` - the function behind ``mailcrm show ADDRESS`` (card + whole timeline),
      for a typical contact and for the busiest one.
Targets (issue 6): digest < 1 s, show < 50 ms, on SQLite and on PostgreSQL.  Nothing is asserted.

    python bench/digest.py                                    # SQLite in a temp dir
    python bench/digest.py --db postgresql://postgres@127.0.0.1:5432/test
      (creates a database ``mailcrm_bench_<pid>`` next to the given one and drops it at the end)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import JSON, Engine, create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from mailcrm import config  # noqa: E402
from mailcrm.digest.compose import make_digest  # noqa: E402
from mailcrm.store import db, migrate, repository  # noqa: E402
from mailcrm.store.models import (  # noqa: E402
    Activity,
    BounceEvent,
    Company,
    Contact,
    ContactTag,
    Deal,
    DealContact,
    DealMessage,
    DealStage,
    EmailAddress,
    Message,
    Participant,
    SpecialDate,
    Tag,
)

USER = "me@example.org"
BATCH = 10_000
YEARS = 3
HEAVY = 100  # contacts that get an extra 10% of all mail (a realistic skew: a few people dominate)
STAGES = ("lead", "contacted", "proposal", "negotiation")


# -- the synthetic store ------------------------------------------------------------------------
def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for r in rows:
        batch.append(r)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _load(engine: Engine, model: Any, rows: Iterator[dict[str, Any]]) -> int:
    """Insert rows in batches of BATCH: core ``insert()`` executemany, or COPY on PostgreSQL."""
    table = model.__table__
    n = 0
    if engine.dialect.name == "postgresql":
        json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
        with engine.begin() as conn:
            raw: Any = conn.connection.dbapi_connection  # psycopg 3: COPY ... FROM STDIN
            for batch in _batches(rows):
                cols = list(batch[0])
                with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
                    for r in batch:
                        copy.write_row([json.dumps(r[c]) if c in json_cols else r[c] for c in cols])
                n += len(batch)
        return n
    for batch in _batches(rows):
        with engine.begin() as conn:
            conn.execute(insert(table), batch)
        n += len(batch)
    return n


def build(engine: Engine, cfg: config.Config, contacts: int, deals: int, messages: int, now: dt.datetime,
          seed: int) -> dict[str, Any]:
    """Fill an empty (migrated) store; returns facts the timings need (ids, addresses)."""
    rnd = random.Random(seed)
    factory = db.session_factory(engine)
    with db.transaction(factory) as s:
        user_id = repository.sync_users(s, cfg)[USER]
    n_companies = max(1, contacts // 10)
    _load(engine, Company, ({"id": i, "name": f"Company {i}", "key": f"domain:corp{i}.example",
                             "domain": f"corp{i}.example", "source": "domain", "status": "active",
                             "created_at": now} for i in range(1, n_companies + 1)))
    _load(engine, Contact, ({"id": i, "name": f"Person {i}", "title": "Manager" if i % 3 else None,
                             "company_id": (i % n_companies) + 1, "phones": [f"+7495{i:07d}"] if i % 4 == 0 else [],
                             "status": "active", "needs_new_address": i % 997 == 0, "user_fields": [],
                             "source": "mail", "created_at": now, "updated_at": now}
                            for i in range(1, contacts + 1)))

    def addresses() -> Iterator[dict[str, Any]]:
        aid = 0
        for i in range(1, contacts + 1):
            for k in range(2 if i % 5 == 0 else 1):  # every 5th contact has a second address
                aid += 1
                yield {"id": aid, "address": f"p{i}.{k}@corp{i % n_companies + 1}.example", "contact_id": i,
                       "status": "bounced" if (k == 0 and i % 997 == 0) else "active", "created_at": now}

    _load(engine, EmailAddress, addresses())
    n_tags = 20
    _load(engine, Tag, ({"id": t, "name": f"tag{t}"} for t in range(1, n_tags + 1)))
    _load(engine, ContactTag, ({"contact_id": i, "tag_id": i % n_tags + 1, "created_at": now}
                               for i in range(1, contacts + 1) if i % 3 == 0))

    # Messages: spread over YEARS up to ``now``; 90% to uniformly chosen contacts, 10% to HEAVY ones.
    span = YEARS * 365 * 86400
    kinds = ["sent"] * 50 + ["received"] * 40 + ["forward"] * 5 + ["bounce"] * 3 + ["autoreply"] * 2
    plan: list[tuple[int, dt.datetime, str]] = []
    for _ in range(messages):
        cid = rnd.randint(1, HEAVY) if rnd.random() < 0.1 else rnd.randint(1, contacts)
        plan.append((cid, now - dt.timedelta(seconds=rnd.randint(0, span)), rnd.choice(kinds)))
    plan.sort(key=lambda p: p[1])  # ids grow with dates, like real ingest
    facts = {"kind": "", "defects": [], "forwarded": None, "signature": None, "bounce": None, "autoreply": None,
             "reply_text": "Thank you for the offer, we will come back to you next week. " * 3}

    def message_rows() -> Iterator[dict[str, Any]]:
        for mid, (cid, date, kind) in enumerate(plan, 1):
            yield {"id": mid, "identity": f"mid:<b{mid}@bench.example>", "message_id": f"<b{mid}@bench.example>",
                   "sha256": f"{mid:064x}", "user_id": user_id, "kind": kind,
                   "direction": "out" if kind == "sent" else "in", "date": date,
                   "subject": f"Re: offer {mid % 5000} for Person {cid}",
                   "snippet": "Thank you for the offer, we will come back to you next week.",
                   "thread_key": f"<t{mid % 200_000}@bench.example>", "in_reply_to": None, "source": "bench",
                   "size": 20_000, "facts": {**facts, "kind": kind}, "status": "active", "ingested_at": date}

    def address_of(c: int) -> str:
        return f"p{c}.0@corp{c % n_companies + 1}.example"

    def participant_rows() -> Iterator[dict[str, Any]]:
        pid = 0
        for mid, (cid, date, kind) in enumerate(plan, 1):
            role = {"sent": "to", "forward": "original_from", "bounce": "bounced",
                    "autoreply": "from"}.get(kind, "from")
            people = [(cid, role)]
            if mid % 5 == 0:  # a colleague on Cc
                people.append((rnd.randint(1, contacts), "cc"))
            for c, r in people:
                pid += 1
                yield {"id": pid, "message_id": mid, "address": address_of(c),
                       "name": f"Person {c}", "contact_id": c, "role": r,
                       "direction": "out" if r in ("to", "cc") else "in", "date": date}

    # The two big tables load without their secondary indexes, which are rebuilt once afterwards
    # (the same definitions, from the models the migrations are checked against).
    indexes = [ix for table in (Message.__table__, Participant.__table__) for ix in table.indexes]
    with engine.begin() as conn:
        for ix in indexes:
            ix.drop(conn)
    n_msg = _load(engine, Message, message_rows())
    n_part = _load(engine, Participant, participant_rows())
    with engine.begin() as conn:
        for ix in indexes:
            ix.create(conn)

    # Deals: ``deals`` open ones (plus a quarter as many closed), 1-3 people, a few thread messages each.
    total_deals = deals + deals // 4
    deal_people: dict[int, list[int]] = {d: rnd.sample(range(1, contacts + 1), rnd.randint(1, 3))
                                         for d in range(1, total_deals + 1)}
    _load(engine, Deal, ({"id": d, "user_id": user_id, "title": f"Deal {d}", "company_id": d % n_companies + 1,
                          "stage": STAGES[d % len(STAGES)], "status": "open" if d <= deals else "won",
                          "opened_at": now - dt.timedelta(days=d % 300 + 1),
                          "stage_changed_at": now - dt.timedelta(days=d % 60 + 1)} for d in range(1, total_deals + 1)))
    _load(engine, DealContact, ({"deal_id": d, "contact_id": c} for d, cs in deal_people.items() for c in cs))
    _load(engine, DealStage, ({"deal_id": d, "stage": STAGES[d % len(STAGES)], "at": now - dt.timedelta(days=d % 60)}
                              for d in range(1, total_deals + 1)))
    _load(engine, DealMessage, ({"deal_id": d, "message_id": m} for d in range(1, total_deals + 1)
                                for m in sorted(set(rnd.randint(1, n_msg) for _ in range(5)))))

    def activities() -> Iterator[dict[str, Any]]:
        for i in range(1, contacts * 4 + 1):
            kind = ("call", "note", "signature", "status")[i % 4]
            at = now - dt.timedelta(seconds=rnd.randint(0, span))
            yield {"contact_id": rnd.randint(1, contacts), "deal_id": (i % total_deals + 1) if i % 8 == 0 else None,
                   "user_id": user_id, "kind": kind, "at": at, "text": f"{kind} {i}", "due": None, "data": {},
                   "created_at": at}
        for i in range(1, 51):  # auto-replies whose "back on" dates are around today
            yield {"contact_id": rnd.randint(1, contacts), "deal_id": None, "user_id": user_id, "kind": "autoreply",
                   "at": now,
                   "text": "out of office", "due": (now + dt.timedelta(days=i % 10 - 5)).date(), "data": {},
                   "created_at": now}

    _load(engine, Activity, activities())
    _load(engine, SpecialDate, ({"contact_id": i, "label": "birthday", "month": i % 12 + 1, "day": i % 28 + 1,
                                 "status": "active", "created_at": now} for i in range(1, contacts + 1, 50)))
    _load(engine, SpecialDate, ({"tag_id": t, "label": f"day of tag{t}", "month": t % 12 + 1, "day": t,
                                 "status": "active", "created_at": now} for t in range(1, n_tags + 1)))
    bounce_ids = [m for m, (_, _, k) in enumerate(plan, 1) if k == "bounce"][-2000:]
    _load(engine, BounceEvent, ({"message_id": m, "address": address_of(plan[m - 1][0]),
                                 "hard": m % 2 == 0, "status": "5.1.1", "reason": "user_unknown", "verified": True,
                                 "effect": "bounced" if m % 2 == 0 else "scored", "at": plan[m - 1][1]}
                                for m in bounce_ids))
    if engine.dialect.name == "postgresql":
        # Ids were given explicitly: move the sequences past them; then VACUUM ANALYZE, which is
        # what autovacuum does on its own shortly after a bulk load (statistics for the planner,
        # the visibility map that lets covering indexes answer without visiting the table).
        with engine.begin() as conn:
            for table in ("companies", "contacts", "email_addresses", "tags", "messages", "message_participants",
                          "deals"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT MAX(id) FROM {table}))"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return {"messages": n_msg, "participants": n_part}


def describe(engine: Engine) -> dict[str, Any]:
    """Sizes, the newest message date, and a typical and the busiest contact (by mail count)."""
    with engine.connect() as conn:
        n_msg, newest = conn.execute(text("SELECT COUNT(*), MAX(date) FROM messages")).one()
        n_part = conn.execute(text("SELECT COUNT(*) FROM message_participants")).scalar_one()
        n_companies = conn.execute(text("SELECT COUNT(*) FROM companies")).scalar_one()
        counts = conn.execute(text("SELECT contact_id, COUNT(*) AS n FROM message_participants "
                                   "WHERE role <> 'cc' GROUP BY contact_id ORDER BY n, contact_id")).all()
    if isinstance(newest, str):  # SQLite hands back text from a raw SELECT
        newest = dt.datetime.fromisoformat(newest)
    return {"messages": n_msg, "participants": n_part, "n_companies": n_companies, "newest": newest,
            "typical": tuple(counts[len(counts) // 2]), "busiest": tuple(counts[-1])}


# -- timing ---------------------------------------------------------------------------------------
def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(first call, median of the next ``repeat``) in seconds."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return first, statistics.median(runs)


def pg_database(url: str, name: str, create: bool) -> str:
    """Create (or drop) database ``name`` on the server of ``url``; returns its URL."""
    admin = create_engine(db.normalize_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    return make_url(db.normalize_url(url)).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    """Build the store, time digest and show against the baseline, print the summary."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="", help="database URL (default: SQLite in a temp dir); for PostgreSQL a "
                    "database mailcrm_bench_<pid> is created on that server and dropped afterwards")
    ap.add_argument("--contacts", type=int, default=10_000)
    ap.add_argument("--deals", type=int, default=2_000, help="open deals")
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs after the first (median is shown)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sqlite-file", type=Path, help="build the SQLite store in this file and keep it; "
                    "if it exists, reuse it (no build)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mailcrm-bench-digest-"))
    pg_name = f"mailcrm_bench_{__import__('os').getpid()}"
    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    if args.db.startswith(("postgresql", "postgres")):
        url = pg_database(args.db, pg_name, create=True)
    elif args.db:
        url = args.db
    elif args.sqlite_file:
        url = f"sqlite:///{args.sqlite_file.resolve()}"
    reuse = bool(args.sqlite_file and args.sqlite_file.exists())
    engine = db.make_engine(url)
    try:
        cfg = config.parse(f'data_dir = "{tmp}"\n[database]\nurl = "{url}"\n[digest]\nenabled = false\n'
                           f'[[users]]\nemail = "{USER}"\ndropbox = "crm+bench@example.org"\n'
                           'timezone = "Europe/Moscow"\n', str(tmp / "config.toml"))
        user = cfg.users[0]
        migrate.upgrade(engine)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        t0 = time.perf_counter()
        if not reuse:
            build(engine, cfg, args.contacts, args.deals, args.messages, now, args.seed)
        build_s = time.perf_counter() - t0
        info = describe(engine)
        now = info["newest"]
        factory = db.session_factory(engine)
        today = now.date()
        typical_cid, typical_n = info["typical"]
        busiest_cid, busiest_n = info["busiest"]
        n_companies = info["n_companies"]

        def addr(cid: int) -> str:
            return f"p{cid}.0@corp{cid % n_companies + 1}.example"

        base_sql = text("SELECT m.id, m.subject, m.date FROM message_participants p "
                        "JOIN messages m ON m.id = p.message_id WHERE p.contact_id = :cid "
                        "ORDER BY p.date DESC LIMIT 50")

        def baseline() -> None:
            with factory() as s:
                s.execute(base_sql, {"cid": typical_cid}).all()

        summary: dict[str, Any] = {}

        def digest() -> None:
            with db.transaction(factory) as s:
                d, _ = make_digest(s, cfg, user, today)
            summary.update(d.summary())

        def show(cid: int) -> Callable[[], None]:
            def run() -> None:
                with db.transaction(factory) as s:
                    card = repository.contact_card(s, addr(cid))
                summary[f"timeline_{cid}"] = len(card["timeline"])
            return run

        base = timed(baseline, args.repeat)
        dig = timed(digest, args.repeat)
        show_t = timed(show(typical_cid), args.repeat)
        show_b = timed(show(busiest_cid), args.repeat)
    finally:
        engine.dispose()
        if url.startswith("postgresql"):
            pg_database(args.db, pg_name, create=False)
        shutil.rmtree(tmp, ignore_errors=True)

    def row(label: str, t: tuple[float, float], target: float | None) -> str:
        goal = f"  target < {target * 1000:.0f} ms" if target else ""
        return (f"{label:<38} {t[1] * 1000:9.1f} ms (first {t[0] * 1000:7.1f})  x{t[1] / base[1]:8.0f} base{goal}")

    built = "reused" if reuse else f"built in {build_s:.0f}s"
    print(f"db: {engine.dialect.name}; {args.contacts} contacts, {args.deals} open deals, {info['messages']} messages, "
          f"{info['participants']} participants; {built}")
    sections = {k: v for k, v in summary.items() if not k.startswith("timeline_")}
    print("digest sections: " + ", ".join(f"{k}={v}" for k, v in sections.items()))
    print(row("(base) indexed SELECT, latest 50", base, None))
    print(row("(a) digest preview (make_digest)", dig, 1.0))
    print(row(f"(b) show, typical ({typical_n} msgs, {summary[f'timeline_{typical_cid}']} items)", show_t, 0.05))
    print(row(f"(b) show, busiest ({busiest_n} msgs, {summary[f'timeline_{busiest_cid}']} items)", show_b, 0.05))


if __name__ == "__main__":
    main()
