"""Several daemons starting at once on one empty database: migrations and user sync serialise."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import func, select

from mailcrm.store import db
from mailcrm.store.models import User

START = """
import sys, time
from mailcrm import config
from mailcrm.store import db, migrate, repository
cfg = config.parse('[[users]]\\nemail = "me@example.org"\\ndropbox = "crm+race@example.org"\\n', "race.toml")
engine = db.make_engine(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all start together
migrate.upgrade(engine)
with db.transaction(db.session_factory(engine)) as s:
    repository.sync_users(s, cfg)
print("ok")
"""


def test_concurrent_start_on_one_database(db_url: str) -> None:
    import time

    at = str(time.time() + 3)
    procs = [subprocess.Popen([sys.executable, "-c", START, db_url, at], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-500:] for _, err in results]
    engine = db.make_engine(db_url)
    with db.transaction(db.session_factory(engine)) as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1
    engine.dispose()
