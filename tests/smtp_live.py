"""A live SMTP listener (the daemon's protocol factory) on an ephemeral loopback port, in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.smtp import SMTP

from mailcrm import config
from mailcrm.sources.smtp import DropboxHandler, make_protocol_factory
from mailcrm.sources.smtp_guard import SmtpGuard
from mailcrm.spool import Spool


@dataclass
class Listener:
    """What a test needs of a running listener."""

    port: int
    guard: SmtpGuard
    spool: Spool
    sessions: set[SMTP]
    loop: asyncio.AbstractEventLoop
    handler: DropboxHandler | None = None


def config_text(tmp: Path, smtp_extra: str = "", users_extra: str = "") -> str:
    """A config for a loopback listener with one user (password "right" when users_extra sets the file)."""
    return (f'data_dir = "{tmp / "data"}"\n[smtp]\nhost = "127.0.0.1"\nport = 0\n{smtp_extra}\n'
            f'[[users]]\nemail = "me@example.org"\ndropbox = "crm+secret@example.org"\n{users_extra}\n')


@contextmanager
def live_listener(tmp: Path, text: str) -> Iterator[Listener]:
    """Serve ``text``'s config on 127.0.0.1:<ephemeral> until the block ends; everything is stopped after."""
    cfg = config.parse(text, str(tmp / "config.toml"))
    loop = asyncio.new_event_loop()
    spool = Spool(cfg.spool_path())
    sessions: set[SMTP] = set()
    handler = DropboxHandler(cfg, spool)
    factory = make_protocol_factory(cfg, handler, sessions)
    server = loop.run_until_complete(loop.create_server(factory, host="127.0.0.1", port=0))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, name="smtp-live", daemon=True)
    thread.start()
    try:
        yield Listener(port, factory.guard, spool, sessions, loop, handler)
    finally:
        async def _stop() -> None:
            server.close()
            for s in list(sessions):
                if s.transport is not None:
                    s.transport.close()
            await asyncio.sleep(0.05)

        asyncio.run_coroutine_threadsafe(_stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
