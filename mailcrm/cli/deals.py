"""CLI commands: deal add|move|won|lost|list|show, log call, note, tag, untag, date add|list."""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional
from zoneinfo import ZoneInfo

import typer

from mailcrm.app import cases, deals
from mailcrm.cli.common import console, emit, load_config, local_time, open_store, print_table, user_tz
from mailcrm.domain.special_dates import DateSpec, DateSpecError, parse_fixed, parse_rule
from mailcrm.errors import UsageError
from mailcrm.parse.addresses import normalize_address

deal_app = typer.Typer(help="Deals: leads tracked through stages until won or lost.", no_args_is_help=True)
log_app = typer.Typer(help="Log a touch that did not go through mail.", no_args_is_help=True)
date_app = typer.Typer(help="Special dates of contacts and tags (birthdays, professional holidays).",
                       no_args_is_help=True)
JSON = typer.Option(False, "--json", help="Machine-readable output.")


def parse_when(text: str | None, tz: str) -> dt.datetime | None:
    """ISO date/time; without an offset it is the user's local time -> naive UTC."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--when {text!r}: expected YYYY-MM-DD HH:MM (local time) or ISO 8601") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(tz))
    return when.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _render_deals(rows: list[dict[str, Any]], tz: str = "UTC") -> None:
    print_table(f"{len(rows)} deals", ["id", "title", "stage", "status", "amount", "company", "people", f"opened ({tz})"], [
        (r["id"], r["title"], r["stage"], r["status"],
         f"{r['amount']} {r['currency'] or ''}".strip() if r["amount"] is not None else "", r["company"],
         ", ".join(p["name"] or (p["addresses"] or ["?"])[0] for p in r["people"]), local_time(r["opened_at"], tz, "%Y-%m-%d"))
        for r in rows])


def _render_deal(card: dict[str, Any], tz: str = "UTC") -> None:
    _render_deals([card], tz)
    if card.get("lost_reason"):
        console.print(f"lost: {card['lost_reason']}")
    when = f"when ({tz})"
    print_table("stages", [when, "stage", "note"], [(local_time(s["at"], tz), s["stage"], s["note"]) for s in card["stages"]])
    print_table("timeline (newest first)", [when, "kind", "", "subject / text"], [
        (local_time(i["at"], tz), i["kind"], i.get("direction") or "",
         i.get("subject") if i["type"] == "message" else i.get("text")) for i in card["timeline"]])


def _new_note(address: str, out: dict[str, Any]) -> str:
    """The human output's word that a contact was created (a typo in an address shows at once)."""
    return f" (new contact {normalize_address(address)})" if out.get("new_contact") else ""


commands = typer.Typer()  # this module's top-level commands and groups; register() adds them to the root app


@deal_app.command("add")
def deal_add(ctx: typer.Context, title: str,
             contact: list[str] = typer.Option(..., "--contact", help="ADDR of a person on the deal (repeatable)."),
             company: Optional[str] = typer.Option(None, "--company", help="Company name."),
             amount: Optional[str] = typer.Option(None, "--amount", help="Deal amount, e.g. 150000."),
             currency: Optional[str] = typer.Option(None, "--currency", help="3-letter code, e.g. RUB."),
             stage: Optional[str] = typer.Option(None, "--stage", help="Stage (default: [cadence] default_stage)."),
             as_json: bool = JSON) -> None:
    """Open a deal; unknown addresses become contacts."""
    cfg = load_config(ctx)
    cases.check_stage(cfg, stage or cfg.cadence.default_stage)
    deals.parse_amount(amount)  # refused before the store is opened
    out = cases.add_deal(open_store(cfg), cfg, title, contact, stage=stage, company=company, amount=amount,
                         currency=currency)
    emit(out, as_json, lambda d: console.print(f"deal #{d['id']} opened: {d['title']} ({d['stage']})"))


@deal_app.command("move")
def deal_move(ctx: typer.Context, deal_id: int, stage: str, as_json: bool = JSON) -> None:
    """Move a deal to another stage (history is kept)."""
    cfg = load_config(ctx)
    cases.check_stage(cfg, stage)
    out = cases.move_deal(open_store(cfg), deal_id, stage)
    emit(out, as_json, lambda d: console.print(f"deal #{d['id']}: {d['stage']}"))


@deal_app.command("won")
def deal_won(ctx: typer.Context, deal_id: int, as_json: bool = JSON) -> None:
    """Close a deal as won."""
    out = cases.move_deal(open_store(load_config(ctx)), deal_id, deals.WON)
    emit(out, as_json, lambda d: console.print(f"deal #{d['id']} won"))


@deal_app.command("lost")
def deal_lost(ctx: typer.Context, deal_id: int,
              reason: str = typer.Option(..., "--reason", help="Why it was lost."), as_json: bool = JSON) -> None:
    """Close a deal as lost, with the reason."""
    out = cases.move_deal(open_store(load_config(ctx)), deal_id, deals.LOST, lost_reason=reason)
    emit(out, as_json, lambda d: console.print(f"deal #{d['id']} lost: {d['lost_reason']}"))


