"""`mailcrm quarantine retry`: quarantined items go back to the spool and are processed now.

With no daemon on the spool, the items (and only they) are processed in this process by a
worker of its own; with a running daemon, which owns the spool's claims, they are handed back
to it and their outcomes awaited.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from mailcrm.app import cases
from mailcrm.app.handle import open_store
from mailcrm.config import Config
from mailcrm.ingest.worker import Worker
from mailcrm.spool import Spool, SpoolItem


def retry_quarantined(cfg: Config, spool: Spool, items: Sequence[SpoolItem]) -> dict[str, str]:
    """Requeue ``items`` and process them; returns item id -> outcome (or pending/processed)."""
    ids = {i.id for i in items}
    outcomes: dict[str, str] = {}
    if spool.become_worker():
        # No daemon on this spool: process the items here, and only them.
        for it in items:
            spool.requeue(it)
        store = open_store(cfg)
        cases.sync_users(store, cfg)
        worker = Worker(cfg, store.factory, spool)
        worker.on_committed(lambda it, outcome: outcomes.__setitem__(it.id, outcome))
        for it in spool.claim(limit=len(ids), only=ids):
            worker.process_item(it)
        spool.stop_being_worker()
        store.close()
        return outcomes
    # A running daemon owns the spool's claims: hand the items back to it and wait.
    hand_back(spool, items)
    return _await_daemon(spool, ids)


def hand_back(spool: Spool, items: Sequence[SpoolItem]) -> list[str]:
    """Move quarantined ``items`` back to the spool for the running daemon's worker (the web's "retry":
    it runs inside the daemon, so it does not wait); returns their ids."""
    for it in items:
        spool.requeue(it)
    return [it.id for it in items]


def _await_daemon(spool: Spool, ids: set[str], timeout: float = 120.0) -> dict[str, str]:
    """Outcomes of requeued items that the running daemon processes: done, quarantined, or pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and ids & set(spool.pending_ids()):
        time.sleep(0.2)
    pending = ids & set(spool.pending_ids())
    quarantined = {q.id for q in spool.quarantined()}
    return {i: "pending" if i in pending else "quarantined" if i in quarantined else "processed" for i in sorted(ids)}
