"""Edits of the config file that keep the user's comments and layout (tomlkit), validated before writing.

The only writer of an existing config file: a change is parsed by ``config.parse`` first, then written to a
private temporary file, fsync'd and renamed over the old one, so a crash leaves the old or the new file whole.
"""

from __future__ import annotations

import os
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from mailcrm import config as config_mod
from mailcrm.errors import ConfigError
from mailcrm.private_files import write_private


def set_user_dropbox(path: Path, email: str, dropbox: str) -> None:
    """Replace the dropbox of the ``[[users]]`` entry whose ``email`` is ``email`` (any case)."""
    text = _read(path)
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    users = doc.get("users")
    entry = next((u for u in (users or []) if str(u.get("email", "")).strip().lower() == email.strip().lower()), None)
    if entry is None:
        raise ConfigError(f"{path}: no [[users]] entry with email = {email!r}")
    entry["dropbox"] = dropbox
    _replace(path, tomlkit.dumps(doc))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _replace(path: Path, text: str) -> None:
    config_mod.parse(text, str(path))  # never write a file the daemon would refuse
    tmp = path.with_name(path.name + ".tmp")
    write_private(tmp, text.encode("utf-8"), fsync=True)
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
