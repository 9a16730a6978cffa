"""Parsing off the writer's thread: spawn'd parser processes turn raw bytes into MessageFacts.

Parsing is pure CPU (bytes -> frozen dataclasses) and costs more than storing; in the worker
thread it holds the GIL that the SMTP loop needs to answer clients.  A small process pool
parses the next batch while the worker thread stores the current one.

- Processes are *spawned* (never forked: the daemon runs IMAP and scheduler threads).
- They ignore SIGINT/SIGTERM: the daemon decides when they stop (after the worker drained),
  and they exit on their own when the daemon dies (a thread watches the parent).
- A message whose parsing raises comes back as that exception (the worker quarantines it,
  as it would in-thread).  A message that kills its parser process (a C-level crash, the
  kernel's OOM killer) breaks the pool: the batch is parsed again one message at a time in a
  fresh pool, and a message that breaks it again is reported as ``ParserDied`` (quarantined),
  so one poisonous message neither stops ingest nor takes the daemon down with it.  A batch
  that takes longer than ``timeout`` is treated the same way (its processes are killed), so a
  message that sends a parser into a near-endless loop is quarantined instead of stalling ingest.
- ``processes = 0`` parses in the calling thread (small machines; tests of the plain path).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from mailcrm import log
from mailcrm.ingest.parse_settings import ParseSettings
from mailcrm.parse.facts import DEFAULT_PHONE_REGION, MessageFacts
from mailcrm.spool import SpoolMeta

Parsed = MessageFacts | BaseException  # one message's facts, or what parsing raised


class ParserDied(RuntimeError):
    """The parser process died on this message (it killed a fresh pool twice)."""


class ParseFailed(RuntimeError):
    """Parsing raised: the exception's type, text and where, as plain text (tracebacks do not
    cross process boundaries)."""


def _child_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log.quiet_libraries(sys.stderr)  # flufl.bounce's detector tracebacks are defects, not log lines
    # The pool's queues hand each child both ends of their pipes, so a parent that dies (SIGKILL,
    # a crash) never shows up as EOF: watch the parent itself and leave with it.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), name="parent-watch", daemon=True).start()


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


def parse_many(settings: ParseSettings, jobs: Sequence[tuple[SpoolMeta, bytes]]) -> list[Parsed]:
    """Parse each message; an exception is returned in its place, never raised (pure)."""
    out: list[Parsed] = []
    for meta, raw in jobs:
        try:
            out.append(settings.parse(meta, raw))
        except RecursionError as exc:
            out.append(exc)
        except Exception as exc:  # noqa: BLE001 - reported per message; the worker quarantines it
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
            out.append(ParseFailed(f"{type(exc).__name__}: {str(exc)[:300]}{where}"))
    return out


class Pending:
    """A batch being parsed; ``result()`` waits for it (parsing again if the pool broke or hung)."""

    def __init__(self, pool: "ParsePool", settings: ParseSettings, jobs: list[tuple[SpoolMeta, bytes]],
                 future: Future[list[Parsed]] | None) -> None:
        self._pool = pool
        self._settings = settings
        self._jobs = jobs
        self._future = future

    def result(self) -> list[Parsed]:
        """The facts (or exception) of each message, in order."""
        if self._future is None:
            return parse_many(self._settings, self._jobs)
        try:
            return self._future.result(timeout=self._pool.timeout)
        except (BrokenProcessPool, FutureTimeout) as exc:
            log.get("mailcrm.parser").warning("parser process lost; parsing the batch one by one",
                                              reason="timeout" if isinstance(exc, FutureTimeout) else "died",
                                              messages=len(self._jobs))
            return self._pool.reparse_one_by_one(self._settings, self._jobs)
        except Exception:  # noqa: BLE001 - e.g. a result that would not unpickle: parse here instead
            return parse_many(self._settings, self._jobs)


class ParsePool:
    """A pool of parser processes (or none: parse in the caller's thread).

    ``timeout``: seconds a batch (and then each message alone) may take before its parser process
    is killed; a message that exceeds it alone is ``ParserDied`` (a hang must not stop ingest).
    """

    def __init__(self, processes: int, timeout: float = 120.0) -> None:
        self.processes = max(0, processes)
        self.timeout = timeout
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_child_init)
        return self._executor

    def submit(self, settings: ParseSettings, jobs: list[tuple[SpoolMeta, bytes]]) -> Pending:
        """Start parsing ``jobs`` (never raises); in-thread pools parse when ``result()`` is called."""
        if not self.processes or not jobs:
            return Pending(self, settings, jobs, None)
        for _ in range(2):
            try:
                return Pending(self, settings, jobs, self._pool().submit(parse_many, settings, jobs))
            except Exception:  # noqa: BLE001 - a broken or shut-down pool: a fresh one, else parse in-thread
                self._reset()
        return Pending(self, settings, jobs, None)

    def reparse_one_by_one(self, settings: ParseSettings, jobs: list[tuple[SpoolMeta, bytes]]) -> list[Parsed]:
        """After a crash or hang: each message alone in a fresh pool; the culprit is ParserDied.

        When a fresh pool cannot even start (no working parser process on this machine), parsing
        moves into the calling thread for good instead of blaming the messages.
        """
        out: list[Parsed] = []
        for job in jobs:
            if not self.processes:
                out.extend(parse_many(settings, [job]))
                continue
            self._reset()
            try:
                out.extend(self._pool().submit(parse_many, settings, [job]).result(timeout=self.timeout))
            except FutureTimeout:
                out.append(ParserDied(f"parsing took longer than {self.timeout:g} s; the parser process was killed"))
            except BrokenProcessPool:
                if self._starts():
                    out.append(ParserDied("the parser process died on this message"))
                else:
                    log.get("mailcrm.parser").warning("no parser process can start here; parsing in the worker thread")
                    self.processes = 0
                    out.extend(parse_many(settings, [job]))
        self._reset()
        return out

    def _starts(self) -> bool:
        """Whether a fresh pool runs an empty job."""
        self._reset()
        try:
            self._pool().submit(parse_many, ParseSettings(frozenset(), frozenset(), DEFAULT_PHONE_REGION), []).result(timeout=60)
            return True
        except Exception:  # noqa: BLE001 - any failure to start means no usable parser process
            self._reset()
            return False

    def _reset(self) -> None:
        """Kill the current processes (they may be stuck on a message) and forget the pool."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())
        for proc in processes:
            if proc.is_alive():
                proc.kill()
        executor.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            proc.join(5)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the parser processes (after the worker finished); kill them if they do not stop."""
        executor = self._executor
        if executor is None:
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        self._executor = None
