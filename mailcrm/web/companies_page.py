"""Companies: the list with grouping suggestions to accept or reject, and a company's page (its people
and their combined timeline, paginated).  Reads and decisions go through app/cases."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from mailcrm.app import cases
from mailcrm.app.web_accounts import WebUser
from mailcrm.errors import NotFound, Refused
from mailcrm.web.app import WebContext
from mailcrm.web.auth import csrf_token, page, with_csrf
from mailcrm.web.pages import PER_PAGE, clean_text, contact_ref, local_time, page_number
from mailcrm.web.templating import render


def company_page(ctx: WebContext, name: str, page_no: int) -> tuple[dict[str, Any], bool]:
    """A company's card with one page of its people's combined timeline, and whether an older page exists."""
    if clean_text(name) != name or not name.strip():
        raise NotFound(f"no company named {name!r}")
    card = cases.company_card(ctx.store, name, page_no * PER_PAGE + 1)
    items = card.get("timeline", [])
    card["timeline"] = items[(page_no - 1) * PER_PAGE: page_no * PER_PAGE]
    return card, len(items) > page_no * PER_PAGE


def listing(ctx: WebContext) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Companies with head counts, and the suggestions waiting for a decision."""
    store = ctx.store
    return cases.list_companies(store), cases.list_suggestions(store)


def routes(ctx: WebContext) -> list[BaseRoute]:
    """``/companies``, ``/companies/{name}``, ``POST /suggestions/{id}`` (decision = accept | reject)."""

    async def show_list(request: Request, user: WebUser, *, error: str = "", status: int = 200) -> Response:
        companies, suggestions = await asyncio.to_thread(listing, ctx)
        token, new = csrf_token(request)
        resp = render("companies.html", user.language, status_code=status, user=user, csrf=token,
                      companies=companies, suggestions=suggestions, error=error)
        return with_csrf(resp, request, ctx, token, new)

    async def companies(request: Request, user: WebUser) -> Response:
        return await show_list(request, user)

    async def company(request: Request, user: WebUser) -> Response:
        name = request.path_params["name"]
        page_no = page_number(request)
        token, new = csrf_token(request)
        try:
            card, more = await asyncio.to_thread(company_page, ctx, name, page_no)
        except Refused:
            resp = render("error.html", user.language, status_code=404, user=user, csrf=token,
                          message="company.unknown")
            return with_csrf(resp, request, ctx, token, new)
        resp = render("company.html", user.language, user=user, csrf=token, card=card, page=page_no, more=more,
                      ref=contact_ref, when=lambda at: local_time(at, user.timezone), tz=user.timezone)
        return with_csrf(resp, request, ctx, token, new)

    async def decide(request: Request, user: WebUser) -> Response:
        decision = str((await request.form()).get("decision", ""))
        if decision not in ("accept", "reject"):
            return await show_list(request, user, error="expected accept or reject", status=400)
        try:
            await asyncio.to_thread(cases.decide_suggestion, ctx.store, request.path_params["sid"],
                                    decision == "accept")
        except Refused as exc:
            return await show_list(request, user, error=str(exc), status=400)
        return RedirectResponse("/companies", status_code=303)

    return [page(ctx, "/companies", companies), page(ctx, "/companies/{name:path}", company),
            page(ctx, "/suggestions/{sid:int}", decide, methods=("POST",))]
