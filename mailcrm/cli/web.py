"""CLI commands: web password (a user's login for the web pages), web token (API bearer tokens)."""

from __future__ import annotations

import getpass
import sys

import typer

from mailcrm.app import web_accounts
from mailcrm.cli.common import console, emit, load_config, open_store
from mailcrm.errors import Invalid

web_app = typer.Typer(help="The web pages and API: users' passwords, API tokens.", no_args_is_help=True)
JSON = typer.Option(False, "--json", help="Machine-readable output.")


def read_password() -> str:
    """The new password: asked twice on a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("New web password: ")
        if getpass.getpass("Again: ") != first:
            raise Invalid("the two passwords differ; nothing changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


commands = typer.Typer()  # this module's top-level commands and groups; register() adds them to the root app


@web_app.command("password")
def web_password(ctx: typer.Context, address: str, as_json: bool = JSON) -> None:
    """Set a user's web password (read from standard input, or asked twice on a terminal)."""
    cfg = load_config(ctx)
    password = read_password()
    store = open_store(cfg)
    try:
        out = web_accounts.set_password(store.factory, cfg, address, password)
    finally:
        store.close()
    emit(out, as_json, lambda r: console.print(
        f"web password set for {r['email']}" + (f"; {r['sessions_ended']} sessions ended" if r["sessions_ended"]
                                                else "")))


@web_app.command("token")
def web_token(ctx: typer.Context, address: str,
              revoke: bool = typer.Option(False, "--revoke", help="Revoke every API token of ADDR instead."),
              as_json: bool = JSON) -> None:
    """Make an API bearer token for a user (printed on the last line), or --revoke them all."""
    cfg = load_config(ctx)
    store = open_store(cfg)
    try:
        if revoke:
            out = web_accounts.revoke_tokens(store.factory, cfg, address)
        else:
            out = web_accounts.issue_token(store.factory, cfg, address)
    finally:
        store.close()
    if revoke:
        emit(out, as_json, lambda r: console.print(f"revoked {r['revoked']} API tokens of {r['email']}"))
    else:
        emit(out, as_json, lambda r: console.print(
            f"API token for {r['email']} (shown once; send it as 'Authorization: Bearer TOKEN'):\n{r['token']}"))


commands.add_typer(web_app, name="web")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(commands)
