"""`mailcrm serve`: the daemon, in a CLI module of its own.

It imports only what the SMTP front end runs (config, logging, the daemon): not the store, the
app, the parsers or rich, which the worker process loads for itself (issue 26: daemon RSS).
"""

from __future__ import annotations

from typing import Optional

import typer

from mailcrm import log
from mailcrm.cli.options import load_config

commands = typer.Typer()  # this module's top-level commands; register() adds them to the root app


@commands.command()
def serve(
    ctx: typer.Context,
    listen: Optional[str] = typer.Option(None, "--listen", help="Override [smtp] host:port, e.g. 127.0.0.1:2525."),
    web: Optional[str] = typer.Option(None, "--web", help="Serve the web listener (form intake) on HOST:PORT; "
                                      "overrides [web] listen."),
) -> None:
    """Run the daemon: SMTP dropbox, web intake, IMAP sources, ingest worker, digest scheduler."""
    from mailcrm import daemon

    cfg = load_config(ctx)
    log.setup(cfg.log.level, cfg.log.format)
    daemon.serve(cfg, daemon.parse_listen(listen) if listen else None,
                 daemon.parse_listen(web) if web else None)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(commands)
