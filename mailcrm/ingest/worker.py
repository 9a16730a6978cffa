"""The ingest worker: claim -> parse (parser processes) -> app.apply (one transaction) -> done -> ack the source.

One worker thread per daemon is the only writer to the store.  A message that fails is
released and retried (transient: database down) up to ``ingest.max_attempts``, or
quarantined at once with its reason (policy refusal, a bug on that message) so one bad
message never stops the loop (house rule 5).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailcrm import log
from mailcrm.app import apply, leads
from mailcrm.config import Config
from mailcrm.errors import IngestError, StoreUnavailable, Transient, Unprocessable
from mailcrm.ingest.parse_pool import Parsed, ParseFailed, ParsePool, ParserDied, Pending
from mailcrm.ingest.parse_settings import ParseSettings
from mailcrm.outcomes import Outcome
from mailcrm.parse.facts import MessageFacts
from mailcrm.spool import CorruptItem, SpoolItem, WorkQueue

if TYPE_CHECKING:
    from mailcrm.trust.dns import Lookup

QUARANTINED = Outcome.QUARANTINED
RETRY = Outcome.RETRY
AckCallback = Callable[[SpoolItem, Outcome], None]
BATCH = 50  # items per transaction (group commit); each item has its own savepoint


@dataclass
class Prepared:
    """A claimed batch read from the spool, its parsing under way."""

    items: list[SpoolItem]
    raws: dict[str, bytes]
    failures: dict[str, IngestError]  # item id -> why an item could not be read
    parsing: Pending


class Worker:
    """Processes spooled messages into the store."""

    def __init__(self, cfg: Config, factory: sessionmaker[Session], spool: WorkQueue,
                 parser: ParsePool | None = None) -> None:
        self.cfg = cfg
        self.parser = parser or ParsePool(0)
        self.settings = ParseSettings.of(cfg)
        self.factory = factory
        self.spool = spool
        self.log = log.get("mailcrm.worker")
        self._callbacks: list[AckCallback] = []
        self.processed = 0
        self.last_error: str | None = None
        self._backoff = 0.0
        self._users: dict[str, int | None] = {}  # user email -> User.id cache for the pipeline
        self._dns = (cfg.security.dns_server, cfg.security.dns_timeout)
        self._lookup: Lookup | None = None
        self.authserv_ids = frozenset(cfg.security.trusted_authserv_ids)
        self.arc_sealers = frozenset(cfg.security.trusted_arc_sealers)

    @property
    def lookup(self) -> Lookup:
        """The DNS lookups of sender checks, made on first use (an import checks no sender and so
        never loads dnspython, dkimpy and pyspf)."""
        if self._lookup is None:
            from mailcrm.trust.dns import lookup_for
            self._lookup = lookup_for(*self._dns)
        return self._lookup

    def on_committed(self, callback: AckCallback) -> None:
        """Call ``callback(item, outcome)`` after each item's transaction committed (IMAP acks)."""
        self._callbacks.append(callback)

    # -- items --------------------------------------------------------------------------
    def process_item(self, item: SpoolItem) -> Outcome:
        """Process one claimed item; returns stored | duplicate | skipped | quarantined | retry."""
        return self.process_batch([item])[item.id]

    def process_batch(self, items: list[SpoolItem]) -> dict[str, Outcome]:
        """Read, parse and apply ``items`` (see ``apply``)."""
        return self.apply(self.prepare(items))

    def prepare(self, items: list[SpoolItem]) -> Prepared:
        """Read the items' bytes and start parsing them (in a parser process when there is one)."""
        raws: dict[str, bytes] = {}
        failures: dict[str, IngestError] = {}
        for item in items:
            if item.corrupt is not None:  # not sidecar + bytes: quarantined as it is, never retried
                failures[item.id] = Unprocessable(item.corrupt)
                continue
            try:
                raws[item.id] = item.read()
            except CorruptItem as exc:
                failures[item.id] = Unprocessable(str(exc))
            except OSError as exc:
                failures[item.id] = Transient(f"cannot read spool file: {exc}")
        for item in items:
            if item.id in raws and item.meta.kind == "mail":
                self._verify(item, raws[item.id])
        # Form submissions are not mail: they skip the parser processes (see ``_apply_intake``).
        jobs = [(item.meta, raws[item.id]) for item in items if item.id in raws and item.meta.kind == "mail"]
        return Prepared(items, raws, failures, self.parser.submit(self.settings, jobs))

    def _verify(self, item: SpoolItem, raw: bytes) -> None:
        """Check the sender of mail from outside (DKIM, SPF, DMARC, ARC); the verdict goes in the sidecar.

        A verdict from an earlier attempt is kept unless a DNS failure spoiled it.  Lookups
        time out after ``security.dns_timeout`` seconds each; a failure is a temperror verdict.
        """
        meta = item.meta
        if meta.evidence is None:
            return
        if meta.auth is not None and "temperror" not in {meta.auth.get(k) for k in ("dkim", "spf", "dmarc", "arc")}:
            return
        from mailcrm.trust.verify import verify_spooled
        try:
            meta.auth = verify_spooled(raw, meta.mail_from, meta.evidence, self.lookup, self.authserv_ids,
                                       self.arc_sealers)
        except Exception as exc:  # noqa: BLE001 - a verifier bug must not stop ingest: no verdict, no proof
            self.log.error("sender verification failed", spool_id=item.id, error=f"{type(exc).__name__}: {exc}")
            meta.auth = {"dkim": "temperror", "spf": "temperror", "dmarc": "temperror", "arc": "temperror",
                         "aligned": False, "errors": [f"verifier: {type(exc).__name__}"]}

    def apply(self, prepared: Prepared) -> dict[str, Outcome]:
        """Apply a prepared batch in one transaction (group commit).

        First without savepoints, one flush for the whole batch; if any message in it fails,
        that transaction is rolled back and the batch is applied again with one savepoint per
        message, so the failing one rolls back alone and is quarantined (or retried) after the
        commit.  A database outage rolls back the batch and every item is retried later.  Spool
        removal and source acks happen only after the commit.
        """
        results: dict[str, Outcome] = {}
        intake = [i for i in prepared.items if i.meta.kind == "intake"]
        items = [i for i in prepared.items if i.meta.kind != "intake"]
        if intake:
            results.update(self._apply_intake(intake, prepared))
        parsed: dict[str, Parsed] = dict(zip([i.id for i in items if i.id in prepared.raws and i.meta.kind == "mail"],
                                             prepared.parsing.result()))
        failures: dict[str, IngestError] = {k: v for k, v in prepared.failures.items() if k in {i.id for i in items}}
        for item in items:
            if item.id in prepared.raws and item.meta.kind != "mail":
                failures[item.id] = Unprocessable(f"unknown spool item kind {item.meta.kind!r}")
        if not items:
            return results
        facts: dict[str, MessageFacts] = {}
        for item_id, result in parsed.items():
            if isinstance(result, MessageFacts):
                facts[item_id] = result
            else:
                failures[item_id] = _parse_failure(result)
        try:
            jobs, failures = apply.apply_batch(self.factory, self.cfg, items, prepared.raws, facts,
                                               failures, self._users)
        except (StoreUnavailable, OperationalError, Transient) as exc:
            self._backoff = min(30.0, max(0.5, self._backoff * 2))
            for item in items:
                results[item.id] = self._retry(item, f"store unavailable: {exc}")
            return results
        self._backoff = 0.0
        for item in items:
            if item.id in failures:
                results[item.id] = self._settle_failure(item, failures[item.id])
                continue
            job = jobs[item.id]
            outcome = job.outcome or Outcome.STORED
            self.log.info("ingested", spool_id=item.id, source=item.meta.source, outcome=outcome,
                          kind=job.plan.kind if job.plan else None,
                          message=job.facts.message_id if job.facts else None)
            self.spool.done(item)
            self.processed += 1
            results[item.id] = outcome
            # An answer owed (job.reply) was written to answer_outbox in the same transaction: the
            # daemon's answer sender, kicked by _notify, mails it and retries it (app/answer_outbox.py).
            self._notify(item, outcome)
        return results

    def _settle_failure(self, item: SpoolItem, failure: IngestError) -> Outcome:
        """A message that could not be applied: retried later when the failure is transient, else quarantined."""
        if isinstance(failure, Transient):
            return self._retry(item, str(failure))
        self._quarantine(item, str(failure))
        return Outcome.QUARANTINED

    def _apply_intake(self, items: list[SpoolItem], prepared: Prepared) -> dict[str, Outcome]:
        """Form submissions: one transaction through app.leads, then done / retry / quarantine."""
        results: dict[str, Outcome] = {}
        raws = {i.id: prepared.raws[i.id] for i in items if i.id in prepared.raws}
        try:
            outcomes, failures = leads.apply_intake(self.factory, self.cfg, items, raws)
        except (StoreUnavailable, OperationalError, Transient) as exc:
            self._backoff = min(30.0, max(0.5, self._backoff * 2))
            return {item.id: self._retry(item, f"store unavailable: {exc}") for item in items}
        failures = {**{k: v for k, v in prepared.failures.items() if k in raws or k in {i.id for i in items}},
                    **failures}
        for item in items:
            failure = failures.get(item.id)
            if failure is not None:
                results[item.id] = self._settle_failure(item, failure)
                continue
            outcome = outcomes.get(item.id, Outcome.STORED)
            self.log.info("ingested", spool_id=item.id, source=item.meta.source, outcome=outcome, kind="lead")
            self.spool.done(item)
            self.processed += 1
            results[item.id] = outcome
            self._notify(item, outcome)
        return results

    def _retry(self, item: SpoolItem, error: str) -> Outcome:
        self.last_error = error
        if item.meta.attempts + 1 >= self.cfg.ingest.max_attempts:
            self._quarantine(item, f"gave up after {item.meta.attempts + 1} attempts: {error}")
            return QUARANTINED
        self.log.warning("ingest retry", spool_id=item.id, error=error, attempts=item.meta.attempts + 1)
        try:
            self.spool.release(item, error)
        except OSError as exc:  # disk full: the item is given back all the same, its attempt not counted
            self.log.error("release failed", spool_id=item.id, error=str(exc))
        return RETRY

    def _quarantine(self, item: SpoolItem, reason: str) -> None:
        self.log.warning("quarantined", spool_id=item.id, source=item.meta.source, reason=reason)
        try:
            self.spool.quarantine(item, reason)
        except OSError as exc:
            # Cannot move it (disk full, permissions): it stays in incoming/, unclaimed, and is
            # tried again after the backoff; the others go on.
            self.last_error = f"cannot quarantine {item.id}: {exc}"
            self._backoff = min(30.0, max(0.5, self._backoff * 2))
            self.log.error("quarantine failed", spool_id=item.id, error=str(exc))
            return
        self._notify(item, QUARANTINED)

    def _notify(self, item: SpoolItem, outcome: Outcome) -> None:
        for cb in self._callbacks:
            try:
                cb(item, outcome)
            except Exception as exc:  # noqa: BLE001 - an ack failure must not stop ingest
                self.log.warning("ack callback failed", error=str(exc), spool_id=item.id)

    # -- loops ----------------------------------------------------------------------------
    def process_available(self, limit: int | None = None) -> int:
        """Process everything currently in the spool (or ``limit`` items); returns items handled.

        Batches are claimed and their parsing started ahead of the one being applied, one batch
        per parser process (at least one), so every parser process works while this thread writes.
        """
        handled = 0
        claimed = 0  # items handled plus those claimed ahead
        ahead: deque[Prepared] = deque()
        depth = max(1, self.parser.processes)
        try:
            while True:
                while len(ahead) <= depth and (not limit or claimed < limit):
                    batch = self.spool.claim(limit=self._want(limit, claimed))
                    if not batch:
                        break
                    ahead.append(self.prepare(batch))
                    claimed += len(batch)
                if not ahead:
                    return handled
                current = ahead.popleft()
                results = self.apply(current)
                handled += len(current.items)
                if all(r == RETRY for r in results.values()):
                    return handled  # nothing progressed: let the caller back off
                if limit and handled >= limit:
                    return handled
        finally:
            for prepared in ahead:
                self.spool.unclaim(prepared.items)  # claimed ahead but not applied: back to the queue

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


def _parse_failure(error: BaseException) -> IngestError:
    """The error for a message the parser could not turn into facts (quarantined with it)."""
    if isinstance(error, RecursionError):
        return Unprocessable("message nested too deeply (recursion limit)")
    if isinstance(error, (ParseFailed, ParserDied)):
        return Unprocessable(f"error: {error}")
    return Unprocessable(f"error: {type(error).__name__}: {str(error)[:300]}")


def start_thread(worker: Worker, stop: threading.Event) -> threading.Thread:
    """Run the worker in its own (non-daemon) thread so shutdown can join it."""
    t = threading.Thread(target=worker.run, args=(stop,), name="mailcrm-worker", daemon=False)
    t.start()
    return t


def wait_idle(spool: WorkQueue, timeout: float = 10.0) -> bool:
    """Wait until the spool is empty (tests and imports)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if spool.depth() == 0:
            return True
        time.sleep(0.05)
    return spool.depth() == 0
