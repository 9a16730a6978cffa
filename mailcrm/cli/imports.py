"""CLI commands: `import mbox|maildir|imap|contacts` and `export contacts` (see README)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mailcrm.app import cases
from mailcrm.cli.common import console, emit, err_console, load_config, open_store, print_table
from mailcrm.errors import UsageError

import_app = typer.Typer(help="Import mail history and contact sheets.", no_args_is_help=True)
export_app = typer.Typer(help="Export contacts.", no_args_is_help=True)

ROLE_HELP = "Folder role: sent (your mail creates contacts), inbox (known senders, bounces, auto-replies only), dropbox."


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int, int | None], None]]:
    """A rich progress bar on stderr; yields update(done, total)."""
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err_console, disable=not enabled, transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _mail_report(result: dict[str, Any]) -> None:
    console.print(
        f"{result['source']}: read {result['found']}  stored {result['stored']}  duplicate {result['duplicate']}  "
        f"skipped {result['skipped']}  quarantined {result['quarantined']}"
        + (f"  private (not read) {result['private']}" if result.get("private") else "")
    )
    if result.get("resumed_from") is not None:
        console.print(f"resumed after position {result['resumed_from']}")


def _prepare(ctx: typer.Context) -> tuple[Any, Any]:
    cfg = load_config(ctx)
    store = open_store(cfg)
    cases.sync_users(store, cfg)
    return cfg, store


def _role(role: str) -> str:
    if role not in ("dropbox", "inbox", "sent"):
        raise UsageError(f"--role {role!r}: expected sent, inbox or dropbox")
    return role


def _since(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--since {value!r}: expected a date YYYY-MM-DD") from None


@import_app.command("mbox")
def import_mbox_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="An mbox file."),
    role: str = typer.Option("sent", "--role", help=ROLE_HELP),
    known_only: bool = typer.Option(False, "--known-only", help="Do not create contacts, only attach to known ones."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Import an mbox file through the ingest pipeline (resumable, idempotent)."""
    from mailcrm.sources.mbox import import_mbox

    cfg, store = _prepare(ctx)
    with _progress("mbox", not as_json and err_console.is_terminal) as update:
        report = import_mbox(cfg, store.factory, file, update, role=_role(role), create_contacts=not known_only)
    store.close()
    emit(report.to_json(), as_json, _mail_report)


@import_app.command("maildir")
def import_maildir_cmd(
    ctx: typer.Context,
    directory: Path = typer.Argument(..., help="A Maildir (with cur/ and new/)."),
    role: str = typer.Option("sent", "--role", help=ROLE_HELP),
    known_only: bool = typer.Option(False, "--known-only", help="Do not create contacts, only attach to known ones."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Import a Maildir through the ingest pipeline (resumable, idempotent)."""
    from mailcrm.sources.maildir import import_maildir

    cfg, store = _prepare(ctx)
    with _progress("maildir", not as_json and err_console.is_terminal) as update:
        report = import_maildir(cfg, store.factory, directory, update, role=_role(role),
                                create_contacts=not known_only)
    store.close()
    emit(report.to_json(), as_json, _mail_report)


@import_app.command("imap")
def import_imap_cmd(
    ctx: typer.Context,
    account: str = typer.Argument(..., help="A configured [[imap]] name, or imaps://user@host:993/Folder."),
    folder: Optional[str] = typer.Option(None, "--folder", help="The folder to import (e.g. Sent)."),
    since: Optional[str] = typer.Option(None, "--since", help="Only mail since this date (YYYY-MM-DD)."),
    password_file: Optional[Path] = typer.Option(None, "--password-file", help="Password file (with a URL)."),
    role: Optional[str] = typer.Option(None, "--role", help=ROLE_HELP + " Default: the configured role, "
                                       "else sent for a Sent folder and inbox otherwise."),
    known_only: bool = typer.Option(False, "--known-only", help="Do not create contacts, only attach to known ones."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Import one IMAP folder (read-only) through the ingest pipeline (resumable, idempotent)."""
    from mailcrm.sources.imap_once import import_imap

    cfg, store = _prepare(ctx)
    with _progress("imap", not as_json and err_console.is_terminal) as update:
        report = import_imap(cfg, store.factory, account, folder, since=_since(since), password_file=password_file,
                             role=role, create_contacts=False if known_only else None, progress=update)
    store.close()
    emit(report.to_json(), as_json, _mail_report)


@import_app.command("contacts")
def import_contacts_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="An .xlsx or .csv file (headers in Russian or English)."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Tag every imported contact."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be created, merged and skipped."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Import contacts from a sheet: one sheet per tag, several addresses/phones per cell."""
    from mailcrm.app.sheet_import import import_file

    cfg, store = _prepare(ctx)
    region = cfg.phone_region()
    try:
        result = import_file(store.factory, file, region, tag, dry_run=dry_run)
    finally:
        store.close()

    def render(r: dict[str, Any]) -> None:
        verb = "would be " if r["dry_run"] else ""
        print_table(None, ["sheet", "row", "action", "email", "reason"],
                    [(d["sheet"], d["row"] or "-", d["action"], d["email"], d["reason"]) for d in r["rows"]])
        console.print(f"{verb}created {r['create']}, merged {r['merge']}, skipped {r['skip']}, bad rows {r['bad']}")

    emit(result, as_json, render)


@export_app.command("contacts")
def export_contacts_cmd(
    ctx: typer.Context,
    fmt: str = typer.Option("csv", "--format", help="csv (Mailchimp audience), xlsx (sheet per tag) or vcard."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Only contacts with this tag."),
    include_bounced: bool = typer.Option(False, "--include-bounced", help="Also bounced and suspect addresses, with a status column."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file (default: stdout)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary (needs --output)."),
) -> None:
    """Export contacts as CSV, XLSX or vCard 4.0; bounced and suspect addresses are excluded by default."""
    from mailcrm.transfer.export import check_format, export_contacts

    if as_json and output is None:
        raise UsageError("--json prints a summary: give --output FILE for the export itself")
    check_format(fmt, output)
    cfg = load_config(ctx)
    store = open_store(cfg)
    summary, text = export_contacts(cases.export_rows(store, tag, include_bounced), fmt, output, tag, include_bounced)
    store.close()
    if text is not None:
        sys.stdout.write(text)
        return
    emit(summary, as_json, lambda s: err_console.print(f"exported {s['contacts']} contacts "
                                                       f"({s['addresses']} addresses) to {s['output']}"))


commands = typer.Typer()  # this module's top-level commands and groups; register() adds them to the root app


commands.add_typer(import_app, name="import")
commands.add_typer(export_app, name="export")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(commands)
