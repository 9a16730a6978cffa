"""Import throughput and memory: `mailcrm import maildir` against notmuch, mu and a bare stdlib sink, in one run.

On one corpus from bench/corpus.py (written once to a temp Maildir; ~15 KB median, ru/en, forwards, replies,
signatures, bounces, auto-replies, HTML, attachments, half of it sent by the user):

  notmuch   `notmuch new` into a fresh database (HOME and NOTMUCH_CONFIG in a temp dir)
  mu        `mu init` + `mu index` (timed: the index) with --muhome in a temp dir
  bare      stdlib `email.message_from_bytes(policy=default)` of every file + one SQLite executemany
            of its headers (in a child process, like the others)
  sqlite    `mailcrm import maildir` into a fresh SQLite store
  postgres  the same into a fresh database on PostgreSQL (created and dropped here)

Each runs as a child process; messages/s counts the whole command (startup included), peak RSS is
the largest sum of the RSS of the command and all its descendants (the parser processes), polled
from /proc every 20 ms.  A peer that is not installed (Debian `notmuch`, `maildir-utils`) is skipped
with a note.  Targets (issue 26): mailcrm on SQLite >= 1.5x notmuch and >= 0.5x mu; PostgreSQL >=
0.8x SQLite; peak RSS <= notmuch's.  Nothing is asserted.

    python bench/import.py [--count 5000] [--seed 1] [--pg postgresql://postgres@127.0.0.1:5432/test]
                           [--no-pg] [--only sqlite,postgres] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import corpus  # noqa: E402

USER = "me@example.org"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"

BARE = textwrap.dedent('''
    import os, sqlite3, sys
    from email import message_from_bytes, policy
    root, db = sys.argv[1], sys.argv[2]
    files = sorted(os.path.join(root, d, f) for d in ("cur", "new") for f in os.listdir(os.path.join(root, d)))
    rows = []
    for path in files:
        with open(path, "rb") as fh:
            raw = fh.read()
        m = message_from_bytes(raw, policy=policy.default)
        rows.append((str(m["Message-ID"] or ""), str(m["From"] or ""), str(m["To"] or ""),
                     str(m["Subject"] or ""), str(m["Date"] or ""), len(raw)))
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE m (message_id TEXT, sender TEXT, rcpt TEXT, subject TEXT, date TEXT, size INT)")
    with con:
        con.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.close()
    print(len(rows))
''')


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def _tree_rss(pid: int) -> int:
    """RSS in bytes of ``pid`` and all its descendants."""
    kids = _children()
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(kids.get(p, []))
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return total


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run ``cmd``; (seconds, peak RSS of its process tree in bytes, stdout).  Exits on failure."""
    peak = 0
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda: out.append(proc.stdout.read() if proc.stdout else "")),
               threading.Thread(target=lambda: err.append(proc.stderr.read() if proc.stderr else ""))]
    for r in readers:
        r.start()
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    for r in readers:
        r.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({proc.returncode}): {''.join(err)[-2000:]}")
    return seconds, peak, "".join(out)


def bench_notmuch(maildir: Path, tmp: Path) -> tuple[float, int] | None:
    """(seconds, peak RSS) of `notmuch new`, or None when notmuch is not installed."""
    exe = shutil.which("notmuch")
    if exe is None:
        return None
    home = tmp / "notmuch-home"
    home.mkdir()
    cfg = home / ".notmuch-config"
    (tmp / "notmuch-db").mkdir()
    cfg.write_text(f"[database]\npath={tmp / 'notmuch-db'}\nmail_root={maildir}\n[user]\nname=Me\n"
                   f"primary_email={USER}\n[new]\ntags=unread;inbox;\nignore=\n[maildir]\nsynchronize_flags=true\n")
    env = dict(os.environ, HOME=str(home), NOTMUCH_CONFIG=str(cfg))
    seconds, peak, _ = run_measured([exe, "new", "--quiet"], env)
    return seconds, peak


