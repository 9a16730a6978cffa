"""Shared CLI plumbing: config/store opening, --json output, one-line errors."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from mailcrm.app.handle import Store, open_store
from mailcrm.cli.options import State, load_config, state
from mailcrm.config import Config

__all__ = ["State", "Store", "load_config", "open_store", "state"]

# markup=False: what we print is mail data; "[/b]" in a subject must stay text, not rich markup.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)


def user_tz(cfg: Config) -> str:
    """The time zone times are shown in: the (first) user's, else UTC."""
    return cfg.users[0].timezone if cfg.users else "UTC"


def local_time(at: dt.datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A naive-UTC store time as the user's local time (``fmt``); "" for None."""
    if at is None:
        return ""
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(ZoneInfo(tz)).strftime(fmt)


def to_jsonable(value: Any) -> Any:
    """Dates, decimals and paths as JSON-friendly values."""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    return value


def print_json(data: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(to_jsonable(data), ensure_ascii=False, indent=2) + "\n")


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Render rows as a rich table."""
    table = Table(title=title, show_lines=False)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*("" if v is None else str(to_jsonable(v)) for v in r))
    console.print(table)


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """--json prints ``data``; otherwise ``render(data)`` draws it for people."""
    if as_json:
        print_json(data)
    else:
        render(data)
