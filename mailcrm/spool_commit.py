"""Group commit for the listeners' spool writes: one fsync for what arrives within a window.

The SMTP and web listeners call ``await GroupCommit.put(raw, meta)``.  The first item of a group
starts a timer of ``window`` seconds; the items that arrive meanwhile join it; then one thread
writes them all as one spool file (``Spool.put_many``: one file fsync, one directory fsync) and
every waiting caller gets its id.  A caller answers 250 / 2xx only after that, so each answer
still follows the fsync that covers its bytes (house rule 1); a lone item waits at most the
window.  A full group (``max_items`` or ``max_bytes``) is written at once.  ``window = 0``: each
item is written by itself (``Spool.put``), as before group commit.

``on_written`` is a test hook: called in the writing thread with the ids of a group right after
its directory fsync returned, before any caller is told.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mailcrm.spool import Spool, SpoolMeta

DEFAULT_MAX_ITEMS = 64
DEFAULT_MAX_BYTES = 32 * 1024 * 1024


class GroupCommit:
    """Batches concurrent puts on one event loop into group files."""

    def __init__(self, spool: Spool, window: float, max_items: int = DEFAULT_MAX_ITEMS,
                 max_bytes: int = DEFAULT_MAX_BYTES, wake: bool = True) -> None:
        self.spool = spool
        self.wake = wake  # False: the caller wakes the worker itself (the web intake, once per burst)
        self.window = window
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.on_written: Callable[[list[str]], None] | None = None
        self.groups = 0  # groups written (for tests and the bench)
        self.items = 0
        self._pending: list[tuple[bytes, SpoolMeta, asyncio.Future[str]]] = []
        self._bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[list[str]]] = set()  # the loop keeps only weak references

    async def put(self, raw: bytes, meta: SpoolMeta) -> str:
        """Spool ``raw`` durably with whatever else arrives within the window; its id."""
        if self.window <= 0:
            ids = await asyncio.to_thread(self._write, [(raw, meta)])
            return ids[0]
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[str] = loop.create_future()
        self._pending.append((raw, meta, fut))
        self._bytes += len(raw)
        if len(self._pending) >= self.max_items or self._bytes >= self.max_bytes:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.window, self._flush)
        return await fut

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending, self._bytes = self._pending, [], 0
        if not batch:
            return
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._write, [(r, m) for r, m, _ in batch]))
        self._tasks.add(task)

        def settle(done: asyncio.Task[list[str]]) -> None:
            self._tasks.discard(done)
            for k, (_raw, _meta, fut) in enumerate(batch):
                if fut.done():
                    continue  # the caller went away (its session closed)
                if done.cancelled():
                    fut.cancel()
                elif done.exception() is not None:
                    fut.set_exception(done.exception())  # type: ignore[arg-type]
                else:
                    fut.set_result(done.result()[k])

        task.add_done_callback(settle)

    def _write(self, entries: list[tuple[bytes, SpoolMeta]]) -> list[str]:
        ids = self.spool.put_many(entries, wake=self.wake)
        self.groups += 1
        self.items += len(entries)
        if self.on_written is not None:
            self.on_written(ids)
        return ids