def bench_mu(maildir: Path, tmp: Path) -> tuple[float, int] | None:
    """(seconds, peak RSS) of `mu index` after `mu init`, or None when mu is not installed."""
    exe = shutil.which("mu")
    if exe is None:
        return None
    home = tmp / "mu-home"
    env = dict(os.environ, HOME=str(tmp), XDG_CACHE_HOME=str(tmp / "cache"), XDG_CONFIG_HOME=str(tmp / "config"))
    subprocess.run([exe, "init", f"--muhome={home}", f"--maildir={maildir}", f"--my-address={USER}"],
                   env=env, check=True, capture_output=True, timeout=120)
    seconds, peak, _ = run_measured([exe, "index", f"--muhome={home}", "--quiet"], env)
    return seconds, peak


def bench_bare(maildir: Path, tmp: Path) -> tuple[float, int]:
    """(seconds, peak RSS) of the stdlib parse + one executemany."""
    script = tmp / "bare.py"
    script.write_text(BARE)
    seconds, peak, _ = run_measured([sys.executable, str(script), str(maildir), str(tmp / "bare.sqlite3")])
    return seconds, peak


def mailcrm_config(tmp: Path, url: str) -> Path:
    """A config with the corpus's user and the given store under ``tmp``."""
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "config.toml"
    cfg.write_text(f'data_dir = "{tmp / "data"}"\n[database]\nurl = "{url}"\n[digest]\nenabled = false\n'
                   '[log]\nlevel = "warning"\nformat = "json"\n'
                   f'[[users]]\nemail = "{USER}"\ndropbox = "crm+bench@example.org"\n')
    return cfg


def bench_mailcrm(maildir: Path, tmp: Path, url: str) -> tuple[float, int, dict[str, object]]:
    """(seconds, peak RSS, --json report) of `mailcrm import maildir` into a fresh store at ``url``."""
    cfg = mailcrm_config(tmp, url)
    env = dict(os.environ, MAILCRM_CONFIG=str(cfg), PYTHONPATH=str(ROOT))
    # the schema first (outside the timing: a real store is migrated once)
    subprocess.run([sys.executable, "-m", "mailcrm", "status", "--json"], env=env, check=True, capture_output=True,
                   timeout=300)
    seconds, peak, out = run_measured([sys.executable, "-m", "mailcrm", "import", "maildir", str(maildir),
                                       "--json"], env)
    return seconds, peak, json.loads(out)


