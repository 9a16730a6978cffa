"""The JSON API under /api/v1: the data of the CLI's --json, behind bearer tokens (`mailcrm web token`).

Every answer is JSON; without a live token 401 with ``WWW-Authenticate: Bearer``.  The OpenAPI 3.0
schema at /api/v1/openapi.json is written here beside the handlers it describes (and checked against
them by tests/test_web_api.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mailcrm.app import cases, web_accounts
from mailcrm.app.web_accounts import WebUser
from mailcrm.errors import NotFound, Refused
from mailcrm.web.app import WebContext
from mailcrm.web.pages import _store, clean_text, search_contacts

PREFIX = "/api/v1"
MAX_LIMIT = 500


def jsonable(value: Any) -> Any:
    """Dates as ISO 8601, decimals as strings: the CLI's --json shapes."""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return value


def _error(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="mailcrm"'} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _limit(request: Request, default: int) -> int:
    try:
        return max(1, min(int(request.query_params.get("limit", default)), MAX_LIMIT))
    except ValueError:
        return default


_OBJ = {"type": "object", "additionalProperties": True}
_ERR = {"description": "error", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}}


def _op(summary: str, schema: dict[str, Any], params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params or [], "security": [{"bearer": []}], "responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
        "401": _ERR, "404": _ERR}}}


_LIMIT = {"name": "limit", "in": "query", "required": False,
          "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}}
OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "mailcrm API", "version": "1"},
    "servers": [{"url": "/"}],
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        f"{PREFIX}/contacts": _op("Contacts matching q (name, address, company, title)", {"type": "array", "items": _OBJ},
                                  [{"name": "q", "in": "query", "required": False,
                                    "schema": {"type": "string", "maxLength": 200}}, _LIMIT]),
        f"{PREFIX}/contacts/{{ref}}": _op("A contact's card and timeline (by address or phone)", _OBJ,
                                          [{"name": "ref", "in": "path", "required": True,
                                            "schema": {"type": "string", "minLength": 1, "maxLength": 320}},
                                           _LIMIT]),
        f"{PREFIX}/companies": _op("Companies with head counts", {"type": "array", "items": _OBJ}),
        f"{PREFIX}/deals": _op("Deals, newest first", {"type": "array", "items": _OBJ},
                               [{"name": "status", "in": "query", "required": False,
                                 "schema": {"type": "string", "enum": ["open", "won", "lost"]}}]),
    },
}


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The /api/v1 endpoints and the OpenAPI schema."""

    async def authed(request: Request) -> WebUser | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return await asyncio.to_thread(web_accounts.token_user, ctx.factory, ctx.cfg, token.strip())

    def endpoint(fn: Any) -> Any:
        async def handle(request: Request) -> Response:
            if await authed(request) is None:
                return _error(401, "a bearer token is required (mailcrm web token ADDR)")
            try:
                data = await asyncio.to_thread(fn, request)
            except Refused as exc:
                return _error(404, str(exc))
            return JSONResponse(jsonable(data))
        return handle

    def contacts(request: Request) -> Any:
        return search_contacts(ctx, request.query_params.get("q", "").strip()[:200], _limit(request, 50))

    def contact(request: Request) -> Any:
        ref = request.path_params["ref"]
        if clean_text(ref) != ref:
            raise NotFound(f"no contact {ref!r}")
        return cases.contact_card(_store(ctx), ref, _limit(request, 200), ctx.cfg.phone_region())

    def companies(request: Request) -> Any:
        return cases.list_companies(_store(ctx))

    def deals(request: Request) -> Any:
        status = request.query_params.get("status")
        return cases.list_deals(_store(ctx), None, status if status in ("open", "won", "lost") else None)

    async def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    async def not_found(request: Request) -> Response:
        return _error(404, "not found")

    return [
        Route(f"{PREFIX}/openapi.json", openapi),
        Route(f"{PREFIX}/contacts", endpoint(contacts)),
        Route(f"{PREFIX}/contacts/{{ref}}", endpoint(contact)),
        Route(f"{PREFIX}/companies", endpoint(companies)),
        Route(f"{PREFIX}/deals", endpoint(deals)),
        Route(f"{PREFIX}/{{rest:path}}", not_found),
    ]
