"""The docs stay honest: every command is in README.md, every config key in config.example.toml."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
from pydantic import BaseModel

from mailcrm import config
from mailcrm.cli import _register, app

ROOT = Path(__file__).resolve().parents[1]


def _commands(cmd: object, prefix: str) -> list[str]:
    out = [prefix]
    if hasattr(cmd, "commands"):
        for name, sub in cmd.commands.items():  # type: ignore[attr-defined]
            out.extend(_commands(sub, f"{prefix} {name}"))
    return out


def all_commands() -> list[str]:
    """Every command path, e.g. 'mailcrm quarantine retry'."""
    _register()
    return _commands(typer.main.get_command(app), "mailcrm")[1:]


def test_every_command_is_in_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = all_commands()
    assert len(commands) > 10
    missing = [c for c in commands if c not in readme]
    assert not missing, f"commands not documented in README.md: {missing}"


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        ann = field.annotation
        inner = getattr(ann, "__args__", None)
        sub = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if sub is None and inner:
            sub = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        out.append(prefix + name)
        if sub is not None:
            out.extend(_keys(sub, prefix + name + "."))
    return out


def test_every_config_key_is_in_example() -> None:
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    missing = []
    for key in _keys(config.Config):
        leaf = key.rsplit(".", 1)[-1]
        if not re.search(rf"(^|[\s\[.#]){re.escape(leaf)}(\s*=|\]|\.)", example, re.M):
            missing.append(key)
    assert not missing, f"config keys not in config.example.toml: {missing}"


def test_example_config_is_valid() -> None:
    cfg = config.load(ROOT / "config.example.toml")
    assert cfg.users and cfg.users[0].dropbox.startswith("crm+")


def test_ci_runs_readmes_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("Run the tests", 1)[1].split("```sh\n", 1)[1].split("\n```", 1)[0].strip()
    assert "pytest" in block
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert block in ci.splitlines(), f"{block!r} is not a line of .ci/run"
