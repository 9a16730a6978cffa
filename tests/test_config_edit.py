"""`mailcrm dropbox rotate` edits the config with tomlkit: the user's comments and layout stay, the file stays private."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mailcrm import config as config_mod
from mailcrm import config_edit
from mailcrm.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def mailcrm(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mailcrm", *args], capture_output=True, text=True, env=env, timeout=120)


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "c.toml"
    res = mailcrm("--config", str(cfg), "init", "--email", "me@teatr.example", "--data-dir", str(tmp_path / "d"), "--json")
    assert res.returncode == 0, res.stderr
    text = cfg.read_text(encoding="utf-8")
    # A second user, and the user's own comments, in and around the [[users]] tables.
    text = "# my CRM — do not lose this comment\n" + text + (
        '\n# the agency colleague\n[[users]]\nemail = "kolya@teatr.example"   # Коля\n'
        'dropbox = "crm+0123456789abcdef0123@teatr.example"\n')
    cfg.write_text(text, encoding="utf-8")
    return cfg


def test_rotate_replaces_one_users_dropbox_and_keeps_the_rest(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    before = config_mod.load(cfg)
    old = {u.email: u.dropbox for u in before.users}
    res = mailcrm("--config", str(cfg), "dropbox", "rotate", "--user", "kolya@teatr.example", "--json")
    assert res.returncode == 0, res.stderr
    new = json.loads(res.stdout)["dropbox"]
    after = config_mod.load(cfg)
    boxes = {u.email: u.dropbox for u in after.users}
    assert boxes["kolya@teatr.example"] == new != old["kolya@teatr.example"]
    assert boxes["me@teatr.example"] == old["me@teatr.example"]
    text = cfg.read_text(encoding="utf-8")
    assert "# my CRM — do not lose this comment" in text and "# Коля" in text and "# the agency colleague" in text
    assert old["kolya@teatr.example"] not in text
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert not list(tmp_path.glob("*.tmp"))


def test_rotate_with_several_users_asks_which(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    res = mailcrm("--config", str(cfg), "dropbox", "rotate")
    assert res.returncode == 2 and "--user" in res.stderr and "Traceback" not in res.stderr


def test_an_edit_the_config_would_refuse_is_not_written(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    text = cfg.read_text(encoding="utf-8")
    with pytest.raises(ConfigError):
        config_edit.set_user_dropbox(cfg, "me@teatr.example", "not an address")
    with pytest.raises(ConfigError, match="no \\[\\[users\\]\\] entry"):
        config_edit.set_user_dropbox(cfg, "nobody@teatr.example", "crm+ffffffffffffffffffff@teatr.example")
    assert cfg.read_text(encoding="utf-8") == text
