"""Compare two stores table by table: row counts and contents, except row ids and "now" timestamps.

Used to check that a change of the write path stores the same rows (issue 26): import one corpus
with the old and the new code into two fresh stores, then

    python bench/store_compare.py sqlite:///old/mailcrm.sqlite3 sqlite:///new/mailcrm.sqlite3

Each table is read as a multiset of rows without the ignored columns (``--ignore``, by default
the surrogate ``id`` and the columns stamped with the time of the run).  Foreign keys are compared
as they are (both runs insert in the same order, so the ids agree unless the change reorders
inserts; then pass ``--ignore`` with those columns).  Prints one line per table; exit 1 on a difference.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

from sqlalchemy import MetaData, create_engine, select

NOW_COLUMNS = {"id", "ingested_at", "created_at", "updated_at", "imported_at", "refreshed_at", "last_seen_at",
               "updated", "checked_at", "synced_at", "ok_at"}

NOW_KEYS = {"received_at"}  # in JSON documents (a message's facts: the envelope's time of arrival, i.e. of the import)


def dump(url: str, ignore: set[str]) -> dict[str, Counter[tuple[Any, ...]]]:
    """Every table of the store at ``url`` as a multiset of rows (ignored columns left out)."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    out: dict[str, Counter[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            if name.startswith(("alembic", "sqlite_", "contact_search")):
                continue
            cols = [c for c in table.columns if c.name not in ignore]
            out[name] = Counter(tuple((c.name, _plain(v)) for c, v in zip(cols, row, strict=True))
                                for row in conn.execute(select(*cols)))
    engine.dispose()
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v)) for k, v in value.items() if k not in NOW_KEYS))
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--ignore", default="", help="more columns to leave out (comma-separated)")
    ap.add_argument("--show", type=int, default=3, help="differing rows shown per table")
    args = ap.parse_args()
    ignore = NOW_COLUMNS | {c for c in args.ignore.split(",") if c}
    old, new = dump(args.old, ignore), dump(args.new, ignore)
    bad = 0
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name, Counter()), new.get(name, Counter())
        if a == b:
            print(f"same  {name}: {sum(a.values())} rows")
            continue
        bad += 1
        print(f"DIFF  {name}: {sum(a.values())} rows old, {sum(b.values())} new")
        olds, news = list((a - b).elements()), list((b - a).elements())
        if olds and news:
            differ = sorted(k for k, v in olds[0] if dict(news[0]).get(k) != v)
            print(f"   columns differing in the first pair: {differ}")
        for row in olds[:args.show]:
            print(f"   only old: {dict(row)}"[:600])
        for row in news[:args.show]:
            print(f"   only new: {dict(row)}"[:600])
    print("all tables the same" if not bad else f"{bad} tables differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
