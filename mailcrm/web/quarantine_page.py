"""The quarantine page: messages that could not be processed, with their reasons; retry one (it goes back
to the spool through ``ingest.requeue.hand_back``, the CLI's `quarantine retry` step, and the daemon's
worker, which this web app runs beside, processes it)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from mailcrm.app.web_accounts import WebUser
from mailcrm.ingest import requeue
from mailcrm.web.app import WebContext
from mailcrm.web.auth import csrf_token, page, with_csrf
from mailcrm.web.pages import clean_text, local_time
from mailcrm.web.templating import render

LIMIT = 500  # rows listed (oldest first); the CLI lists them all


def quarantined(ctx: WebContext) -> list[dict[str, Any]]:
    """Quarantined items: id, source, when received, envelope sender, reason."""
    rows = []
    for i, item in enumerate(ctx.spool.quarantined()):
        if i >= LIMIT:
            break
        try:
            at: dt.datetime | None = dt.datetime.fromisoformat(item.meta.received_at)
        except (TypeError, ValueError):
            at = None
        rows.append({"id": item.id, "source": item.meta.source, "at": at, "mail_from": item.meta.mail_from,
                     "reason": item.meta.reason or item.meta.last_error or ""})
    return rows


def retry(ctx: WebContext, item_id: str) -> bool:
    """Hand one quarantined item (by its exact id) back to the worker; False when there is none."""
    if not item_id or clean_text(item_id) != item_id or not item_id.replace("-", "").replace("_", "").isalnum():
        return False
    item = ctx.spool.get_quarantined(item_id)
    if item is None or item.id != item_id:
        return False
    requeue.hand_back(ctx.spool, [item])
    ctx.on_spooled()
    return True


def routes(ctx: WebContext) -> list[BaseRoute]:
    """``/quarantine`` and ``POST /quarantine/retry`` (field ``id``)."""

    async def show(request: Request, user: WebUser, *, error: str = "", status: int = 200) -> Response:
        rows = await asyncio.to_thread(quarantined, ctx)
        token, new = csrf_token(request)
        resp = render("quarantine.html", user.language, status_code=status, user=user, csrf=token, rows=rows,
                      error=error, retried=request.query_params.get("retried") == "1",
                      when=lambda at: local_time(at, user.timezone))
        return with_csrf(resp, request, ctx, token, new)

    async def listing(request: Request, user: WebUser) -> Response:
        return await show(request, user)

    async def retry_one(request: Request, user: WebUser) -> Response:
        item_id = str((await request.form()).get("id", "")).strip()[:100]
        if not await asyncio.to_thread(retry, ctx, item_id):
            return await show(request, user, error="quarantine.unknown", status=404)
        return RedirectResponse("/quarantine?retried=1", status_code=303)

    return [page(ctx, "/quarantine", listing), page(ctx, "/quarantine/retry", retry_one, methods=("POST",))]
