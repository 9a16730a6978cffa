"""The JSON API under /api/v1: the data of the CLI's --json, behind bearer tokens (`mailcrm web token`).

Every answer is JSON; without a live token 401 with ``WWW-Authenticate: Bearer``.  The OpenAPI 3.0
schema at /api/v1/openapi.json is written here beside the handlers it describes (and checked against
them by tests/test_web_api.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mailcrm.app import cases, web_accounts
from mailcrm.app.web_accounts import WebUser
from mailcrm.digest.rules import numbered_lines
from mailcrm.errors import NotFound, Refused
from mailcrm.web.app import WebContext
from mailcrm.web.pages import clean_text, search_contacts

PREFIX = "/api/v1"
MAX_LIMIT = 500
MAX_QUERY = 200
DEAL_STATUSES = ("open", "won", "lost")


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


class BadParameter(Exception):
    """A query parameter outside what the schema allows: 400 with the reason."""


def _limit(request: Request, default: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(f"limit: expected an integer from 1 to {MAX_LIMIT}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise BadParameter(f"limit: expected an integer from 1 to {MAX_LIMIT}")
    return value


def _query(request: Request) -> str:
    q = request.query_params.get("q", "")
    if len(q) > MAX_QUERY:
        raise BadParameter(f"q: at most {MAX_QUERY} characters")
    return q.strip()


def _status(request: Request) -> str | None:
    status = request.query_params.get("status")
    if status is not None and status not in DEAL_STATUSES:
        raise BadParameter(f"status: one of {', '.join(DEAL_STATUSES)}")
    return status


_OBJ = {"type": "object", "additionalProperties": True}
_ERR = {"description": "error", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}}


def _op(summary: str, schema: dict[str, Any], params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params or [], "security": [{"bearer": []}], "responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
        "400": _ERR, "401": _ERR, "404": _ERR}}}


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
                                    "schema": {"type": "string", "maxLength": MAX_QUERY}}, _LIMIT]),
        f"{PREFIX}/contacts/{{ref}}": _op("A contact's card and timeline (by address or phone)", _OBJ,
                                          [{"name": "ref", "in": "path", "required": True,
                                            "schema": {"type": "string", "minLength": 1, "maxLength": 320}},
                                           _LIMIT]),
        f"{PREFIX}/companies": _op("Companies with head counts", {"type": "array", "items": _OBJ}),
        f"{PREFIX}/companies/{{name}}": _op("A company's people and combined timeline (by name or domain)", _OBJ,
                                           [{"name": "name", "in": "path", "required": True,
                                             "schema": {"type": "string", "minLength": 1, "maxLength": 200}},
                                            _LIMIT]),
        f"{PREFIX}/deals": _op("Deals, newest first", {"type": "array", "items": _OBJ},
                               [{"name": "status", "in": "query", "required": False,
                                 "schema": {"type": "string", "enum": list(DEAL_STATUSES)}}]),
        f"{PREFIX}/digest": _op("The token's user's digest for their local today (the morning mail's data: sections, "
                                "summary counts, numbered lines)", {
                                    "type": "object", "required": ["today", "summary", "lines", "call_today"],
                                    "properties": {"today": {"type": "string", "format": "date"},
                                                   "summary": {"type": "object", "additionalProperties": {"type": "integer"}},
                                                   "lines": {"type": "array", "items": _OBJ},
                                                   "call_today": {"type": "array", "items": _OBJ},
                                                   "empty": {"type": "boolean"}},
                                    "additionalProperties": True}),
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

    def endpoint(fn: Any, path: str) -> Any:
        declared = {p["name"] for p in OPENAPI["paths"][path]["get"]["parameters"] if p["in"] == "query"}

        async def handle(request: Request) -> Response:
            user = await authed(request)
            if user is None:
                return _error(401, "a bearer token is required (mailcrm web token ADDR)")
            unknown = sorted(set(request.query_params) - declared)
            if unknown:  # a misspelt parameter is an error, not silently a different question
                return _error(400, f"unknown parameter {unknown[0]!r}; this endpoint takes "
                                   + (", ".join(sorted(declared)) or "no parameters"))
            try:
                data = await asyncio.to_thread(fn, request, user)
            except BadParameter as exc:
                return _error(400, str(exc))
            except Refused as exc:
                return _error(404, str(exc))
            return JSONResponse(jsonable(data))
        return handle

    def contacts(request: Request, user: WebUser) -> Any:
        return search_contacts(ctx, _query(request), _limit(request, 50))

    def contact(request: Request, user: WebUser) -> Any:
        ref = request.path_params["ref"]
        if clean_text(ref) != ref:
            raise NotFound(f"no contact {ref!r}")
        return cases.contact_card(ctx.store, ref, _limit(request, 200), ctx.cfg.phone_region())

    def companies(request: Request, user: WebUser) -> Any:
        return cases.list_companies(ctx.store)

    def company(request: Request, user: WebUser) -> Any:
        name = request.path_params["name"]
        if clean_text(name) != name or not name.strip():
            raise NotFound(f"no company named {name!r}")
        return cases.company_card(ctx.store, name, _limit(request, 200))

    def deals(request: Request, user: WebUser) -> Any:
        return cases.list_deals(ctx.store, None, _status(request))

    def digest(request: Request, user: WebUser) -> Any:
        ucfg = ctx.cfg.user_for_address(user.email)
        if ucfg is None:
            raise NotFound(f"{user.email} is no longer a user in the config")
        day = dt.datetime.now(dt.timezone.utc).astimezone(ZoneInfo(ucfg.timezone)).date()
        d, _rendered = cases.preview_digest(ctx.store, ctx.cfg, ucfg, day)
        return {**dataclasses.asdict(d), "summary": d.summary(), "empty": d.is_empty,
                "lines": [line.to_json() for line in numbered_lines(d)]}

    async def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    async def not_found(request: Request) -> Response:
        return _error(404, "not found")

    return [
        Route(f"{PREFIX}/openapi.json", openapi),
        Route(f"{PREFIX}/contacts", endpoint(contacts, f"{PREFIX}/contacts")),
        Route(f"{PREFIX}/contacts/{{ref}}", endpoint(contact, f"{PREFIX}/contacts/{{ref}}")),
        Route(f"{PREFIX}/companies", endpoint(companies, f"{PREFIX}/companies")),
        Route(f"{PREFIX}/companies/{{name}}", endpoint(company, f"{PREFIX}/companies/{{name}}")),
        Route(f"{PREFIX}/deals", endpoint(deals, f"{PREFIX}/deals")),
        Route(f"{PREFIX}/digest", endpoint(digest, f"{PREFIX}/digest")),
        Route(f"{PREFIX}/{{rest:path}}", not_found),
    ]
