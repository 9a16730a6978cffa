"""CLI commands: web password (a user's login for the web pages)."""

from __future__ import annotations

import getpass
import sys

import typer

from mailcrm.app import web_accounts
from mailcrm.cli.common import console, emit, load_config, open_store
from mailcrm.errors import Invalid

web_app = typer.Typer(help="The web pages: users' passwords.", no_args_is_help=True)
JSON = typer.Option(False, "--json", help="Machine-readable output.")


def read_password() -> str:
    """The new password: asked twice on a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("New web password: ")
        if getpass.getpass("Again: ") != first:
            raise Invalid("the two passwords differ; nothing changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def register(app: typer.Typer) -> None:
    """Add the ``web`` command group."""
    app.add_typer(web_app, name="web")

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
