"""Private files: directories 0700 and files 0600 whatever the process umask.

Raw mail, sidecars (they hold the dropbox address, which is the secret that lets mail in), the
SQLite database and its -wal/-shm, the quarantine and exports are the user's data, readable by
nobody else.  Files are created with ``os.open(..., 0o600)`` and then ``fchmod``-ed, so neither
a permissive umask nor a file left over with wider bits makes them readable by others.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, tighten: bool = True) -> Path:
    """Create ``path`` (and missing parents) as 0700; ``tighten`` also resets an existing ``path`` to 0700."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass
        os.chmod(d, DIR_MODE)  # mkdir's mode is masked by the umask
    if tighten and path.is_dir() and (path.stat().st_mode & 0o777) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def open_private(path: Path | str, flags: int) -> int:
    """``os.open`` with O_CREAT and mode 0600, the mode forced even if the file already existed."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):  # not a device such as /dev/stdout
            os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def touch_private(path: Path | str) -> None:
    """Create ``path`` empty if missing; either way its mode becomes 0600."""
    os.close(open_private(path, os.O_WRONLY))


def write_private(path: Path | str, data: bytes, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` (truncating it) as a 0600 file; ``fsync`` before closing if asked."""
    fd = open_private(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        if fsync:
            os.fsync(fh.fileno())


def tighten_file(path: Path | str) -> None:
    """Reset an existing file to 0600 (a no-op when it does not exist)."""
    try:
        os.chmod(path, FILE_MODE)
    except FileNotFoundError:
        pass
