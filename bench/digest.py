"""Read paths at scale: digest, `show`, contact search and phone lookup on a big synthetic store,
against one plain indexed SELECT measured in the same run (issue 26).

Builds 50,000 contacts, 2,000 open deals and 1,000,000 messages (core ``insert()`` executemany, COPY on
PostgreSQL; schema from the real Alembic migrations; search column and trigram index filled by the
store's own function; ~2-4 min on 2 cores), then times, on the same tables:
  (base) one plain indexed SELECT: a contact's latest 50 messages via the participant (contact, date) index;
  (a) ``make_digest`` - the function behind ``mailcrm digest preview`` (collect + rules + render);
  (b) ``cases.contact_card`` - the call behind ``mailcrm show ADDRESS`` (card + newest 50 timeline items,
      and the whole timeline for reference), for a typical contact and for the busiest one;
  (c) ``cases.list_contacts`` - ``mailcrm contacts --search`` - for a query with one hit;
      contacts by phone (``store.phones.contacts_with_phone``, what `show +7...` and leads use);
  (d) the CLI process ``mailcrm show ADDRESS`` from start to exit, against ``python -c pass``.
Targets (issue 26): digest < 200 ms, show < 20 ms, search with one hit < 10 ms, CLI show process
< 300 ms, on SQLite and on PostgreSQL.  Nothing is asserted.

    python bench/digest.py            # SQLite: built once in /tmp/mailcrm-bench/, reused by later runs
    python bench/digest.py --sqlite-file /tmp/x.sqlite3 [--rebuild]
    python bench/digest.py --db postgresql://postgres@127.0.0.1:5432/test
      (creates a database ``mailcrm_bench_<pid>`` next to the given one and drops it at the end)
    python bench/digest.py --db postgresql://... --pg-keep mailcrm_bench_1m [--rebuild]
      (builds that database once and keeps it; later runs reuse it)
    python bench/digest.py --json     # one JSON object of the figures (ms) and the targets
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
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
from mailcrm.app import cases, last_touch  # noqa: E402
from mailcrm.app.handle import Store  # noqa: E402
from mailcrm.digest.compose import make_digest  # noqa: E402
from mailcrm.store import db, migrate, repository, search  # noqa: E402
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
from mailcrm.store.phones import contacts_with_phone  # noqa: E402

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
    # The touches kept at write time (contact_touches, deal_touches), filled as migration 0016 fills them.
    with engine.begin() as conn:
        conn.execute(last_touch.FILL)
        conn.execute(last_touch.FILL_DEALS)
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


def fill_search(engine: Engine) -> int:
    """Fill the search column (and SQLite's trigram table) of contacts that have none yet: the bulk
    load bypasses the store's session events.  Returns how many were filled."""
    factory = db.session_factory(engine)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM contacts WHERE search_text = '' ORDER BY id"))]
    for i in range(0, len(ids), 5000):
        with db.transaction(factory) as s:
            search.refresh(s, ids[i:i + 5000])
    if ids:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE contacts" if engine.dialect.name == "postgresql" else "ANALYZE"))
    return len(ids)


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


def pg_exists(url: str, name: str) -> bool:
    """Whether the server of ``url`` has a database ``name``."""
    admin = create_engine(db.normalize_url(url))
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is not None
    admin.dispose()
    return found


def cli_show(config_path: Path, address: str, repeat: int) -> tuple[float, float]:
    """(python -c pass, `mailcrm show ADDRESS`) process wall times, medians of ``repeat`` runs, in s.

    The package's bytecode is compiled first, as ``pip install`` does: run from a checkout with
    PYTHONDONTWRITEBYTECODE set (as here), every start compiled each imported module from source,
    about a fifth of the process's CPU time.
    """
    compileall.compile_dir(str(ROOT / "mailcrm"), quiet=1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(args: list[str]) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL, timeout=120)
        return time.perf_counter() - t0

    base = statistics.median(run(["-c", "pass"]) for _ in range(repeat))
    show = statistics.median(run(["-m", "mailcrm", "--config", str(config_path), "show", address])
                             for _ in range(repeat))
    return base, show


def main() -> None:
    """Build (or reuse) the store, time the read paths against the baseline, print the summary."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="", help="database URL (default: SQLite, kept under /tmp/mailcrm-bench); for "
                    "PostgreSQL a database mailcrm_bench_<pid> is created on that server and dropped afterwards")
    ap.add_argument("--contacts", type=int, default=50_000)
    ap.add_argument("--deals", type=int, default=2_000, help="open deals")
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs after the first (median is shown)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sqlite-file", type=Path, help="the SQLite store to build and keep; if it exists, it is "
                    "reused (default: /tmp/mailcrm-bench/digest-<contacts>-<messages>-<seed>.sqlite3)")
    ap.add_argument("--pg-keep", default="", help="PostgreSQL: build the store in this database and keep it; "
                    "if it exists, it is reused")
    ap.add_argument("--rebuild", action="store_true", help="build the SQLite file (or the --pg-keep database) "
                    "again even if it exists")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mailcrm-bench-digest-"))
    pg_name = f"mailcrm_bench_{os.getpid()}"
    reuse = False
    keep_pg = False
    if args.db.startswith(("postgresql", "postgres")) and args.pg_keep:
        pg_name, keep_pg = args.pg_keep, True
        if args.rebuild:
            pg_database(args.db, pg_name, create=False)
        reuse = pg_exists(args.db, pg_name)
        url = (make_url(db.normalize_url(args.db)).set(database=pg_name).render_as_string(hide_password=False)
               if reuse else pg_database(args.db, pg_name, create=True))
    elif args.db.startswith(("postgresql", "postgres")):
        url = pg_database(args.db, pg_name, create=True)
    elif args.db:
        url = args.db
    else:
        path = args.sqlite_file or Path("/tmp/mailcrm-bench") / (
            f"digest-{args.contacts}-{args.messages}-{args.seed}.sqlite3")
        path.parent.mkdir(parents=True, exist_ok=True)
        if args.rebuild:
            for extra in ("", "-wal", "-shm"):
                Path(f"{path}{extra}").unlink(missing_ok=True)
        reuse = path.exists()
        url = f"sqlite:///{path.resolve()}"
    engine = db.make_engine(url)
    out: dict[str, Any] = {}
    try:
        config_path = tmp / "config.toml"
        config_path.write_text(f'data_dir = "{tmp}"\n[database]\nurl = "{url}"\n[digest]\nenabled = false\n'
                               f'[[users]]\nemail = "{USER}"\ndropbox = "crm+bench@example.org"\n'
                               'timezone = "Europe/Moscow"\n', encoding="utf-8")
        cfg = config.load(config_path)
        user = cfg.users[0]
        migrate.upgrade(engine)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        t0 = time.perf_counter()
        if not reuse:
            build(engine, cfg, args.contacts, args.deals, args.messages, now, args.seed)
        filled = fill_search(engine)
        build_s = time.perf_counter() - t0
        info = describe(engine)
        now = info["newest"]
        factory = db.session_factory(engine)
        store = Store(engine, factory)
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

        def show(cid: int, limit: int | None) -> Callable[[], None]:
            def run() -> None:
                card = cases.contact_card(store, addr(cid), limit)
                summary[f"timeline_{cid}_{limit}"] = (len(card["timeline"]), card["timeline_total"])
            return run

        # One hit: a contact's name is "Person N" -- "person 12345" is also in "person 123450..": the
        # unique one is the address of the busiest contact, searched in another case.
        one_hit = addr(busiest_cid).upper()

        def search_one() -> None:
            rows, total = cases.list_contacts(store, one_hit, 500, "RU")
            summary["search_hits"] = total

        phone_cid = next(c for c in range(args.contacts // 2, args.contacts) if c % 4 == 0)

        def by_phone() -> None:
            with db.transaction(factory) as s:
                summary["phone_hits"] = len(contacts_with_phone(s, f"+7495{phone_cid:07d}"))

        base = timed(baseline, args.repeat)
        times = {
            "digest": timed(digest, args.repeat),
            "show_typical": timed(show(typical_cid, 50), args.repeat),
            "show_busiest": timed(show(busiest_cid, 50), args.repeat),
            "show_busiest_all": timed(show(busiest_cid, None), args.repeat),
            "search_one_hit": timed(search_one, args.repeat),
            "phone_lookup": timed(by_phone, args.repeat),
        }
        py_s, cli_s = cli_show(config_path, addr(busiest_cid), max(3, args.repeat))
    finally:
        engine.dispose()
        if url.startswith("postgresql") and not keep_pg:
            pg_database(args.db, pg_name, create=False)
        shutil.rmtree(tmp, ignore_errors=True)

    targets = {"digest": 0.2, "show_typical": 0.02, "show_busiest": 0.02, "search_one_hit": 0.01,
               "phone_lookup": 0.01}
    out = {"db": engine.dialect.name, "contacts": args.contacts, "messages": info["messages"],
           "baseline_ms": base[1] * 1000,
           **{f"{k}_ms": v[1] * 1000 for k, v in times.items()},
           **{f"{k}_ratio": v[1] / base[1] for k, v in times.items()},
           "cli_show_ms": cli_s * 1000, "python_start_ms": py_s * 1000,
           "targets_ms": {**{k: v * 1000 for k, v in targets.items()}, "cli_show": 300}}
    if args.json:
        print(json.dumps(out))
        return

    def row(label: str, t: tuple[float, float], target: float | None) -> str:
        goal = f"  target < {target * 1000:.0f} ms: {'yes' if t[1] < target else 'NO'}" if target else ""
        return f"{label:<48} {t[1] * 1000:9.1f} ms (first {t[0] * 1000:7.1f})  x{t[1] / base[1]:7.0f} base{goal}"

    built = "reused" if reuse else f"built in {build_s:.0f}s"
    print(f"db: {engine.dialect.name}; {args.contacts} contacts, {args.deals} open deals, {info['messages']} messages, "
          f"{info['participants']} participants; {built}" + (f"; search text filled for {filled}" if filled else ""))
    sections = {k: v for k, v in summary.items() if not k.startswith(("timeline_", "search_", "phone_"))}
    print("digest sections: " + ", ".join(f"{k}={v}" for k, v in sections.items()))
    tl = {k: summary[f"timeline_{c}_{lim}"] for k, c, lim in (("t", typical_cid, 50), ("b", busiest_cid, 50))}
    print(row("(base) indexed SELECT, latest 50", base, None))
    print(row("(a) digest preview (make_digest)", times["digest"], targets["digest"]))
    print(row(f"(b) show, typical ({typical_n} msgs; {tl['t'][0]} of {tl['t'][1]} items)", times["show_typical"],
              targets["show_typical"]))
    print(row(f"(b) show, busiest ({busiest_n} msgs; {tl['b'][0]} of {tl['b'][1]} items)", times["show_busiest"],
              targets["show_busiest"]))
    print(row("(b) show --all, busiest (whole timeline)", times["show_busiest_all"], None))
    print(row(f"(c) contacts --search, one hit ({summary['search_hits']} found)", times["search_one_hit"],
              targets["search_one_hit"]))
    print(row(f"(c) contact by phone ({summary['phone_hits']} found)", times["phone_lookup"], targets["phone_lookup"]))
    print(f"{'(d) CLI `mailcrm show` process':<48} {cli_s * 1000:9.1f} ms (python -c pass {py_s * 1000:.0f} ms, "
          f"x{cli_s / py_s:.1f})  target < 300 ms: {'yes' if cli_s < 0.3 else 'NO'}")


if __name__ == "__main__":
    main()
