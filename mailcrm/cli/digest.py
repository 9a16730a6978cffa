"""CLI commands: digest preview|send."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import sys
from typing import Any, Optional

import typer

from mailcrm.app import cases
from mailcrm.cli.common import emit, load_config, open_store
from mailcrm.digest.compose import local_today, pick_user
from mailcrm.errors import UsageError

digest_app = typer.Typer(help="The morning digest.", no_args_is_help=True)


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date {text!r}: expected YYYY-MM-DD") from None


def _write(text: str) -> None:
    sys.stdout.write(text)


commands = typer.Typer()  # this module's top-level commands and groups; register() adds them to the root app


@digest_app.command("preview")
def preview(ctx: typer.Context, user: Optional[str] = typer.Option(None, "--user", help="Whose digest (default: first user)."),
            date: Optional[str] = typer.Option(None, "--date", help="Local date YYYY-MM-DD (default: today)."),
            html: bool = typer.Option(False, "--html", help="Print the HTML part instead of the text."),
            as_json: bool = typer.Option(False, "--json", help="Subject, text, html and section counts.")) -> None:
    """Print a digest without sending it."""
    cfg = load_config(ctx)
    u = pick_user(cfg, user)
    day = _date(date) or local_today(u)
    store = open_store(cfg)
    cases.sync_users(store, cfg)
    digest, rendered = cases.preview_digest(store, cfg, u, day)
    data: dict[str, Any] = {"user": u.email, "date": day, "subject": rendered.subject, "empty": rendered.empty,
                            "summary": digest.summary(), "text": rendered.text, "html": rendered.html}
    emit(data, as_json, lambda d: _write(d["html"] if html else f"Subject: {d['subject']}\n\n{d['text']}"))


@digest_app.command("send")
def send(ctx: typer.Context, user: Optional[str] = typer.Option(None, "--user", help="Whose digest (default: first user)."),
         date: Optional[str] = typer.Option(None, "--date", help="Local date YYYY-MM-DD (default: today)."),
         as_json: bool = typer.Option(False, "--json", help="Machine-readable outcome.")) -> None:
    """Send a digest now (still at most once per user and date)."""
    from mailcrm.digest.schedule import run_digest

    cfg = load_config(ctx)
    u = pick_user(cfg, user)
    day = _date(date) or local_today(u)
    store = open_store(cfg)
    cases.sync_users(store, cfg)
    result = asyncio.run(run_digest(cfg, store.factory, u, day, f"cli:{socket.gethostname()}:{os.getpid()}"))
    store.close()
    emit(result, as_json, lambda r: _write(
        {"sent": f"digest for {r['user']} on {r['date']} sent\n",
         "skipped": f"nothing to do on {r['date']}: no digest sent (digest.empty_day = \"none\")\n",
         "taken": f"digest for {r['user']} on {r['date']} was already sent (or is being sent)\n"}.get(
            r["outcome"], f"digest not sent: {r.get('error')}\n")))
    if result["outcome"] == "failed":
        raise typer.Exit(1)


commands.add_typer(digest_app, name="digest")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(commands)
