"""Server-rendered pages behind the login guard (``auth.page``): contact search."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from mailcrm.app import cases
from mailcrm.app.handle import Store
from mailcrm.app.web_accounts import WebUser
from mailcrm.web.app import WebContext
from mailcrm.web.auth import csrf_token, page, with_csrf
from mailcrm.web.templating import render

SEARCH_LIMIT = 50


def search_contacts(ctx: WebContext, query: str, limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
    """The one call the pages (and later the API) make to search contacts."""
    return cases.list_contacts(Store(ctx.factory.kw["bind"], ctx.factory), query or None, limit)


def routes(ctx: WebContext) -> list[BaseRoute]:
    """``/``: the search page."""

    async def search(request: Request, user: WebUser) -> Response:
        query = request.query_params.get("q", "").strip()[:200]
        rows = await asyncio.to_thread(search_contacts, ctx, query) if query else []
        token, new = csrf_token(request)
        resp = render("search.html", user.language, user=user, csrf=token, q=query, rows=rows)
        return with_csrf(resp, request, ctx, token, new)

    return [page(ctx, "/", search)]
