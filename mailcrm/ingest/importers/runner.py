"""The shared loop of mail imports: spool a batch -> advance the checkpoint -> let the worker apply it.

Imports use their own spool directory (``<data_dir>/import-spool``) so a running daemon's
worker never races the CLI's worker for the same files; the pipeline is the same.  A
re-run first finishes what an interrupted run left in that spool, then continues after the
checkpoint; the identity key makes anything seen twice a "duplicate", never a second row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from mailcrm.config import Config
from mailcrm.ingest import imap_state
from mailcrm.ingest.worker import Worker
from mailcrm.spool import Spool, SpoolItem, SpoolMeta

BATCH = 200
Progress = Callable[[int, int | None], None]  # (messages done, total or None)


@dataclass
class ImportReport:
    """What an import run did (the --json document)."""

    source: str
    checkpoint: str
    found: int = 0  # messages read from the source in this run
    resumed_from: Any = None
    outcomes: Counter[str] = field(default_factory=Counter)  # stored | duplicate | skipped | quarantined
    private: int = 0  # inbox-role messages not read (unknown senders)

    def to_json(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {"source": self.source, "checkpoint": self.checkpoint, "found": self.found,
                "resumed_from": self.resumed_from, "private": self.private,
                "stored": self.outcomes["stored"], "duplicate": self.outcomes["duplicate"],
                "skipped": self.outcomes["skipped"], "quarantined": self.outcomes["quarantined"]}


class ImportSession:
    """A CLI-process worker over the import spool, counting outcomes for one report."""

    def __init__(self, cfg: Config, factory: sessionmaker[Session], report: ImportReport) -> None:
        self.cfg = cfg
        self.factory = factory
        self.report = report
        self.spool = Spool(cfg.data_path() / "import-spool")
        self.spool.recover()
        self.worker = Worker(cfg, factory, self.spool)
        self.worker.on_committed(self._count)

    def _count(self, item: SpoolItem, outcome: str) -> None:
        self.report.outcomes[outcome] += 1

    def drain(self) -> int:
        """Apply everything spooled so far (leftovers of an interrupted run included)."""
        total = 0
        while True:
            n = self.worker.process_available()
            total += n
            if n == 0 or self.spool.depth() == 0:
                return total

    def put(self, raw: bytes, meta: SpoolMeta) -> None:
        """Spool one message durably."""
        self.spool.put(raw, meta)
        self.report.found += 1


def run_positional(
    session: ImportSession,
    items: Iterable[tuple[Any, bytes]],
    meta: Callable[[], SpoolMeta],
    progress: Progress | None = None,
    total: int | None = None,
) -> ImportReport:
    """Feed ``(position, raw)`` pairs in batches; the checkpoint keeps the last position spooled."""
    report = session.report
    session.drain()
    batch: list[tuple[Any, bytes]] = []

    def flush() -> None:
        if not batch:
            return
        for _, raw in batch:
            session.put(raw, meta())
        # The batch is fsync'd in the spool: the position may move past it.
        imap_state.save(session.factory, report.checkpoint, state={"position": batch[-1][0]})
        batch.clear()
        session.drain()
        if progress is not None:
            progress(report.found, total)

    for pos, raw in items:
        batch.append((pos, raw))
        if len(batch) >= BATCH:
            flush()
    flush()
    imap_state.save(session.factory, report.checkpoint, state={"complete": True})
    return report
