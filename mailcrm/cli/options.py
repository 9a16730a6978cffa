"""The global options of a CLI run (``--config``), kept on the typer context.

A module of its own, importing nothing of mailcrm: the root callback and ``serve`` need it, and
neither should load the store, rich or the parsers to read one option.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from mailcrm import config as config_mod
from mailcrm.config import Config


@dataclass
class State:
    """Global options, stored on the typer context."""

    config_path: Path | None = None


def state(ctx: typer.Context) -> State:
    """The global option state of this invocation."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def load_config(ctx: typer.Context) -> Config:
    """Load the config named by --config / MAILCRM_CONFIG / the XDG default.

    Its warnings (``Config.warnings``) are shown by ``init``, ``status`` and the daemon's start,
    not by every command: a script reading stderr gets one line per error.
    """
    return config_mod.load(state(ctx).config_path)
