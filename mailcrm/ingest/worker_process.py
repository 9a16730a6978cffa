"""The ingest worker in a process of its own, supervised by the daemon.

The SMTP and web listeners only spool (fsync, then 250 / 2xx); everything that costs CPU after
that (reading the spool, sender verification, parsing, the store's transaction) runs in this
process, so a receiving loop never waits for the writer's GIL (issue 26: 3 ms CPU per message on
one GIL, 0.76 ms of it socket writes waiting).  The spool is the hand-off and it is durable, so
the worker process may die at any moment (a crash, SIGKILL, the OOM killer) and lose nothing
that was answered: the daemon starts a new one, with a backoff when it keeps dying.

- Daemon -> worker: wake-ups, one byte per "new items" on a pipe written without blocking (a full
  pipe already means "wake up"; the worker also polls the spool every second), and SIGTERM to
  drain: the worker finishes its transaction and what is in the spool, then exits (killed after
  ``DRAIN_SECONDS``: what it had not stored stays spooled for the next start).
- Worker -> daemon: "ready" once the store is open (migrated, users in step with the config), or
  the one-line reason it cannot be opened (``serve`` then exits 2 before it listens); then one
  message per committed item (id, sidecar, outcome) for the daemon's own commit callbacks.
- The store-side services (IMAP sources, answers by mail, lead notices, repeat warnings, the
  digest scheduler: ``worker_services.py``) run in this process too, beside the worker: the
  front end holds no store and imports neither SQLAlchemy nor the app (issue 26: daemon RSS).
- The worker dies with the daemon (PR_SET_PDEATHSIG on Linux, and a thread watching the parent
  everywhere), so a SIGKILLed daemon never leaves a worker claiming from its spool behind it.
- The process is *spawned* (never forked: the daemon runs threads); it opens and migrates the
  store, takes no spool lock (the daemon holds it for both) and never runs the spool's recovery
  (the daemon's listeners may be writing temp files at that moment).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from multiprocessing import resource_tracker
from typing import Any

from mailcrm import log
from mailcrm.config import Config
from mailcrm.errors import ConfigError, MailcrmError, StoreUnavailable
from mailcrm.outcomes import Outcome
from mailcrm.spool import INCOMING, Spool, SpoolItem, SpoolMeta

AckCallback = Callable[[SpoolItem, Outcome], None]
DRAIN_SECONDS = 30.0  # SIGTERM -> the worker finishes; after this it is killed (its items stay spooled)
BACKOFF_START, BACKOFF_CAP = 0.5, 30.0  # restarts of a worker that keeps dying
STABLE_SECONDS = 60.0  # a worker that ran this long died of something new: restart at once
PR_SET_PDEATHSIG = 1


class WorkerDidNotStart(MailcrmError):
    """The first worker process exited before it was ready, without saying why (its log says)."""


class WorkerProcess:
    """Starts the worker process, restarts it when it dies, drains it on stop; relays its commits."""

    def __init__(self, cfg: Config, spool: Spool) -> None:
        self.cfg = cfg
        self.spool = spool
        self.log = log.get("mailcrm.worker")
        self.restarts = 0
        self.pid: int | None = None  # the worker process now running (tests and the bench read it)
        self._ctx = multiprocessing.get_context("spawn")
        self._callbacks: list[AckCallback] = []
        self._wake_lock = threading.Lock()
        self._wake_conn: multiprocessing.connection.Connection | None = None
        self.started = threading.Event()  # set once the first worker process runs
        self._ready = threading.Event()  # the first worker process opened the store, or could not
        self._start_error: MailcrmError | None = None

    def on_committed(self, callback: AckCallback) -> None:
        """Call ``callback(item, outcome)`` in the daemon after each item's transaction committed."""
        self._callbacks.append(callback)

    def start(self, stop: threading.Event) -> threading.Thread:
        """Start the supervisor thread (it spawns the worker process); ``stop`` drains and ends both."""
        self.spool.notify = self.wake
        t = threading.Thread(target=self._supervise, args=(stop,), name="mailcrm-worker-supervisor", daemon=False)
        t.start()
        return t

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the first worker process has opened the store; raise why it could not.

        ``ConfigError`` / ``StoreUnavailable`` carry the worker's one line; a worker that died
        before saying either is ``WorkerDidNotStart``, pointing at the log.
        """
        if not self._ready.wait(timeout):
            raise StoreUnavailable(f"the worker process did not open the store within {timeout:.0f} s")
        if self._start_error is not None:
            raise self._start_error

    def wake(self) -> None:
        """Tell the worker process there are new items (never blocks; thread-safe)."""
        with self._wake_lock:
            conn = self._wake_conn
            if conn is None:
                return
            try:
                os.write(conn.fileno(), b"w")
            except (BlockingIOError, OSError):
                pass  # a full pipe is a wake-up already; a dead worker is being replaced

    # -- the supervisor thread -----------------------------------------------------------------
    def _supervise(self, stop: threading.Event) -> None:
        backoff = BACKOFF_START
        proc: Any = None
        reader: threading.Thread | None = None
        try:
            while not stop.is_set():
                started = time.monotonic()
                proc, reader = self._spawn()
                self.started.set()
                while not stop.is_set() and proc.is_alive():
                    multiprocessing.connection.wait([proc.sentinel], timeout=0.2)
                if stop.is_set():
                    break
                reader.join(5)
                if not self._ready.is_set():  # it died before it could open the store
                    self._start_error = WorkerDidNotStart(
                        f"the worker process exited ({proc.exitcode}) while starting; see the log above")
                    self._ready.set()
                if time.monotonic() - started > STABLE_SECONDS:
                    backoff = BACKOFF_START
                self.log.error("worker process died", pid=proc.pid, exitcode=proc.exitcode, restart_in=backoff)
                stop.wait(backoff)
                backoff = min(BACKOFF_CAP, backoff * 2)
                self.restarts += 1
        finally:
            if proc is not None:
                self._drain(proc)
            if reader is not None:
                reader.join(5)
            with self._wake_lock:
                if self._wake_conn is not None:
                    self._wake_conn.close()
                    self._wake_conn = None

    def _spawn(self) -> tuple[Any, threading.Thread]:
        wake_r, wake_w = self._ctx.Pipe(duplex=False)
        events_r, events_w = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=run_child, args=(self.cfg, str(self.spool.root), wake_r, events_w, os.getpid()),
                                 name="mailcrm-worker", daemon=False)  # not daemonic: it has parser children
        # The worker starts with SIGTERM/SIGINT blocked (the mask survives exec): a stop that
        # comes while it is still importing waits until its handler is in place, so it drains
        # instead of dying half-way.  multiprocessing's resource tracker is started first: starting
        # it unblocks both signals in the calling thread.
        resource_tracker.ensure_running()
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        proc.start()
        wake_r.close()
        events_w.close()
        os.set_blocking(wake_w.fileno(), False)
        with self._wake_lock:
            old, self._wake_conn = self._wake_conn, wake_w
        if old is not None:
            old.close()
        self.pid = proc.pid
        self.log.info("worker process started", pid=proc.pid)
        reader = threading.Thread(target=self._relay, args=(events_r,), name="mailcrm-worker-events", daemon=True)
        reader.start()
        self.wake()  # items spooled while no worker ran
        return proc, reader

    def _drain(self, proc: Any) -> None:
        """SIGTERM: the worker finishes; killed after ``DRAIN_SECONDS`` (what it held stays spooled)."""
        if proc.is_alive():
            proc.terminate()
            proc.join(DRAIN_SECONDS)
        if proc.is_alive():
            self.log.warning("worker process did not drain in time; killed", pid=proc.pid)
            proc.kill()
            proc.join(5)

    def _relay(self, conn: multiprocessing.connection.Connection) -> None:
        """Run the commit callbacks for what the worker process reports, until it goes away."""
        root = self.spool.root / INCOMING
        while True:
            try:
                event = conn.recv()
            except (EOFError, OSError):
                break
            if event[0] == "ready":
                self._ready.set()
                continue
            if event[0] == "error":
                kind, text = event[1], event[2]
                if not self._ready.is_set():
                    self._start_error = ConfigError(text) if kind == "config" else StoreUnavailable(text)
                    self._ready.set()
                self.log.error("worker cannot open the store", error=text)
                continue
            _tag, item_id, meta, outcome = event
            item = SpoolItem(item_id, root / f"{item_id}.msg", SpoolMeta.from_json(meta))
            for cb in self._callbacks:
                try:
                    cb(item, Outcome(outcome))
                except Exception as exc:  # noqa: BLE001 - an ack failure must not stop the relay
                    self.log.warning("ack callback failed", error=str(exc), spool_id=item_id)
        conn.close()


# -- the worker process ----------------------------------------------------------------------------
def run_child(cfg: Config, spool_root: str, wake: multiprocessing.connection.Connection,
              events: multiprocessing.connection.Connection, parent_pid: int) -> None:
    """The worker process's main: store, parser pool, worker loop until SIGTERM (or the daemon dies)."""
    _die_with_parent(parent_pid)
    stop = threading.Event()
    spool = Spool(spool_root)

    def terminate(_sig: int, _frame: Any) -> None:
        stop.set()
        spool.wake()

    if cfg.ingest.worker_nice:
        # Below the listeners: a burst is answered at the speed of receiving and stored right
        # after (the spool holds it meanwhile).  Its parser processes inherit it.
        try:
            os.nice(cfg.ingest.worker_nice)
        except OSError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the daemon decides
    signal.signal(signal.SIGTERM, terminate)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})  # see _spawn
    log.setup(cfg.log.level, cfg.log.format)
    # Imported here: the daemon process never needs the worker's modules (parse, app, trust, store).
    from mailcrm.app import cases
    from mailcrm.ingest.parse_pool import ParsePool
    from mailcrm.ingest.worker import Worker
    from mailcrm.ingest.worker_services import WorkerServices

    send_lock = threading.Lock()

    def send(event: tuple[Any, ...]) -> None:
        with send_lock:
            try:
                events.send(event)
            except OSError:
                pass  # the daemon is gone; this process is about to follow it

    services: WorkerServices | None = None
    try:
        store = _open_migrated_apart(cfg)
        users = cases.sync_users(store, cfg)
        parser = ParsePool(cfg.ingest.parser_processes())
        worker = Worker(cfg, store.factory, spool, parser)
        worker.on_committed(lambda item, outcome: send(("committed", item.id, asdict(item.meta), str(outcome))))
        services = WorkerServices(cfg, store.factory, spool, worker, stop)
        services.start()
    except (ConfigError, StoreUnavailable) as exc:
        send(("error", "config" if isinstance(exc, ConfigError) else "store", str(exc)))
        if services is not None:
            services.stop()
        events.close()
        sys.exit(3)
    log.get("mailcrm.worker").info("store ready", db=store.engine.dialect.name, users=len(users))
    send(("ready",))
    threading.Thread(target=_read_wakes, args=(wake, spool), name="wake", daemon=True).start()
    try:
        worker.run(stop)
        worker.process_available()  # drain: what was spooled before the stop (the daemon bounds the time)
    finally:
        wlog = log.get("mailcrm.worker")
        services.stop()
        wlog.info("services stopped")
        parser.close()
        wlog.info("parser closed")
        store.engine.dispose()
        events.close()


