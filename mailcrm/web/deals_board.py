"""The deals board: a column per open stage, overdue cards marked; move, won, lost go through app/cases."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from mailcrm.app import cases
from mailcrm.app.web_accounts import WebUser
from mailcrm.config import Config
from mailcrm.domain.deal_states import stage_label
from mailcrm.domain.money import format_amount
from mailcrm.errors import Refused
from mailcrm.store.models import utcnow
from mailcrm.web.app import WebContext
from mailcrm.web.auth import csrf_token, page, with_csrf
from mailcrm.web.templating import render


def overdue(cfg: Config, deal: dict[str, Any], now: dt.datetime) -> bool:
    """True when the deal has sat in its stage longer than the stage's ``first_after`` days."""
    stage = cfg.cadence.stages.get(deal["stage"])
    since = deal["opened_at"] if stage is not None and stage.anchor == "opened" else deal["stage_changed_at"]
    if stage is None or stage.first_after is None or since is None:
        return False
    return bool(now - since > dt.timedelta(days=stage.first_after))


def board(ctx: WebContext) -> list[dict[str, Any]]:
    """Columns of open deals, one per configured open stage, in the config's order."""
    deals = cases.list_deals(ctx.store, None, "open")
    now = utcnow()
    open_stages = [s for s in ctx.cfg.cadence.stages if s not in ctx.cfg.cadence.closed_stages]
    columns: dict[str, list[dict[str, Any]]] = {s: [] for s in open_stages}
    for d in deals:
        d["overdue"] = overdue(ctx.cfg, d, now)
        columns.setdefault(d["stage"], []).append(d)
    return [{"stage": s, "deals": ds} for s, ds in columns.items()]


def routes(ctx: WebContext) -> list[BaseRoute]:
    """``/deals`` (the board) and ``POST /deals/{id}/move`` (stage, or won, or lost with a reason)."""

    async def show(request: Request, user: WebUser, *, error: str = "", status: int = 200) -> Response:
        columns = await asyncio.to_thread(board, ctx)
        token, new = csrf_token(request)
        stages = [c["stage"] for c in columns]
        labels = ctx.cfg.cadence.labels(user.language)
        resp = render("deals.html", user.language, status_code=status, user=user, csrf=token, columns=columns,
                      stages=stages, error=error, stage=lambda s: stage_label(s, labels),
                      money=lambda a, c: format_amount(a, c, user.language))
        return with_csrf(resp, request, ctx, token, new)

    async def board_page(request: Request, user: WebUser) -> Response:
        return await show(request, user)

    async def move(request: Request, user: WebUser) -> Response:
        form = await request.form()
        deal_id = request.path_params["deal_id"]
        stage = str(form.get("stage", "")).strip()
        reason = str(form.get("reason", "")).strip()[:500] or None
        try:
            cases.check_stage(ctx.cfg, stage)
            await asyncio.to_thread(cases.move_deal, ctx.store, deal_id, stage, reason)
        except Refused as exc:
            return await show(request, user, error=str(exc), status=400)
        return RedirectResponse("/deals", status_code=303)

    return [page(ctx, "/deals", board_page), page(ctx, "/deals/{deal_id:int}/move", move, methods=("POST",))]
