"""CLI commands: touch every|list|remove (keep in touch every N days with a contact or a tag)."""

from __future__ import annotations

from typing import Optional

import typer

from mailcrm.app import touches
from mailcrm.cli.common import console, emit, load_config, open_store

touch_app = typer.Typer(help="Keep in touch: people not written to, called or met within a period show up in the digest.",
                        no_args_is_help=True)
JSON = typer.Option(False, "--json", help="Machine-readable output.")


commands = typer.Typer()  # this module's top-level commands and groups; register() adds them to the root app


@touch_app.command("every")
def every(ctx: typer.Context, period: str = typer.Argument(..., help="90d, 12w or 3m."),
          tag: Optional[str] = typer.Option(None, "--tag", help="Everyone with this tag."),
          contact: Optional[str] = typer.Option(None, "--contact", help="One contact, by address."),
          as_json: bool = JSON) -> None:
    """Keep in touch every PERIOD with a contact or everyone tagged."""
    touches.parse_period(period)  # refused before the store is opened
    out = touches.add_rule(open_store(load_config(ctx)), period, tag=tag, contact=contact)
    emit(out, as_json, lambda d: console.print(
        f"touch rule #{d['id']}: every {d['every_days']} days with {d['contact'] or 'tag ' + str(d['tag'])}"))


@touch_app.command("list")
def list_cmd(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The keep-in-touch rules."""
    out = touches.list_rules(open_store(load_config(ctx)))
    emit(out, as_json, lambda rows: console.print("\n".join(
        f"#{r['id']} every {r['every_days']} days: {r['contact'] or 'tag ' + str(r['tag'])}" for r in rows)
        or "no touch rules"))


@touch_app.command("remove")
def remove(ctx: typer.Context, rule_id: int, as_json: bool = JSON) -> None:
    """Stop a keep-in-touch rule."""
    out = touches.remove_rule(open_store(load_config(ctx)), rule_id)
    emit(out, as_json, lambda d: console.print(f"touch rule #{d['id']} removed"))


commands.add_typer(touch_app, name="touch")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(commands)
