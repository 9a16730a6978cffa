"""The ingest worker: claim -> pipeline (one transaction) -> commit -> done -> ack the source.

One worker thread per daemon is the only writer to the store.  A message that fails is
released and retried (transient: database down) up to ``ingest.max_attempts``, or
quarantined at once with its reason (policy refusal, a bug on that message) so one bad
message never stops the loop (house rule 5).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailcrm import log
from mailcrm.config import Config
from mailcrm.errors import Rejected, StoreUnavailable, Transient
from mailcrm.ingest import pipeline
from mailcrm.ingest.parse_pool import Parsed, ParseFailed, ParsePool, ParserDied, Pending
from mailcrm.parse.addresses import domain_of
from mailcrm.parse.facts import MessageFacts
from mailcrm.spool import Spool, SpoolItem
from mailcrm.store import db
from mailcrm.store import repository as repo
from mailcrm.store.deals import ThreadDeals

QUARANTINED = "quarantined"
RETRY = "retry"
AckCallback = Callable[[SpoolItem, str], None]
BATCH = 50  # items per transaction (group commit); each item has its own savepoint


@dataclass
class Prepared:
    """A claimed batch read from the spool, its parsing under way."""

    items: list[SpoolItem]
    raws: dict[str, bytes]
    failures: dict[str, str]  # item id -> "retry:..." for items that could not be read
    parsing: Pending


class Worker:
    """Processes spooled messages into the store."""

    def __init__(self, cfg: Config, factory: sessionmaker[Session], spool: Spool,
                 parser: ParsePool | None = None) -> None:
        self.cfg = cfg
        self.parser = parser or ParsePool(0)
        self.settings = pipeline.ParseSettings.of(cfg)
        self.factory = factory
        self.spool = spool
        self.log = log.get("mailcrm.worker")
        self._callbacks: list[AckCallback] = []
        self.processed = 0
        self.last_error: str | None = None
        self._backoff = 0.0
        self._users: dict[str, int | None] = {}  # user email -> User.id cache for the pipeline

    def on_committed(self, callback: AckCallback) -> None:
        """Call ``callback(item, outcome)`` after each item's transaction committed (IMAP acks)."""
        self._callbacks.append(callback)

    # -- items --------------------------------------------------------------------------
    def process_item(self, item: SpoolItem) -> str:
        """Process one claimed item; returns stored | duplicate | skipped | quarantined | retry."""
        return self.process_batch([item])[item.id]

    def process_batch(self, items: list[SpoolItem]) -> dict[str, str]:
        """Read, parse and apply ``items`` (see ``apply``)."""
        return self.apply(self.prepare(items))

    def prepare(self, items: list[SpoolItem]) -> Prepared:
        """Read the items' bytes and start parsing them (in a parser process when there is one)."""
        raws: dict[str, bytes] = {}
        failures: dict[str, str] = {}
        for item in items:
            try:
                raws[item.id] = item.read()
            except OSError as exc:
                failures[item.id] = f"retry:cannot read spool file: {exc}"
        jobs = [(item.meta, raws[item.id]) for item in items if item.id in raws]
        return Prepared(items, raws, failures, self.parser.submit(self.settings, jobs))

    def apply(self, prepared: Prepared) -> dict[str, str]:
        """Apply a prepared batch in one transaction (group commit).

        First without savepoints, one flush for the whole batch; if any message in it fails,
        that transaction is rolled back and the batch is applied again with one savepoint per
        message, so the failing one rolls back alone and is quarantined (or retried) after the
        commit.  A database outage rolls back the batch and every item is retried later.  Spool
        removal and source acks happen only after the commit.
        """
        items = prepared.items
        results: dict[str, str] = {}
        parsed: dict[str, Parsed] = dict(zip([i.id for i in items if i.id in prepared.raws],
                                             prepared.parsing.result()))
        try:
            try:
                jobs, failures = self._transaction(prepared, parsed, careful=False)
            except _BatchFailed:
                jobs, failures = self._transaction(prepared, parsed, careful=True)
        except (StoreUnavailable, OperationalError, Transient) as exc:
            self._backoff = min(30.0, max(0.5, self._backoff * 2))
            for item in items:
                results[item.id] = self._retry(item, f"store unavailable: {exc}")
            return results
        self._backoff = 0.0
        for item in items:
            if item.id in failures:
                action, _, reason = failures[item.id].partition(":")
                if action == "retry":
                    results[item.id] = self._retry(item, reason)
                else:
                    self._quarantine(item, reason)
                    results[item.id] = QUARANTINED
                continue
            job = jobs[item.id]
            outcome = job.outcome or pipeline.STORED
            self.log.info("ingested", spool_id=item.id, source=item.meta.source, outcome=outcome,
                          kind=job.plan.kind if job.plan else None,
                          message=job.facts.message_id if job.facts else None)
            self.spool.done(item)
            self.processed += 1
            results[item.id] = outcome
            self._notify(item, outcome)
        return results

    def _transaction(self, prepared: Prepared, parsed: dict[str, Parsed],
                     careful: bool) -> tuple[dict[str, pipeline.Job], dict[str, str]]:
        """One transaction over the batch; returns the jobs and item id -> "action:reason" failures.

        ``careful=False``: no savepoints; the first message that fails (or a failing final
        flush) raises ``_BatchFailed`` after rolling everything back.
        """
        failures = dict(prepared.failures)
        jobs: dict[str, pipeline.Job] = {}
        with db.transaction(self.factory) as session:
            # SQLite: take the write lock up front.  A deferred transaction that read first
            # fails at once ("database is locked", no busy wait) when an IMAP thread commits a
            # checkpoint meanwhile; BEGIN IMMEDIATE waits for busy_timeout instead.
            session.connection(execution_options={"immediate": True})
            # One lookup of the batch's identities instead of one per message; a message
            # applied below joins the set, so a second copy in the same batch is a duplicate.
            facts_list = [f for f in parsed.values() if isinstance(f, MessageFacts)]
            stored = repo.stored_identities(session, [f.identity for f in facts_list])
            # Likewise the contacts of the people named (one query, not one per participant).
            people = [a for f in facts_list for a in _people(f)]
            known = repo.contacts_by_address(session, people)
            # And the domain companies that new contacts among them would join.
            repo.companies_by_domain(session, [domain_of(a) for a in people if a not in known])
            # And which of the batch's threads belong to a deal (most belong to none).
            thread_keys = [f.thread_key for f in facts_list]
            threads = ThreadDeals.load(session, thread_keys)
            for item in prepared.items:
                if item.id in failures:
                    continue
                facts = parsed[item.id]
                failure = _parse_failure(facts)
                if failure is not None:
                    failures[item.id] = failure
                    continue
                assert isinstance(facts, MessageFacts)
                savepoint = session.begin_nested() if careful else None
                try:
                    jobs[item.id] = pipeline.ingest(session, self.cfg, item.meta, prepared.raws[item.id],
                                                    users=self._users, facts=facts, stored=stored, known=known,
                                                    threads=threads)
                    if savepoint is not None:
                        session.flush()  # a failing insert is this message's, inside its savepoint
                        savepoint.commit()
                    if jobs[item.id].outcome == pipeline.STORED:
                        stored.add(facts.identity)
                except (StoreUnavailable, OperationalError):
                    raise
                except Rejected as exc:  # refused by the plan stage, before it wrote anything
                    if savepoint is not None:
                        savepoint.rollback()
                    failures[item.id] = _failure(exc)
                except Exception as exc:  # noqa: BLE001 - one bad message must never stop the worker
                    if savepoint is None:
                        raise _BatchFailed() from exc
                    savepoint.rollback()
                    failures[item.id] = _failure(exc)
                    # Contacts and deal threads the failed message created are gone with its savepoint.
                    known = known.still_in(session)
                    threads = ThreadDeals.load(session, thread_keys)
            if not careful:
                try:
                    session.flush()  # the batch's messages, bytes and participants together
                except (StoreUnavailable, OperationalError):
                    raise
                except Exception as exc:  # noqa: BLE001 - e.g. a concurrent writer stored one first
                    raise _BatchFailed() from exc
        return jobs, failures

    def _retry(self, item: SpoolItem, error: str) -> str:
        self.last_error = error
        if item.meta.attempts + 1 >= self.cfg.ingest.max_attempts:
            self._quarantine(item, f"gave up after {item.meta.attempts + 1} attempts: {error}")
            return QUARANTINED
        self.log.warning("ingest retry", spool_id=item.id, error=error, attempts=item.meta.attempts + 1)
        self.spool.release(item, error)
        return RETRY

    def _quarantine(self, item: SpoolItem, reason: str) -> None:
        self.log.warning("quarantined", spool_id=item.id, source=item.meta.source, reason=reason)
        self.spool.quarantine(item, reason)
        self._notify(item, QUARANTINED)

    def _notify(self, item: SpoolItem, outcome: str) -> None:
        for cb in self._callbacks:
            try:
                cb(item, outcome)
            except Exception as exc:  # noqa: BLE001 - an ack failure must not stop ingest
                self.log.warning("ack callback failed", error=str(exc), spool_id=item.id)

    # -- loops ----------------------------------------------------------------------------
    def process_available(self, limit: int | None = None) -> int:
        """Process everything currently in the spool (or ``limit`` items); returns items handled.

        The next batch is claimed and its parsing started before the current one is applied, so
        a parser process works while this thread writes.
        """
        handled = 0
        ahead: Prepared | None = None
        try:
            while True:
                if ahead is None:
                    batch = self.spool.claim(limit=self._want(limit, handled))
                    if not batch:
                        return handled
                    ahead = self.prepare(batch)
                current, ahead = ahead, None
                after = handled + len(current.items)
                if not limit or after < limit:
                    more = self.spool.claim(limit=self._want(limit, after))
                    if more:
                        ahead = self.prepare(more)
                results = self.apply(current)
                handled = after
                if all(r == RETRY for r in results.values()):
                    return handled  # nothing progressed: let the caller back off
                if limit and handled >= limit:
                    return handled
        finally:
            if ahead is not None:
                self.spool.unclaim(ahead.items)  # claimed ahead but not applied: back to the queue

    @staticmethod
    def _want(limit: int | None, handled: int) -> int:
        return BATCH if not limit else min(BATCH, limit - handled)

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; finishes the current transaction before returning."""
        self.log.info("worker started", pending=self.spool.depth())
        while not stop.is_set():
            try:
                self.process_available()
            except Exception as exc:  # noqa: BLE001 - keep the loop alive whatever happens
                self.log.error("worker loop error", error=f"{type(exc).__name__}: {exc}")
                self._backoff = min(30.0, max(1.0, self._backoff * 2))
            if self._backoff:
                stop.wait(self._backoff)
            self.spool.wait(1.0)
        self.log.info("worker stopped", processed=self.processed)


class _BatchFailed(Exception):
    """A message failed in a batch applied without savepoints: apply it again, carefully."""


def _people(facts: MessageFacts) -> list[str]:
    """The addresses a message names (author, recipients, a forwarded original's people)."""
    fwd = facts.forwarded
    groups = [(facts.from_,), facts.to, facts.cc, (fwd.from_,) + fwd.to + fwd.cc if fwd else ()]
    return [a.address for group in groups for a in group if a is not None]


def _parse_failure(facts: object) -> str | None:
    """The "quarantine:..." failure for a message the parser could not turn into facts."""
    if isinstance(facts, (ParseFailed, ParserDied)):
        return f"quarantine:error: {facts}"
    if isinstance(facts, RecursionError):
        return "quarantine:message nested too deeply (recursion limit)"
    if isinstance(facts, BaseException):
        return f"quarantine:error: {type(facts).__name__}: {str(facts)[:300]}"
    return None


def _failure(exc: Exception) -> str:
    """The "action:reason" for a message whose savepoint failed with ``exc``."""
    if isinstance(exc, Rejected):
        return f"quarantine:rejected: {exc}"
    if isinstance(exc, IntegrityError):
        # A concurrent writer (another daemon, IMAP + SMTP copies) won the race.
        return f"retry:conflict: {str(exc.orig).splitlines()[0] if exc.orig else exc}"
    if isinstance(exc, RecursionError):
        return "quarantine:message nested too deeply (recursion limit)"
    tb = traceback.extract_tb(exc.__traceback__)[-1]
    where = f"{tb.filename.rsplit('/', 1)[-1]}:{tb.lineno}"
    return f"quarantine:error: {type(exc).__name__}: {str(exc)[:300]} at {where}"


def start_thread(worker: Worker, stop: threading.Event) -> threading.Thread:
    """Run the worker in its own (non-daemon) thread so shutdown can join it."""
    t = threading.Thread(target=worker.run, args=(stop,), name="mailcrm-worker", daemon=False)
    t.start()
    return t


def wait_idle(spool: Spool, timeout: float = 10.0) -> bool:
    """Wait until the spool is empty (tests and imports)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if spool.depth() == 0:
            return True
        time.sleep(0.05)
    return spool.depth() == 0
