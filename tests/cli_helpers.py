"""The in-process CLI helpers the command tests share: a small config, a --json run, a refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mailcrm.cli import _register, app
from mailcrm.errors import UsageError

_register()
RUNNER = CliRunner()


def write_config(tmp_path: Path, language: str = "ru") -> Path:
    """A one-user config (Moscow time, digests off) in ``tmp_path``; its path."""
    path = tmp_path / "config.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[digest]\nenabled = false\n'
                    '[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
                    f'timezone = "Europe/Moscow"\nlanguage = "{language}"\n')
    return path


def run(cfg: Path, *args: str) -> Any:
    """Run one command with --json; the parsed output."""
    res = RUNNER.invoke(app, ["--config", str(cfg), *args, "--json"])
    assert res.exit_code == 0, (res.output, res.exception)
    return json.loads(res.stdout)


def refused(cfg: Path, *args: str) -> str:
    """Run a command that must fail with a one-line usage error; the message."""
    res = RUNNER.invoke(app, ["--config", str(cfg), *args])
    assert isinstance(res.exception, UsageError), (res.output, res.exception)
    return str(res.exception)