def _open_migrated_apart(cfg: Config) -> Any:
    """The store, at the newest schema; a migration that is due runs in a throwaway process.

    At HEAD (every start but the first and an upgrade's) this is one read of ``alembic_version``.
    Otherwise a spawned process runs ``open_store`` with the migration and exits, so Alembic and
    the migration scripts (and what they import: ~10 MB) never load into this long-lived process;
    it also says why a database cannot be opened, in the one line ``open_store`` gives.
    """
    from sqlalchemy.exc import OperationalError

    from mailcrm.app.handle import open_store
    from mailcrm.store import migrate

    store = open_store(cfg, migrate_schema=False)
    try:
        due = migrate.current_revision(store.engine) != migrate.HEAD
    except OperationalError:
        due = True  # cannot connect: the migrating process says why
    if due:
        store.engine.dispose()
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            problem = pool.apply(_migrate, (cfg,))
        if problem is not None:
            kind, text = problem
            raise ConfigError(text) if kind == "config" else StoreUnavailable(text)
    return store


def _migrate(cfg: Config) -> tuple[str, str] | None:
    """(In a throwaway process) open the store with its migration; the one-line problem, or None."""
    from mailcrm.app.handle import open_store

    try:
        open_store(cfg).engine.dispose()
    except ConfigError as exc:
        return "config", str(exc)
    except StoreUnavailable as exc:
        return "store", str(exc)
    return None


def _read_wakes(conn: multiprocessing.connection.Connection, spool: Spool) -> None:
    """Turn the daemon's wake bytes into wake-ups of this process's worker loop."""
    fd = conn.fileno()
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            return
        if not data:
            return  # the daemon closed its end (a restart, or it died)
        spool.wake()


def _die_with_parent(parent_pid: int) -> None:
    """Exit when the daemon exits, however it goes (the kernel's parent-death signal where there is one)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)  # the daemon died before we got here
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), name="parent-watch", daemon=True).start()


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)
