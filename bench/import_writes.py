"""The writer's side of an import: CPU of the importing process, SQL statements and flushes per message.

`mailcrm import maildir` is run in this process (its parser processes are children, not counted)
into a fresh store, with a SQLAlchemy listener counting statements (by verb and table) and one
counting flushes (by the mailcrm code that asked for them).  Complements bench/import.py, whose
CPU figure adds the parser processes; compare two trees by running this from each.  Nothing is
asserted.

    python bench/import_writes.py MAILDIR [--db URL] [--top 25] [--json]

MAILDIR: a corpus from `python bench/corpus.py --count 2000 maildir DIR` (user me@example.org).
--db: a fresh, empty PostgreSQL database URL (default: SQLite in a temp dir).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
USER = "me@example.org"


def _verb_table(statement: str) -> str:
    words = statement.replace('"', "").split()
    if not words:
        return "?"
    verb = words[0].upper()
    if verb == "INSERT" and len(words) > 2:
        return f"INSERT {words[2]}"
    if verb == "UPDATE" and len(words) > 1:
        return f"UPDATE {words[1]}"
    if verb == "DELETE" and len(words) > 2:
        return f"DELETE {words[2]}"
    if verb == "SELECT" and "FROM" in words:
        return f"SELECT {words[words.index('FROM') + 1]}"
    return verb


def measure(maildir: Path) -> dict[str, object]:
    """Import ``maildir`` here (config from $MAILCRM_CONFIG); the counts and the CPU seconds."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    statements: collections.Counter[str] = collections.Counter()
    flushes: collections.Counter[str] = collections.Counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def _count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        statements[_verb_table(statement)] += 1

    @event.listens_for(Session, "before_flush")
    def _flush(session, flush_context, instances):  # type: ignore[no-untyped-def]
        frames = [f"{Path(f.filename).name}:{f.name}" for f in traceback.extract_stack()
                  if f"{os.sep}mailcrm{os.sep}" in f.filename][-2:]
        flushes[" < ".join(reversed(frames))] += 1

    from mailcrm.cli import main

    cpu0 = time.process_time()
    sys.argv = ["mailcrm", "import", "maildir", str(maildir), "--json"]
    try:
        main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    return {"cpu": time.process_time() - cpu0, "statements": statements, "flushes": flushes}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("maildir", type=Path)
    ap.add_argument("--db", default="", help="a fresh PostgreSQL database URL (default: SQLite in a temp dir)")
    ap.add_argument("--top", type=int, default=25, help="statement kinds and flush callers listed")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailcrm-writes-") as tmp:
        url = args.db or f"sqlite:///{tmp}/data/mailcrm.sqlite3"
        cfg = Path(tmp) / "config.toml"
        cfg.write_text(f'data_dir = "{tmp}/data"\n[database]\nurl = "{url}"\n[digest]\nenabled = false\n'
                       '[log]\nlevel = "warning"\nformat = "json"\n'
                       f'[[users]]\nemail = "{USER}"\ndropbox = "crm+bench@example.org"\n')
        os.environ["MAILCRM_CONFIG"] = str(cfg)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        subprocess.run([sys.executable, "-m", "mailcrm", "status", "--json"], env=env, check=True,
                       capture_output=True, timeout=300)  # the schema, outside the count
        sys.path.insert(0, str(ROOT))
        real_stdout = sys.stdout
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the import's own --json report
        try:
            got = measure(args.maildir)
        finally:
            sys.stdout.close()
            sys.stdout = real_stdout
    count = sum(1 for d in ("cur", "new") for _ in (args.maildir / d).iterdir())
    statements: collections.Counter[str] = got["statements"]  # type: ignore[assignment]
    flushes: collections.Counter[str] = got["flushes"]  # type: ignore[assignment]
    cpu = float(got["cpu"])  # type: ignore[arg-type]
    report = {"messages": count, "cpu_ms_per_msg": round(cpu * 1000 / count, 3),
              "statements_per_msg": round(sum(statements.values()) / count, 2),
              "flushes": sum(flushes.values()), "statements": dict(statements.most_common(args.top)),
              "flush_callers": dict(flushes.most_common(args.top))}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{count} messages: importer CPU {report['cpu_ms_per_msg']} ms/msg (parser processes not counted), "
          f"{report['statements_per_msg']} statements/msg, {report['flushes']} flushes")
    for kind, n in statements.most_common(args.top):
        print(f"  {n:7d}  {kind}")
    print("flushes by caller:")
    for where, n in flushes.most_common(args.top):
        print(f"  {n:7d}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
