"""POST /intake/<token>: a web form's submission, spooled with fsync before the 2xx.

Checks, in order: the token (404, compared in constant time against every form's token), the
client's rate (429), CORS for browser posts (only origins listed on the form), the size (413),
the body (400 with a JSON error naming the problem), the honeypot (200, nothing stored).  Then
the raw body, its content type, the client's address and the time go into the spool
(``Spool.put`` fsyncs file and directory) and only then the answer is 200; the ingest worker
turns the item into a contact, a deal and a timeline entry (``app.leads``).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections import deque

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mailcrm import log
from mailcrm.app import forms as form_store
from mailcrm.domain.leads import honeypot_filled
from mailcrm.parse.form_fields import FormBodyError, media_type, read_body
from mailcrm.spool import SpoolMeta
from mailcrm.spool_commit import GroupCommit
from mailcrm.web.app import WebContext

WAKE_DELAY = 0.05  # seconds: submissions in a burst are committed together (group commit), not one by one
TOKEN_REFRESH = 2.0  # seconds: a form added, rotated or removed by the CLI takes effect this soon
WINDOW = 60.0  # rate limit window (seconds)
_log = log.get("mailcrm.web.intake")


class TokenTable:
    """Active forms' tokens, reloaded from the store at most every ``TOKEN_REFRESH`` seconds."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.tokens: list[tuple[bytes, str]] = []
        self.loaded = 0.0
        self.lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None  # the periodic reload

    async def refresh(self, force: bool = False) -> None:
        """Reload when stale (one reload at a time)."""
        async with self.lock:
            if not force and time.monotonic() - self.loaded < TOKEN_REFRESH:
                return
            rows = await asyncio.to_thread(form_store.active_tokens, self.ctx.factory)
            self.tokens = [(t.encode(), name) for t, name in rows]
            self.loaded = time.monotonic()

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh(force=True)
        except Exception as exc:  # noqa: BLE001 - the old table serves until the store answers again
            _log.warning("form tokens not reloaded", error=f"{type(exc).__name__}: {exc}")

    def match(self, token: str) -> str | None:
        """The form of ``token``: every stored token is compared (hmac.compare_digest), no early exit."""
        given = token.encode()[:200]
        found: str | None = None
        for stored, name in self.tokens:
            if hmac.compare_digest(stored, given):
                found = name
        return found

    async def form_of(self, token: str) -> str | None:
        """The form of ``token``; no store work on the request path.

        The first request loads the table and starts a task that reloads it every
        ``TOKEN_REFRESH`` seconds from then on, so a rotated token is refused within seconds.
        """
        if self.task is None:
            await self.refresh()
            self.task = asyncio.get_running_loop().create_task(self._refresh_every())
        return self.match(token)

    async def _refresh_every(self) -> None:
        while True:
            await asyncio.sleep(TOKEN_REFRESH)
            await self._refresh_quietly()


class RateLimiter:
    """At most ``limit`` requests per client address in a sliding minute."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.hits: dict[str, deque[float]] = {}

    def allow(self, client: str) -> bool:
        """Count a request from ``client``; False when over the limit."""
        now = time.monotonic()
        q = self.hits.setdefault(client, deque())
        while q and now - q[0] > WINDOW:
            q.popleft()
        if len(q) >= self.limit:
            return False
        q.append(now)
        if len(self.hits) > 10000:  # forget idle clients
            for key in [k for k, v in self.hits.items() if not v or now - v[-1] > WINDOW]:
                del self.hits[key]
        return True


class Waker:
    """Wakes the worker ``WAKE_DELAY`` after the first submission of a burst (one wake per burst)."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.pending = False

    def soon(self) -> None:
        """Schedule one wake unless one is already scheduled."""
        if self.pending:
            return
        self.pending = True
        asyncio.get_running_loop().call_later(WAKE_DELAY, self._wake)

    def _wake(self) -> None:
        self.pending = False
        self.ctx.spool.wake()
        self.ctx.on_spooled()


def _error(status: int, problem: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"ok": False, "error": problem}, status_code=status, headers=headers)


def _cors(ctx: WebContext, form: str, origin: str | None) -> tuple[bool, dict[str, str]]:
    """(allowed, headers): a request without Origin is not a browser's cross-site post."""
    if not origin:
        return True, {}
    allowed = ctx.cfg.form(form).cors_origins
    if origin.rstrip("/") in [o.rstrip("/") for o in allowed] or "*" in allowed:
        return True, {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    # A form with no origins listed takes plain HTML posts from anywhere, but never answers scripts.
    return not allowed, {"Vary": "Origin"}


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The intake route (POST, and OPTIONS for CORS preflight)."""
    tokens = TokenTable(ctx)
    limiter = RateLimiter(ctx.web.rate_limit)
    ctx.state["intake.tokens"] = tokens
    waker = Waker(ctx)
    committer = GroupCommit(ctx.spool, ctx.cfg.ingest.group_commit_ms / 1000, wake=False)

    async def intake(request: Request) -> Response:
        token = request.path_params["token"]
        form = await tokens.form_of(token)
        if form is None:
            return _error(404, "not found")
        origin = request.headers.get("origin")
        allowed, cors = _cors(ctx, form, origin)
        if request.method == "OPTIONS":
            if not allowed or not origin or "Access-Control-Allow-Origin" not in cors:
                return Response(status_code=403, headers={"Vary": "Origin"})
            return Response(status_code=204, headers={**cors, "Access-Control-Allow-Methods": "POST, OPTIONS",
                                                      "Access-Control-Allow-Headers": "Content-Type",
                                                      "Access-Control-Max-Age": "600"})
        if not allowed:
            return _error(403, f"origin {origin} is not allowed for this form", {"Vary": "Origin"})
        client = ctx.client_address(request.client.host if request.client else None,
                                    request.headers.get("x-forwarded-for"))
        if not limiter.allow(client):
            return _error(429, "too many submissions from this address; try again in a minute",
                          {**cors, "Retry-After": "60"})
        try:
            body = await _read_limited(request, ctx.web.max_body)
        except ClientDisconnect:
            return Response(status_code=400)
        if body is None:
            return _error(413, f"body larger than {ctx.web.max_body} bytes", cors)
        content_type = request.headers.get("content-type", "")
        try:
            pairs = read_body(body, content_type)
        except FormBodyError as exc:
            return _error(400, str(exc), cors)
        if not pairs:
            return _error(400, "no fields submitted", cors)
        fcfg = ctx.cfg.form(form)
        if honeypot_filled(pairs, fcfg.honeypot):
            _log.info("honeypot", form=form, client=client)
            return JSONResponse({"ok": True}, headers=cors)  # a bot learns nothing
        meta = SpoolMeta(source=f"form:{form}", kind="intake", peer=client,
                         source_ref={"form": form, "content_type": content_type[:200]})
        item_id = await committer.put(body, meta)  # fsync'd (with its group): only now the 2xx
        waker.soon()
        _log.info("spooled", form=form, spool_id=item_id, media=media_type(content_type), size=len(body))
        return JSONResponse({"ok": True, "id": item_id}, headers=cors)

    async def head(request: Request) -> Response:  # noqa: ARG001 - uptime probes
        return Response(status_code=204)

    return [Route("/intake/{token}", intake, methods=["POST", "OPTIONS"]),
            Route("/healthz", head, methods=["GET", "HEAD"])]
