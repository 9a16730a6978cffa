"""Server-rendered pages behind the login guard (``auth.page``): contact search, the contact card."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from mailcrm.app import cases
from mailcrm.app.handle import Store
from mailcrm.app.web_accounts import WebUser
from mailcrm.errors import Invalid, NotFound, Refused
from mailcrm.web.app import WebContext
from mailcrm.web.auth import csrf_token, page, with_csrf
from mailcrm.web.templating import render

SEARCH_LIMIT = 50
PER_PAGE = 50  # timeline items per page


def clean_text(text: str) -> str:
    """Typed input without control characters (PostgreSQL refuses NUL in text; none belongs in a search)."""
    return "".join(ch for ch in text if ch >= " " and ch != "\x7f")


def search_contacts(ctx: WebContext, query: str, limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
    """The one call the pages and the API make to search contacts."""
    query = clean_text(query).strip()
    rows, _total = cases.list_contacts(Store(ctx.factory.kw["bind"], ctx.factory), query or None, limit, ctx.cfg.phone_region())
    return rows


def page_number(request: Request) -> int:
    """The ``?page=`` of a paged view: 1 to 10,000, 1 when absent or not a number."""
    try:
        return max(1, min(int(request.query_params.get("page", "1")), 10_000))
    except ValueError:
        return 1


def contact_page(ctx: WebContext, ref: str, page_no: int, before: str | None = None
                 ) -> tuple[dict[str, Any], str | None]:
    """A contact's card with one page of its timeline (newest first), and the keyset cursor of the
    next (older) page, None when there is none.

    With ``before`` (the cursor a previous page linked to) the page starts after that item: one
    index seek whatever the page number.  Without it, page k is read as the newest k pages (a
    bookmarked ``?page=k``).
    """
    if clean_text(ref) != ref:
        raise NotFound(f"no contact {ref!r}")
    card: dict[str, Any] | None = None
    if before:
        try:
            card = cases.contact_card(ctx.store, ref, PER_PAGE + 1, ctx.cfg.phone_region(), before=before)
            items = card.get("timeline", [])
        except Invalid:  # a damaged link: the page by its number
            card = None
    if card is None:
        card = cases.contact_card(ctx.store, ref, page_no * PER_PAGE + 1, ctx.cfg.phone_region())
        items = card.get("timeline", [])[(page_no - 1) * PER_PAGE:]
    card["timeline"] = items[:PER_PAGE]
    more = len(items) > PER_PAGE
    return card, cases.timeline_cursor(items[PER_PAGE - 1]) if more else None


def local_time(at: dt.datetime | None, tz: str) -> str:
    """A stored UTC time as the user's local "YYYY-MM-DD HH:MM"."""
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def contact_ref(row: dict[str, Any]) -> str | None:
    """What a contact's page URL names: its first address, else its first phone."""
    if row.get("addresses"):
        return str(row["addresses"][0]["address"])
    if row.get("phones"):
        return str(row["phones"][0])
    return None


def routes(ctx: WebContext) -> list[BaseRoute]:
    """``/``: the search page; ``/contacts/{ref}``: a contact's card and timeline."""

    async def search(request: Request, user: WebUser) -> Response:
        query = request.query_params.get("q", "").strip()[:200]
        rows = await asyncio.to_thread(search_contacts, ctx, query) if query else []
        token, new = csrf_token(request)
        resp = render("search.html", user.language, user=user, csrf=token, q=query, rows=rows, ref=contact_ref)
        return with_csrf(resp, request, ctx, token, new)

    async def results(request: Request, user: WebUser) -> Response:
        # The result table alone, for search.js (search as you type); the same rows as the page.
        query = request.query_params.get("q", "").strip()[:200]
        rows = await asyncio.to_thread(search_contacts, ctx, query) if query else []
        return render("_results.html", user.language, q=query, rows=rows, ref=contact_ref)

    async def contact(request: Request, user: WebUser) -> Response:
        ref = request.path_params["ref"]
        page_no = page_number(request)
        before = clean_text(request.query_params.get("before", ""))[:100] or None
        token, new = csrf_token(request)
        try:
            card, cursor = await asyncio.to_thread(contact_page, ctx, ref, page_no, before)
        except Refused:
            resp = render("error.html", user.language, status_code=404, user=user, csrf=token,
                          message="contact.unknown")
            return with_csrf(resp, request, ctx, token, new)
        resp = render("contact.html", user.language, user=user, csrf=token, card=card, ref=ref, page=page_no,
                      more=cursor is not None, cursor=cursor, when=lambda at: local_time(at, user.timezone), tz=user.timezone)
        return with_csrf(resp, request, ctx, token, new)

    async def edit(request: Request, user: WebUser) -> Response:
        ref = request.path_params["ref"]
        form = await request.form()

        def field(name: str) -> str | None:
            value = clean_text(str(form.get(name, ""))).strip()[:300]
            return value or None  # an empty box leaves the field as it is

        phones = field("phones")
        try:
            await asyncio.to_thread(cases.edit_contact, ctx.store, ref, name=field("name"), title=field("title"),
                                    company=field("company"),
                                    phones=[p.strip() for p in phones.split(",") if p.strip()] if phones else None,
                                    region=ctx.cfg.phone_region())
        except Refused as exc:
            token, new = csrf_token(request)
            resp = render("error.html", user.language, status_code=400, user=user, csrf=token,
                          message="contact.bad_edit", detail=str(exc))
            return with_csrf(resp, request, ctx, token, new)
        return RedirectResponse(f"/contacts/{quote(ref, safe='@+')}", status_code=303)

    async def raw(request: Request, user: WebUser) -> Response:
        mid = int(request.path_params["mid"])
        try:
            data = await asyncio.to_thread(cases.raw_message, ctx.store, mid)
        except Refused:
            return Response("no such message\n", status_code=404, media_type="text/plain")
        # A download, never rendered: the bytes are whatever a stranger sent.
        return Response(data, media_type="message/rfc822", headers={
            "Content-Disposition": f'attachment; filename="message-{mid}.eml"', "X-Content-Type-Options": "nosniff"})

    return [page(ctx, "/", search), page(ctx, "/search/results", results), page(ctx, "/contacts/{ref}", contact),
            page(ctx, "/contacts/{ref}/edit", edit, methods=("POST",)), page(ctx, "/messages/{mid:int}.eml", raw)]