class PgDatabase:
    """A fresh database on the PostgreSQL server of ``url`` (dropped on exit)."""

    def __init__(self, url: str) -> None:
        import psycopg
        self.psycopg = psycopg
        self.admin = url.replace("postgresql+psycopg://", "postgresql://")
        self.name = f"mailcrm_import_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        base, _, _ = self.admin.rpartition("/")
        self.url = f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{self.name}"

    def __enter__(self) -> "PgDatabase":
        with self.psycopg.connect(self.admin, autocommit=True, connect_timeout=5) as c:
            c.execute(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *exc: object) -> None:
        with self.psycopg.connect(self.admin, autocommit=True, connect_timeout=5) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=5000, help="messages in the corpus (default 5000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL server (a database is created and dropped there)")
    ap.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL run")
    ap.add_argument("--only", default="", help="comma-separated subset of notmuch,mu,bare,sqlite,postgres")
    ap.add_argument("--maildir", default="", help="use (and keep) this corpus Maildir; written when missing")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args()
    only = set(filter(None, a.only.split(","))) or {"notmuch", "mu", "bare", "sqlite", "postgres"}
    if a.no_pg:
        only.discard("postgres")
    say = (lambda *x: print(*x, file=sys.stderr)) if a.json else print
    res: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mailcrm-import-bench-") as tmpdir:
        tmp = Path(tmpdir)
        maildir = Path(a.maildir) if a.maildir else tmp / "Maildir"
        if not (maildir / "cur").is_dir():
            t0 = time.perf_counter()
            size = corpus.write_maildir(maildir, a.count, a.seed, USER)
            say(f"corpus: {a.count} messages, {size / 1e6:.1f} MB, written in {time.perf_counter() - t0:.1f}s")
        count = sum(1 for d in ("cur", "new") for _ in (maildir / d).iterdir())

        def record(name: str, seconds: float, peak: int) -> None:
            res[name] = {"seconds": round(seconds, 2), "msg_per_s": round(count / seconds, 1),
                         "peak_rss_mb": round(peak / 2**20, 1)}
            say(f"{name:9} {count / seconds:8.1f} msg/s  {seconds:7.1f} s  peak RSS {peak / 2**20:6.1f} MB")

        if "notmuch" in only:
            r = bench_notmuch(maildir, tmp)
            if r is None:
                notes.append("notmuch is not installed (Debian package notmuch): skipped")
            else:
                record("notmuch", *r)
        if "mu" in only:
            r = bench_mu(maildir, tmp)
            if r is None:
                notes.append("mu is not installed (Debian package maildir-utils): skipped")
            else:
                record("mu", *r)
        if "bare" in only:
            record("bare", *bench_bare(maildir, tmp))
        reports: dict[str, dict[str, object]] = {}
        if "sqlite" in only:
            s, p, rep = bench_mailcrm(maildir, tmp / "sqlite", f"sqlite:///{tmp / 'sqlite' / 'crm.sqlite3'}")
            record("sqlite", s, p)
            reports["sqlite"] = rep
        if "postgres" in only:
            try:
                with PgDatabase(a.pg) as db:
                    s, p, rep = bench_mailcrm(maildir, tmp / "pg", db.url)
                record("postgres", s, p)
                reports["postgres"] = rep
            except Exception as exc:  # noqa: BLE001 - an unreachable server skips the run with a note
                if isinstance(exc, SystemExit):
                    raise
                notes.append(f"PostgreSQL at {a.pg} not usable ({type(exc).__name__}: {exc}): skipped")

    def ratio(x: str, y: str) -> float | None:
        if x in res and y in res:
            return round(res[x]["msg_per_s"] / res[y]["msg_per_s"], 2)
        return None

    out = {
        "count": count,
        "results": res,
        "notmuch_ratio": ratio("sqlite", "notmuch"),
        "mu_ratio": ratio("sqlite", "mu"),
        "bare_ratio": ratio("sqlite", "bare"),
        "postgres_vs_sqlite": ratio("postgres", "sqlite"),
        "peak_rss_mb": max((res[k]["peak_rss_mb"] for k in ("sqlite", "postgres") if k in res), default=None),
        "notmuch_peak_rss_mb": res.get("notmuch", {}).get("peak_rss_mb"),
        "mu_peak_rss_mb": res.get("mu", {}).get("peak_rss_mb"),
        "outcomes": {k: {o: v.get(o) for o in ("stored", "duplicate", "skipped", "quarantined", "private")}
                     for k, v in reports.items()},
        "notes": notes,
    }
    if a.json:
        print(json.dumps(out))
        return 0
    for n in notes:
        print(f"note: {n}")
    for k, rep in out["outcomes"].items():  # type: ignore[union-attr]
        print(f"{k} outcomes: {rep}")
    for label, key, target in (("mailcrm sqlite / notmuch new", "notmuch_ratio", ">= 1.5"),
                               ("mailcrm sqlite / mu index", "mu_ratio", ">= 0.5"),
                               ("mailcrm sqlite / bare stdlib+executemany", "bare_ratio", ""),
                               ("mailcrm postgres / mailcrm sqlite", "postgres_vs_sqlite", ">= 0.8")):
        v = out[key]
        print(f"{label:42} {'-' if v is None else f'{v:.2f}':>6}" + (f"  (target {target})" if target else ""))
    print(f"peak RSS mailcrm {out['peak_rss_mb']} MB vs notmuch {out['notmuch_peak_rss_mb']} MB (target <=)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
