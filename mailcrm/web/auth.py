"""Login, logout and the guard every page goes through: session cookie, CSRF, throttling, headers.

A page handler is registered with ``page(path, handler)``: the guard redirects a request without a live
session to ``/login?next=...`` and refuses any POST whose ``csrf`` form field does not match the
``mailcrm_csrf`` cookie (403) — the double-submit pattern, the same one asgi-csrf uses for Datasette.
Both cookies are HttpOnly and SameSite=Strict, and Secure when the page is served over HTTPS.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailcrm import log
from mailcrm.app import web_accounts
from mailcrm.app.web_accounts import WebUser
from mailcrm.web.app import WebContext
from mailcrm.web.templating import language_of, render

SESSION_COOKIE = "mailcrm_session"
CSRF_COOKIE = "mailcrm_csrf"
STATIC = Path(__file__).parent / "static"
# Login throttling: failures counted over a sliding window, per account and per client address.
WINDOW = 15 * 60.0
MAX_FAILURES_ACCOUNT = 5
MAX_FAILURES_CLIENT = 20

SECURITY_HEADERS = [
    # No inline script or style anywhere: every script and stylesheet is a file under /static.
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
]

Handler = Callable[[Request, WebUser], Awaitable[Response]]


class SecurityHeaders:
    """ASGI middleware adding the security headers to every HTTP response (pages, API and intake)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through, adding the headers at ``http.response.start``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LoginThrottle:
    """Failed logins per key over a sliding window; a key over its limit is refused before checking."""

    def __init__(self) -> None:
        self.failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> int:
        q = self.failures.get(key)
        if q is None:
            return 0
        while q and q[0] <= now - WINDOW:
            q.popleft()
        if not q:
            del self.failures[key]
            return 0
        return len(q)

    def blocked(self, account: str, client: str) -> bool:
        """True when the account or the client address has failed too often lately."""
        now = time.monotonic()
        return (self._recent("a:" + account, now) >= MAX_FAILURES_ACCOUNT
                or self._recent("c:" + client, now) >= MAX_FAILURES_CLIENT)

    def failed(self, account: str, client: str) -> None:
        """Count one failure against both keys."""
        now = time.monotonic()
        self.failures["a:" + account].append(now)
        self.failures["c:" + client].append(now)

    def succeeded(self, account: str) -> None:
        """A right password clears the account's failures (not the client's)."""
        self.failures.pop("a:" + account, None)


def _secure(request: Request, ctx: WebContext) -> bool:
    return request.url.scheme == "https" or ctx.web.public_url.startswith("https://")


def csrf_token(request: Request) -> tuple[str, bool]:
    """The request's CSRF token and whether it is new (then the response must set the cookie)."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(token) <= 100:
        return token, False
    return secrets.token_urlsafe(32), True


def _set_cookie(response: Response, request: Request, ctx: WebContext, name: str, value: str,
                max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=_secure(request, ctx))


def with_csrf(response: Response, request: Request, ctx: WebContext, token: str, new: bool) -> Response:
    """Set the CSRF cookie on ``response`` when the token was made for this request."""
    if new:
        _set_cookie(response, request, ctx, CSRF_COOKIE, token)
    return response


async def csrf_ok(request: Request) -> bool:
    """True when the POSTed ``csrf`` field equals the CSRF cookie (constant-time compare)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    try:
        form = await request.form()
    except Exception:  # a body that is not a form has no token
        return False
    field = form.get("csrf")
    return bool(cookie) and isinstance(field, str) and hmac.compare_digest(field.encode(), cookie.encode())


def _forbidden(request: Request, lang: str) -> Response:
    return render("error.html", lang, status_code=403, user=None, csrf="", message="error.csrf")


async def current_user(request: Request, ctx: WebContext) -> WebUser | None:
    """The user of the request's session cookie, if any."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await asyncio.to_thread(web_accounts.session_user, ctx.factory, ctx.cfg, token)


def page(ctx: WebContext, path: str, handler: Handler, methods: tuple[str, ...] = ("GET",)) -> Route:
    """A route behind the guard: login required (redirect to /login), CSRF checked on POST."""

    async def endpoint(request: Request) -> Response:
        user = await current_user(request, ctx)
        if user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        if request.method == "POST" and not await csrf_ok(request):
            return _forbidden(request, user.language)
        return await handler(request, user)

    return Route(path, endpoint, methods=list(methods))


def _default_language(ctx: WebContext) -> str:
    return ctx.cfg.users[0].language if ctx.cfg.users else "ru"


def _safe_next(value: str | None) -> str:
    # Only a path on this site: "//evil.example" and "https://..." would send the user away.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def routes(ctx: WebContext) -> list[BaseRoute]:
    """/login (form and POST), /logout (POST) and the static files."""
    throttle = LoginThrottle()
    ctx.state["login_throttle"] = throttle
    logger = log.get("mailcrm.web")

    def login_page(request: Request, lang: str, *, error: str = "", email: str = "", nxt: str = "/",
                   status: int = 200) -> Response:
        token, new = csrf_token(request)
        resp = render("login.html", lang, status_code=status, user=None, csrf=token, error=error, email=email,
                      next=nxt)
        return with_csrf(resp, request, ctx, token, new)

    async def login_get(request: Request) -> Response:
        lang = language_of(request, _default_language(ctx))
        return login_page(request, lang, nxt=_safe_next(request.query_params.get("next")))

    async def login_post(request: Request) -> Response:
        lang = language_of(request, _default_language(ctx))
        if not await csrf_ok(request):
            return _forbidden(request, lang)
        form = await request.form()
        email = str(form.get("email", "")).strip().lower()[:320]
        password = str(form.get("password", ""))[:1024]
        nxt = _safe_next(str(form.get("next", "")))
        client = ctx.client_address(request.client.host if request.client else None,
                                    request.headers.get("x-forwarded-for"))
        if throttle.blocked(email, client):
            logger.warning("web login throttled", user=email, client=client)
            resp = login_page(request, lang, error="login.throttled", email=email, nxt=nxt, status=429)
            resp.headers["Retry-After"] = str(int(WINDOW))
            return resp
        token = await asyncio.to_thread(web_accounts.login, ctx.factory, email, password)
        if token is None:
            throttle.failed(email, client)
            logger.info("web login failed", user=email, client=client)
            return login_page(request, lang, error="login.failed", email=email, nxt=nxt, status=401)
        throttle.succeeded(email)
        logger.info("web login", user=email, client=client)
        resp = RedirectResponse(nxt, status_code=303)
        _set_cookie(resp, request, ctx, SESSION_COOKIE, token, max_age=web_accounts.SESSION_DAYS * 86400)
        # A fresh CSRF token after login: one planted before it is worth nothing after.
        _set_cookie(resp, request, ctx, CSRF_COOKIE, secrets.token_urlsafe(32))
        return resp

    async def logout(request: Request) -> Response:
        if not await csrf_ok(request):
            return _forbidden(request, language_of(request, _default_language(ctx)))
        await asyncio.to_thread(web_accounts.logout, ctx.factory, request.cookies.get(SESSION_COOKIE))
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request, ctx))
        return resp

    return [
        Route("/login", login_get, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
