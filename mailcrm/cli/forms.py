"""CLI commands: form add|list|remove|rotate (lead forms posting to the web intake)."""

from __future__ import annotations

from typing import Any, Optional

import typer

from mailcrm.app import forms
from mailcrm.cli.common import console, emit, load_config, open_store, print_table

form_app = typer.Typer(help="Lead forms: intake URLs a website posts its form submissions to.", no_args_is_help=True)
JSON = typer.Option(False, "--json", help="Machine-readable output.")


def _render_one(r: dict[str, Any]) -> None:
    console.print(f"form:   {r['name']}" + (f" (user {r['user']})" if r.get("user") else ""))
    console.print(f"intake: {r['url']}")


commands = typer.Typer()  # this module's top-level commands and groups; register() adds them to the root app


@form_app.command("add")
def form_add(ctx: typer.Context, name: str,
             user: Optional[str] = typer.Option(None, "--user", help="Whose leads (default: the first user)."),
             as_json: bool = JSON) -> None:
    """Create a form with an unguessable token and print its intake URL."""
    cfg = load_config(ctx)
    store = open_store(cfg)
    try:
        emit(forms.add_form(store.factory, cfg, name, user), as_json, _render_one)
    finally:
        store.close()


@form_app.command("list")
def form_list(ctx: typer.Context, removed: bool = typer.Option(False, "--removed", help="Include removed forms."),
              as_json: bool = JSON) -> None:
    """Forms and their intake URLs."""
    cfg = load_config(ctx)
    store = open_store(cfg)
    try:
        rows = forms.list_forms(store.factory, cfg, include_removed=removed)
    finally:
        store.close()
    emit(rows, as_json, lambda rs: print_table(f"{len(rs)} forms", ["name", "user", "status", "intake URL"],
                                               [(r["name"], r["user"], r["status"], r["url"]) for r in rs]))


@form_app.command("remove")
def form_remove(ctx: typer.Context, name: str, as_json: bool = JSON) -> None:
    """Stop accepting a form's submissions (its URL answers 404; its leads stay)."""
    cfg = load_config(ctx)
    store = open_store(cfg)
    try:
        emit(forms.remove_form(store.factory, cfg, name), as_json,
             lambda r: console.print(f"removed form {r['name']}"))
    finally:
        store.close()


@form_app.command("rotate")
def form_rotate(ctx: typer.Context, name: str, as_json: bool = JSON) -> None:
    """Give a form a new token (the old URL answers 404 within seconds)."""
    cfg = load_config(ctx)
    store = open_store(cfg)
    try:
        emit(forms.rotate_form(store.factory, cfg, name), as_json, _render_one)
    finally:
        store.close()


commands.add_typer(form_app, name="form")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(commands)
