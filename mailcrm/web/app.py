"""The ASGI app factory: Starlette routes from each web module, served by uvicorn in the daemon's loop.

``create_app(ctx)`` builds the app from ``ROUTE_MODULES`` (each module's ``routes(ctx)``) plus any
``extra_routes``, so pages and a JSON API are added as modules beside ``intake`` without touching
the daemon.  ``WebServer`` runs uvicorn's server on an existing loop (start/stop, no signal
handlers of its own: the daemon owns SIGTERM and stops the listener in its drain order).
"""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from mailcrm import log
from mailcrm.app.handle import Store
from mailcrm.config import Config, WebConfig
from mailcrm.errors import ConfigError
from mailcrm.spool import Spool

# Modules under mailcrm.web that contribute routes, in order (each has ``routes(ctx)``).
ROUTE_MODULES: tuple[str, ...] = ("intake", "auth", "pages", "today_page", "companies_page", "quarantine_page",
                                  "charts_page", "deals_board", "bounces_page", "api")


@dataclass
class WebContext:
    """What request handlers may use: the config, the spool, the store's session factory, hooks."""

    cfg: Config
    spool: Spool
    factory: sessionmaker[Session]
    on_spooled: Callable[[], None] = lambda: None  # wake the worker (it also polls the spool)
    state: dict[str, Any] = field(default_factory=dict)  # per-module caches (token table, rate buckets)

    @property
    def store(self) -> Store:
        """The store the use cases take (engine and session factory)."""
        return Store(self.factory.kw["bind"], self.factory)

    @property
    def web(self) -> WebConfig:
        """The [web] settings (defaults when the section is absent)."""
        return self.cfg.web or WebConfig()

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address: the peer, or X-Forwarded-For's last hop when the peer is a trusted proxy."""
        peer = peer or "unknown"
        if forwarded_for and self.web.trusted_proxies and _in_networks(peer, self.web.trusted_proxies):
            hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
            if hops:
                return hops[-1][:100]
        return peer


def _in_networks(addr: str, networks: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


def create_app(ctx: WebContext, extra_routes: Sequence[BaseRoute] = (),
               middleware: Sequence[Middleware] = ()) -> Starlette:
    """The ASGI app: routes of ``ROUTE_MODULES`` then ``extra_routes``."""
    routes: list[BaseRoute] = []
    for name in ROUTE_MODULES:
        routes.extend(importlib.import_module(f"mailcrm.web.{name}").routes(ctx))
    routes.extend(extra_routes)
    from mailcrm.web.auth import SecurityHeaders

    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders), *middleware])
    app.state.ctx = ctx
    return app


class WebServer:
    """uvicorn on the running loop: ``await start()``, ``await stop()``."""

    def __init__(self, app: Starlette, host: str, port: int, tls: tuple[str, str] | None = None) -> None:
        self.config = uvicorn.Config(app, host=host, port=port, lifespan="off", log_config=None, access_log=False,
                                     server_header=False, timeout_graceful_shutdown=10,
                                     ssl_certfile=tls[0] if tls else None, ssl_keyfile=tls[1] if tls else None)
        self.server = uvicorn.Server(self.config)
        self.log = log.get("mailcrm.web")
        self.bound: tuple[str, int] | None = None

    async def start(self) -> None:
        """Bind and serve (ConfigError when the address is taken)."""
        self.config.load()
        self.server.lifespan = self.config.lifespan_class(self.config)
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so (accepted ones inherit
        # it); without it a response written in two sends waits for the client's delayed ACK (~40 ms).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(f"web listen {self.config.host}:{self.config.port}: {exc.strerror} "
                              "(set [web] listen or --web to a free HOST:PORT)") from None
        sock.listen(self.config.backlog)
        sock.setblocking(False)
        self.sock = sock
        await self.server.startup(sockets=[sock])
        name = sock.getsockname()
        self.bound = (name[0], name[1])
        self.log.info("web listening", host=name[0], port=name[1])

    async def stop(self) -> None:
        """Stop accepting, let answers in flight finish (up to the graceful timeout)."""
        if self.server.started:
            await self.server.shutdown(sockets=[self.sock])
            await asyncio.sleep(0)