@deal_app.command("reopen")
def deal_reopen(ctx: typer.Context, deal_id: int,
                stage: Optional[str] = typer.Option(None, "--stage", help="Open stage to reopen into (default: the one it closed from)."),
                as_json: bool = JSON) -> None:
    """Reopen a won or lost deal (the only way a closed deal moves again)."""
    cfg = load_config(ctx)
    if stage is not None:
        cases.check_stage(cfg, stage)
    out = cases.reopen_deal(open_store(cfg), deal_id, stage)
    emit(out, as_json, lambda d: console.print(f"deal #{d['id']} reopened: {d['stage']}"))


@deal_app.command("list")
def deal_list(ctx: typer.Context, stage: Optional[str] = typer.Option(None, "--stage", help="Only this stage."),
              status: Optional[str] = typer.Option(None, "--status", help="open, won or lost."),
              as_json: bool = JSON) -> None:
    """List deals, newest first."""
    cfg = load_config(ctx)
    rows = cases.list_deals(open_store(cfg), stage, status)
    emit(rows, as_json, lambda r: _render_deals(r, user_tz(cfg)))


@deal_app.command("show")
def deal_show(ctx: typer.Context, deal_id: int, as_json: bool = JSON) -> None:
    """A deal: people, stage history with dates, timeline."""
    cfg = load_config(ctx)
    card = cases.deal_card(open_store(cfg), deal_id)
    emit(card, as_json, lambda c: _render_deal(c, user_tz(cfg)))


@log_app.command("call")
def log_call(ctx: typer.Context, address: str,
             note: Optional[str] = typer.Option(None, "--note", help="What was said."),
             when: Optional[str] = typer.Option(None, "--when", help="When (local YYYY-MM-DD HH:MM; default now)."),
             as_json: bool = JSON) -> None:
    """Log a call (it resets the cadence clock like mail does)."""
    cfg = load_config(ctx)
    at = parse_when(when, user_tz(cfg))
    out = cases.log_call(open_store(cfg), cfg, address, note, at)
    emit(out, as_json, lambda d: console.print(f"call logged at {d['at']:%Y-%m-%d %H:%M} UTC"
                                               + _new_note(address, d)))


@commands.command("note")
def note_cmd(ctx: typer.Context, address: str, text: str, as_json: bool = JSON) -> None:
    """Add a note to a contact's timeline."""
    cfg = load_config(ctx)
    out = cases.add_note(open_store(cfg), cfg, address, text)
    emit(out, as_json, lambda d: console.print("note added" + _new_note(address, d)))


@commands.command("tag")
def tag_cmd(ctx: typer.Context, address: str, tags: list[str], as_json: bool = JSON) -> None:
    """Tag a contact (e.g. `mailcrm tag ivan@theatre.ru театры`)."""
    cfg = load_config(ctx)
    out = cases.tag_contact(open_store(cfg), address, tags, cfg.phone_region())
    emit(out, as_json, lambda d: console.print("tags: " + ", ".join(d["tags"]) + _new_note(address, d)))


@commands.command("untag")
def untag_cmd(ctx: typer.Context, address: str, tags: list[str], as_json: bool = JSON) -> None:
    """Remove tags from a contact."""
    cfg = load_config(ctx)
    out = cases.untag_contact(open_store(cfg), address, tags, cfg.phone_region())
    emit(out, as_json, lambda d: console.print("tags: " + (", ".join(d["tags"]) or "none")))


@date_app.command("add")
def date_add(ctx: typer.Context, args: list[str] = typer.Argument(..., help="ADDR LABEL, or LABEL with --tag."),
             tag: Optional[str] = typer.Option(None, "--tag", help="Attach the date to everyone with this tag."),
             on: Optional[str] = typer.Option(None, "--on", help="Fixed date MM-DD (or YYYY-MM-DD)."),
             rule: Optional[str] = typer.Option(None, "--rule", help='Yearly rule: "3rd sun jun", "27 mar".'),
             as_json: bool = JSON) -> None:
    """Remember a special date for a contact or a tag."""
    if (on is None) == (rule is None):
        raise UsageError("give exactly one of --on MM-DD or --rule \"3rd sun jun\"")
    if tag is None and len(args) != 2:
        raise UsageError("usage: mailcrm date add ADDR LABEL --on MM-DD | --rule RULE")
    if tag is not None and len(args) != 1:
        raise UsageError("usage: mailcrm date add --tag TAG LABEL --on MM-DD | --rule RULE")
    try:
        spec = parse_fixed(on) if on is not None else DateSpec(rule=parse_rule(rule or ""))
    except DateSpecError as exc:
        raise UsageError(str(exc)) from None
    cfg = load_config(ctx)
    out = cases.add_special_date(open_store(cfg), args[-1], spec, address=args[0] if tag is None else None, tag=tag,
                                 region=cfg.phone_region())
    emit(out, as_json, lambda d: console.print(f"date #{d['id']} added: {d['label']}"))


@date_app.command("list")
def date_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """List special dates."""
    rows = cases.list_special_dates(open_store(load_config(ctx)))
    emit(rows, as_json, lambda rs: print_table(f"{len(rs)} dates", ["id", "label", "on", "who"], [
        (r["id"], r["label"], r["on"],
         (r["contact"]["name"] or r["contact"]["address"]) if r["contact"]
         else f"tag {r['tag']['name']} ({r['tag']['contacts']})") for r in rs]))


commands.add_typer(deal_app, name="deal")
commands.add_typer(log_app, name="log")
commands.add_typer(date_app, name="date")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(commands)
