"""Charts drawn server-side with pygal as SVG (no script: pygal's config <script> is removed, and each
SVG is served with a CSP of its own that allows no script at all): pitches per tag (sent → answered →
interested → won), replies per week, deals per stage week by week.  The page shows them as <img>."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pygal
from pygal.style import CleanStyle
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from mailcrm.app import charts
from mailcrm.app.web_accounts import WebUser
from mailcrm.domain.deal_states import stage_label
from mailcrm.web.app import WebContext
from mailcrm.web.auth import csrf_token, page, with_csrf
from mailcrm.web.templating import STRINGS, render

SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>|<script\b[^>]*/>", re.S | re.I)
TAG_LIMIT = 12  # tags on the funnel chart (most pitched first)


def _config(title: str, width: int = 800, height: int = 420, **extra: Any) -> dict[str, Any]:
    return {"title": title, "js": [], "style": CleanStyle, "width": width, "height": height,
            "legend_at_bottom": True, "truncate_legend": 40, "truncate_label": 20, "print_values": False,
            "x_label_rotation": 30, "no_data_text": "—", **extra}


def no_script(svg: str) -> str:
    """pygal's SVG without its <script> elements (tooltips need them; a chart does not)."""
    return _SCRIPT.sub("", svg)


def funnel_svg(rows: list[dict[str, Any]], lang: str) -> str:
    """Grouped bars per tag: sent, answered, interested, won."""
    t = STRINGS[lang]
    rows = rows[:TAG_LIMIT]
    chart = pygal.Bar(**_config(t["chart.funnel"]))
    chart.x_labels = [r["tag"] if r["tag"] is not None else t["chart.untagged"] for r in rows]
    for key in ("sent", "answered", "interested", "won"):
        chart.add(t[f"chart.{key}"], [r[key] for r in rows])
    return no_script(chart.render(is_unicode=True))


def _week(day: dt.date, lang: str) -> str:
    return day.strftime("%d.%m") if lang == "ru" else day.strftime("%b %d")


def replies_svg(weeks: list[tuple[dt.date, int]], lang: str) -> str:
    """Bars: replies received per week."""
    t = STRINGS[lang]
    chart = pygal.Bar(**_config(t["chart.replies"], show_legend=False))
    chart.x_labels = [_week(w, lang) for w, _ in weeks]
    chart.add(t["chart.replies"], [n for _, n in weeks])
    return no_script(chart.render(is_unicode=True))


def stages_svg(data: dict[str, Any], order: list[str], label: Callable[[str], str], lang: str) -> str:
    """Stacked bars: deals in each stage at the end of each week (stages in the config's order)."""
    t = STRINGS[lang]
    chart = pygal.StackedBar(**_config(t["chart.stages"]))
    chart.x_labels = [_week(w, lang) for w in data["weeks"]]
    stages = data["stages"]
    for stage in [s for s in order if s in stages] + sorted(s for s in stages if s not in order):
        chart.add(label(stage), stages[stage])
    return no_script(chart.render(is_unicode=True))


def routes(ctx: WebContext) -> list[BaseRoute]:
    """``/charts`` and the SVGs ``/charts/funnel.svg``, ``/charts/replies.svg``, ``/charts/stages.svg``."""

    async def charts_page(request: Request, user: WebUser) -> Response:
        token, new = csrf_token(request)
        return with_csrf(render("charts.html", user.language, user=user, csrf=token), request, ctx, token, new)

    def draw(name: str, user: WebUser) -> str:
        tz = ZoneInfo(user.timezone)
        today = dt.datetime.now(dt.timezone.utc).astimezone(tz).date()
        lang = user.language if user.language in STRINGS else "ru"
        if name == "funnel":
            return funnel_svg(charts.funnel_by_tag(ctx.store), lang)
        if name == "replies":
            return replies_svg(charts.replies_per_week(ctx.store, today, tz), lang)
        labels = ctx.cfg.cadence.labels(lang)
        order = list(dict.fromkeys([*ctx.cfg.cadence.stages, *ctx.cfg.cadence.closed_stages]))
        return stages_svg(charts.stages_per_week(ctx.store, today, tz), order, lambda s: stage_label(s, labels),
                          lang)

    async def svg(request: Request, user: WebUser) -> Response:
        name = request.path_params["name"]
        if name not in ("funnel", "replies", "stages"):
            return Response("not found", status_code=404, media_type="text/plain")
        body = await asyncio.to_thread(draw, name, user)
        return Response(body, media_type="image/svg+xml",
                        headers={"Content-Security-Policy": SVG_CSP, "Cache-Control": "private, max-age=60"})

    return [page(ctx, "/charts", charts_page), page(ctx, "/charts/{name}.svg", svg)]
