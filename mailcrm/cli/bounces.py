"""CLI commands: bounces, address reactivate."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer

from mailcrm.app import cases
from mailcrm.cli.common import console, emit, load_config, local_time, open_store, print_table, user_tz
from mailcrm.errors import UsageError

address_app = typer.Typer(help="One email address.", no_args_is_help=True)


commands = typer.Typer()  # this module's top-level commands and groups; register() adds them to the root app


@commands.command("bounces")
def bounces_cmd(ctx: typer.Context,
                days: int = typer.Option(30, "--days", help="How far back."),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Recent bounces: verified or not, hard or soft, reason and effect."""
    if days < 0:
        raise UsageError("--days must be 0 or more")
    since = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=days)
    cfg = load_config(ctx)
    rows = cases.list_bounces(open_store(cfg), since)
    tz = user_tz(cfg)

    def render(r: list[dict[str, Any]]) -> None:
        print_table(f"{len(r)} bounces", [f"when ({tz})", "address", "hard", "verified", "reason", "effect", "note"],
                    [(local_time(x["at"], tz), x["address"], "hard" if x["hard"] else "soft",
                      "yes" if x["verified"] else "NO", x["reason"] or x["status"], x["effect"], x["note"]) for x in r])

    emit(rows, as_json, render)


@address_app.command("reactivate")
def reactivate_cmd(ctx: typer.Context, address: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Mark a bounced or suspect address active again."""
    row = cases.reactivate_address(open_store(load_config(ctx)), address)
    emit(row, as_json, lambda r: console.print(f"{r['address']}: {r['status']}"))


@address_app.command("confirm-bounced")
def confirm_cmd(ctx: typer.Context, address: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Mark an address dead (a suspect one: a report without the original, or a run of soft failures)."""
    row = cases.confirm_bounced(open_store(load_config(ctx)), address)
    emit(row, as_json, lambda r: console.print(f"{r['address']}: {r['status']}"))


commands.add_typer(address_app, name="address")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(commands)
