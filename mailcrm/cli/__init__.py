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
    from mailcrm.cli.options import state

    state(ctx).config_path = config


# Which module owns each top-level command or group.  A run registers only the module of the
# command it was given (all of them for --help or an unknown word): importing every module
# compiles the parsers' patterns and loads Alembic, digest and import code, which is most of a
# command's start-up time.  tests/test_cli_startup.py checks this table against the modules.
MODULES = ("core", "serve", "contacts", "bounces", "deals", "digest", "imports", "works", "forms", "web", "touch")
OWNER = {
    "init": "core", "serve": "serve", "status": "core", "inspect": "core", "quarantine": "core", "dropbox": "core",
    "contacts": "contacts", "show": "contacts", "contact": "contacts", "companies": "contacts",
    "company": "contacts",
    "bounces": "bounces", "address": "bounces",
    "note": "deals", "tag": "deals", "untag": "deals", "deal": "deals", "log": "deals", "date": "deals",
    "digest": "digest",
    "import": "imports", "export": "imports",
    "works": "works", "work": "works", "outreach": "works", "check": "works", "proof": "works",
    "form": "forms",
    "web": "web",
    "touch": "touch",
}


def command_word(argv: list[str]) -> str | None:
    """The command named in ``argv`` (the first word that is not a global option), or None."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--config", "-c"):
            i += 2
            continue
        if arg.startswith("-"):
            return None  # --help, --config=PATH or an unknown option: let typer see every command
        return arg
    return None


_REGISTERED: set[str] = set()


def _register(argv: list[str] | None = None) -> None:
    """Add the commands of the module that owns ``argv``'s command (every module without one)."""
    import importlib

    owner = OWNER.get(command_word(argv or []) or "")
    for name in (owner,) if owner else MODULES:
        if name not in _REGISTERED:  # each module once, however often this is called
            _REGISTERED.add(name)
            importlib.import_module(f"mailcrm.cli.{name}").register(app)


def hoist_config(argv: list[str]) -> list[str]:
    """``argv`` with every ``--config X`` / ``-c X`` / ``--config=X`` moved before the command.

    README promises that every command takes ``--config``; typer reads it only as a global
    option, so ``mailcrm contacts --config X`` is rewritten to ``mailcrm --config X contacts``.
    Words after ``--`` are left alone.
    """
    head: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in ("--config", "-c") and i + 1 < len(argv):
            head += [arg, argv[i + 1]]
            i += 2
            continue
        if arg.startswith("--config="):
            head += ["--config", arg.split("=", 1)[1]]
        else:
            rest.append(arg)
        i += 1
    return head + rest


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning mailcrm errors into one line and exit 2."""
    from mailcrm import log

    log.setup("warning", "console", sys.stderr, lazy=True)  # stdout is for results (--json); serve reconfigures
    args = hoist_config(sys.argv[1:] if argv is None else argv)
    _register(args)
    try:
        app(args=args, standalone_mode=True)
    except StoreUnavailable as exc:
        sys.stderr.write(f"mailcrm: database unavailable: {exc}\n")
        sys.exit(2)
    except MailcrmError as exc:
        sys.stderr.write(f"mailcrm: {exc}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("mailcrm: interrupted\n")
        sys.exit(130)
