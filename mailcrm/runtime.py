"""What a running daemon has open, for `mailcrm status`: ``data_dir/daemon.json``.

``serve`` writes it once its listeners are bound (pid, start time, each socket as really bound:
``--listen`` and port 0 included) and removes it at a clean stop. ``status`` reports those sockets
while that pid lives; a file left by a killed daemon is recognised as stale.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

FILE = "daemon.json"


def write(data_dir: Path, sockets: list[dict[str, str]]) -> Path:
    """Record this process's sockets (atomically, mode 0600)."""
    path = data_dir / FILE
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    body = {"pid": os.getpid(), "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "sockets": sockets}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(body, f)
    os.replace(tmp, path)
    return path


def remove(data_dir: Path) -> None:
    """Forget the record at a clean stop (only our own)."""
    path = data_dir / FILE
    current = read(data_dir)
    if current is not None and current.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def read(data_dir: Path) -> dict[str, Any] | None:
    """The record, or None when there is none or it cannot be read."""
    try:
        data = json.loads((data_dir / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def running(data_dir: Path) -> dict[str, Any] | None:
    """The record of a daemon that is alive now (None: none running, or it died)."""
    data = read(data_dir)
    if data is None or not isinstance(data.get("pid"), int):
        return None
    try:
        os.kill(data["pid"], 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    return data
