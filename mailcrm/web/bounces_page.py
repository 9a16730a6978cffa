"""The bounces page: recent bounces with the address's effect; reactivate or confirm an address (app/cases)."""

from __future__ import annotations

import asyncio
import datetime as dt

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from mailcrm.app import cases
from mailcrm.app.web_accounts import WebUser
from mailcrm.errors import Refused
from mailcrm.store.models import utcnow
from mailcrm.web.app import WebContext
from mailcrm.web.auth import csrf_token, page, with_csrf
from mailcrm.web.pages import local_time
from mailcrm.web.templating import render

DAYS = 90


def routes(ctx: WebContext) -> list[BaseRoute]:
    """``/bounces`` and ``POST /bounces/reactivate|confirm`` (field ``address``)."""

    async def show(request: Request, user: WebUser, *, error: str = "", status: int = 200) -> Response:
        rows = await asyncio.to_thread(cases.list_bounces, ctx.store, utcnow() - dt.timedelta(days=DAYS))
        token, new = csrf_token(request)
        resp = render("bounces.html", user.language, status_code=status, user=user, csrf=token, rows=rows,
                      error=error, when=lambda at: local_time(at, user.timezone))
        return with_csrf(resp, request, ctx, token, new)

    async def bounces(request: Request, user: WebUser) -> Response:
        return await show(request, user)

    def action(fn: object) -> object:
        async def handle(request: Request, user: WebUser) -> Response:
            address = str((await request.form()).get("address", "")).strip()[:320]
            try:
                await asyncio.to_thread(fn, ctx.store, address)  # type: ignore[arg-type]
            except Refused as exc:
                return await show(request, user, error=str(exc), status=400)
            return RedirectResponse("/bounces", status_code=303)
        return handle

    return [page(ctx, "/bounces", bounces),
            page(ctx, "/bounces/reactivate", action(cases.reactivate_address), methods=("POST",)),  # type: ignore[arg-type]
            page(ctx, "/bounces/confirm", action(cases.confirm_bounced), methods=("POST",))]  # type: ignore[arg-type]
