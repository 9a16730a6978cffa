"""CLI commands: contacts, show, contact edit|merge, companies, company show."""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich.table import Table

from mailcrm.app import cases
from mailcrm.cli.common import console, emit, err_console, load_config, local_time, open_store, print_json, print_table, user_tz
from mailcrm.errors import UsageError

contact_app = typer.Typer(help="Edit or merge one contact.", no_args_is_help=True)
companies_app = typer.Typer(help="Companies and grouping suggestions.", invoke_without_command=True)
company_app = typer.Typer(help="One company.", no_args_is_help=True)


TABLE_LIMIT = 500  # contacts listed in a table unless --limit says otherwise
SHOW_LIMIT = 50  # timeline entries `show` prints unless --limit/--all


def _render_contacts(rows: list[dict[str, Any]], total: int | None = None) -> None:
    title = f"{len(rows)} contacts" if total is None or total <= len(rows) else f"{len(rows)} of {total} contacts shown (--limit N for more)"
    print_table(title, ["name", "addresses", "company", "title", "phones", "tags"], [
        (r["name"], ", ".join(a["address"] + ("" if a["status"] == "active" else f" ({a['status']})")
                              for a in r["addresses"]),
         r["company"], r["title"], ", ".join(r["phones"]), ", ".join(r["tags"])) for r in rows])


def _render_works(works: list[dict[str, Any]]) -> None:
    if works:
        print_table("works received", ["work", "who", "first sent", "last sent", "times", "answer"], [
            (w["title"], w["name"], str(w["first_sent"])[:10], str(w["last_sent"])[:10], w["times"], w["answer"])
            for w in works])


def _render_card(card: dict[str, Any], tz: str = "UTC") -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    addresses = "\n".join(a["address"] + ("" if a["status"] == "active" else f"  ({a['status']}"
                                           + (f": {a['reason']}" if a.get("reason") else "") + ")")
                          for a in card["addresses"])
    for label, value in (("name", card.get("name")), ("addresses", addresses), ("company", card.get("company")),
                         ("title", card.get("title")), ("phones", ", ".join(card.get("phones") or [])),
                         ("website", card.get("website")), ("city", card.get("city")),
                         ("tags", ", ".join(card.get("tags") or [])), ("notes", card.get("notes"))):
        if value:
            grid.add_row(label, str(value))
    console.print(grid)
    if card.get("needs_new_address"):
        console.print("needs a new address: every address bounced", style="bold")
    _render_works(card.get("works") or [])
    shown, total = len(card["timeline"]), card.get("timeline_total", len(card["timeline"]))
    title = "timeline (newest first)" if total <= shown else f"timeline: newest {shown} of {total} (--limit N or --all for more)"
    print_table(title, [f"when ({tz})", "kind", "", "subject / text"], [
        (local_time(i["at"], tz), i["kind"], i.get("direction") or "",
         (i.get("subject") or "") + (" — " + i["snippet"][:80] if i.get("snippet") else "") if i["type"] == "message"
         else i.get("text")) for i in card["timeline"]])


commands = typer.Typer()  # this module's top-level commands and groups; register() adds them to the root app


