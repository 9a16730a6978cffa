"""The `mailcrm` console script: one typer app; each module registers its subcommands.

Thin by design: parse arguments -> call one function -> render (rich table or --json).
Errors from mailcrm (config, usage, store) print one line and exit 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from mailcrm.errors import MailcrmError, StoreUnavailable

app = typer.Typer(
    name="mailcrm",
    help="A self-hosted CRM that lives in the mailbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", envvar="MAILCRM_CONFIG", help="Config file (default: XDG config dir)."
    ),
) -> None:
    """mailcrm: BCC, forward and bounce mail -> contacts, deals and a morning digest."""
    from mailcrm.cli.common import state

    state(ctx).config_path = config


def _register() -> None:
    # Each module owns one group of commands (see README, "Commands").
    from mailcrm.cli import bounces, contacts, core, deals, digest, imports

    for mod in (core, contacts, bounces, deals, digest, imports):
        mod.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning mailcrm errors into one line and exit 2."""
    from mailcrm import log

    log.setup("warning", "console", sys.stderr)  # stdout is for results (--json); serve reconfigures
    _register()
    try:
        app(args=argv, standalone_mode=True)
    except StoreUnavailable as exc:
        sys.stderr.write(f"mailcrm: database unavailable: {exc}\n")
        sys.exit(2)
    except MailcrmError as exc:
        sys.stderr.write(f"mailcrm: {exc}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("mailcrm: interrupted\n")
        sys.exit(130)
