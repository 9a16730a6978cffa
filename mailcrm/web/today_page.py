"""The Today page: the user's digest as a page (digest/collect + rules through ``cases.preview_digest``,
the same data the morning mail is made of), with "done" and "snooze N days" on each numbered line."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from mailcrm.app import cases
from mailcrm.app.web_accounts import WebUser
from mailcrm.config import UserConfig
from mailcrm.digest.render import STRINGS as DIGEST_STRINGS
from mailcrm.digest.render import contact_path, plural_days, tel_uri
from mailcrm.digest.rules import Digest
from mailcrm.domain.deal_states import stage_label
from mailcrm.domain.money import format_amount
from mailcrm.errors import NotFound, Refused
from mailcrm.web.app import WebContext
from mailcrm.web.auth import csrf_token, page, with_csrf
from mailcrm.web.pages import local_time
from mailcrm.web.templating import render

SNOOZE_DEFAULT = 3


def user_config(ctx: WebContext, user: WebUser) -> UserConfig:
    """The configured user behind a web login (a user removed from the config has no Today page)."""
    ucfg = ctx.cfg.user_for_address(user.email)
    if ucfg is None:
        raise NotFound(f"{user.email} is no longer a user in the config")
    return ucfg


def today_of(ucfg: UserConfig) -> dt.date:
    """The user's local date now."""
    return dt.datetime.now(dt.timezone.utc).astimezone(ZoneInfo(ucfg.timezone)).date()


def digest_for(ctx: WebContext, user: WebUser) -> Digest:
    """Today's digest of ``user`` (read only: nothing is recorded, nothing sent)."""
    ucfg = user_config(ctx, user)
    digest, _rendered = cases.preview_digest(ctx.store, ctx.cfg, ucfg, today_of(ucfg))
    return digest


def routes(ctx: WebContext) -> list[BaseRoute]:
    """``/today`` and ``POST /today/act`` (fields kind, ref, action = done | snooze, days)."""

    async def show(request: Request, user: WebUser, *, error: str = "", status: int = 200) -> Response:
        token, new = csrf_token(request)
        try:
            digest = await asyncio.to_thread(digest_for, ctx, user)
        except Refused as exc:
            resp = render("error.html", user.language, status_code=404, user=user, csrf=token, message=str(exc))
            return with_csrf(resp, request, ctx, token, new)
        labels = ctx.cfg.cadence.labels(user.language)
        lang = user.language

        def day(d: dt.date) -> str:
            return d.strftime("%d.%m.%Y") if lang == "ru" else d.isoformat()

        extra: dict[str, Any] = {
            "d": digest, "s": DIGEST_STRINGS.get(lang, DIGEST_STRINGS["en"]), "day": day,
            "days": lambda n: plural_days(n, lang), "when": lambda at: local_time(at, user.timezone),
            "stage": lambda s: stage_label(s, labels), "money": lambda a, c: format_amount(a, c, lang),
            "page": contact_path, "tel": tel_uri, "snooze_default": SNOOZE_DEFAULT,
        }
        resp = render("today.html", lang, status_code=status, user=user, csrf=token, error=error, **extra)
        return with_csrf(resp, request, ctx, token, new)

    async def today(request: Request, user: WebUser) -> Response:
        return await show(request, user)

    async def act(request: Request, user: WebUser) -> Response:
        form = await request.form()
        kind = str(form.get("kind", ""))[:20]
        action = str(form.get("action", ""))[:20]
        try:
            ref = int(str(form.get("ref", "")))
            days = int(str(form.get("days", "") or SNOOZE_DEFAULT))
        except ValueError:
            return await show(request, user, error="today.bad_line", status=400)
        try:
            ucfg = user_config(ctx, user)
            await asyncio.to_thread(cases.act_on_today_line, ctx.store, ctx.cfg, ucfg, kind, ref, action, days)
        except Refused as exc:
            return await show(request, user, error=str(exc), status=400)
        return RedirectResponse("/today", status_code=303)

    return [page(ctx, "/today", today), page(ctx, "/today/act", act, methods=("POST",))]