@commands.command("contacts")
def contacts_cmd(ctx: typer.Context,
                 search: Optional[str] = typer.Option(None, "--search", help="Match name, address, company, title, phone or tag "
                                                      "(any case, ё = е)."),
                 limit: Optional[int] = typer.Option(None, "--limit", help="At most N (the table's default: 500; --json: all)."),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """List contacts."""
    cfg = load_config(ctx)
    store = open_store(cfg)
    if limit is None and not as_json:
        limit = TABLE_LIMIT
    rows, total = cases.list_contacts(store, search, limit, cfg.phone_region())
    if as_json:
        if len(rows) < total:
            err_console.print(f"{len(rows)} of {total} contacts shown (--limit)")
        print_json(rows)
    else:
        _render_contacts(rows, total)


@commands.command("show")
def show_cmd(ctx: typer.Context, address: str,
             limit: int = typer.Option(SHOW_LIMIT, "--limit", help="The newest N timeline entries."),
             show_all: bool = typer.Option(False, "--all", help="The whole timeline."),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """A contact's card and timeline, newest first (the newest 50 unless --limit/--all)."""
    if limit < 1:
        raise UsageError("--limit must be 1 or more (--all shows everything)")
    cfg = load_config(ctx)
    card = cases.contact_card(open_store(cfg), address, None if show_all else limit, cfg.phone_region())
    emit(card, as_json, lambda c: _render_card(c, user_tz(cfg)))


@contact_app.command("edit")
def contact_edit_cmd(ctx: typer.Context, address: str,
                     name: Optional[str] = typer.Option(None, "--name"), title: Optional[str] = typer.Option(None, "--title"),
                     company: Optional[str] = typer.Option(None, "--company"),
                     phone: Optional[list[str]] = typer.Option(None, "--phone", help="Repeatable; replaces the list."),
                     as_json: bool = typer.Option(False, "--json")) -> None:
    """Set name/title/company/phones; typed values are never overwritten by parsed signatures."""
    cfg = load_config(ctx)
    region = cfg.phone_region()
    store = open_store(cfg)
    row = cases.edit_contact(store, address, name=name, title=title, company=company,
                             phones=list(phone) if phone else None, region=region)
    emit(row, as_json, lambda r: _render_contacts([r]))


@contact_app.command("merge")
def contact_merge_cmd(ctx: typer.Context, keep: str, drop: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Merge contact B into A: addresses, timeline, tags and deals all move to A."""
    store = open_store(load_config(ctx))
    row = cases.merge_contacts(store, keep, drop)
    emit(row, as_json, lambda r: _render_contacts([r]))


@companies_app.callback()
def companies_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List companies (subcommands: suggestions, accept, reject)."""
    if ctx.invoked_subcommand:
        return
    store = open_store(load_config(ctx))
    rows = cases.list_companies(store)
    emit(rows, as_json, lambda r: print_table(f"{len(r)} companies", ["id", "name", "domain", "people"],
                                              [(x["id"], x["name"], x["domain"], x["people"]) for x in r]))


@companies_app.command("suggestions")
def suggestions_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Groupings that are not certain, waiting for accept/reject."""
    store = open_store(load_config(ctx))
    rows = cases.list_suggestions(store)
    emit(rows, as_json, lambda r: print_table("suggestions", ["id", "kind", "contact", "company", "proposed", "reason"],
                                              [(x["id"], x["kind"], x["contact"], x["company"], x["proposed"], x["reason"]) for x in r]))


@companies_app.command("accept")
def accept_cmd(ctx: typer.Context, suggestion_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """Apply a suggestion."""
    store = open_store(load_config(ctx))
    row = cases.decide_suggestion(store, suggestion_id, accept=True)
    emit(row, as_json, lambda r: console.print(f"suggestion {r['id']}: {r['status']}"))


@companies_app.command("reject")
def reject_cmd(ctx: typer.Context, suggestion_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """Dismiss a suggestion."""
    store = open_store(load_config(ctx))
    row = cases.decide_suggestion(store, suggestion_id, accept=False)
    emit(row, as_json, lambda r: console.print(f"suggestion {r['id']}: {r['status']}"))


@company_app.command("show")
def company_show_cmd(ctx: typer.Context, name: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """People and the whole timeline of one company."""
    cfg = load_config(ctx)
    card = cases.company_card(open_store(cfg), name)

    def render(c: dict[str, Any]) -> None:
        console.print(f"{c['name']} {c['domain'] or ''}", style="bold")
        _render_contacts(c["people"])
        _render_card({**c, "timeline": c["timeline"], "needs_new_address": False, "name": None, "addresses": [],
                      "company": None, "title": None, "phones": [], "tags": []}, user_tz(cfg))

    emit(card, as_json, render)


commands.add_typer(contact_app, name="contact")
commands.add_typer(companies_app, name="companies")
commands.add_typer(company_app, name="company")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(commands)
