"""Config validation: one clear line naming file, key and problem; exit 2 from the CLI, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailcrm import config
from mailcrm.errors import ConfigError

BASE = '[[users]]\nemail = "me@example.org"\ndropbox = "crm+x@example.org"\n'


@pytest.mark.parametrize("text, expect", [
    ("[smtp]\nport = 99999\n" + BASE, "smtp.port"),
    ("[smtp]\nprot = 25\n" + BASE, "smtp.prot: unknown key"),
    ('[[users]]\nemail = "nope"\ndropbox = "crm+x@example.org"\n', "users[0].email"),
    (BASE.replace('dropbox', 'timezone = "Mars/Base"\ndropbox'), "unknown IANA time zone"),
    (BASE + '[[imap]]\nname="a"\nhost="imap.example.org"\nusername="u"\nsecurity="plain"\npassword_env="X"\n',
     "loopback"),
    ("this is = = not toml", "not valid TOML"),
    (BASE + '[cadence]\ndefault_stage = "nope"\n', "default_stage"),
])
def test_errors_are_one_line_with_location(text: str, expect: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config.parse(text, "/etc/mailcrm/config.toml")
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("/etc/mailcrm/config.toml")
    assert expect in msg


def test_defaults_and_sub_addresses() -> None:
    cfg = config.parse(BASE, "x")
    assert cfg.smtp.port == 2525 and cfg.smtp.host == "127.0.0.1"
    assert cfg.database_url().startswith("sqlite:///")
    assert config.dropbox_matches("crm+x@example.org", "crm+x+deal@example.org")
    assert not config.dropbox_matches("crm+x@example.org", "crm+y@example.org")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailcrm", *args], capture_output=True, text=True, env=env, timeout=60)


def test_cli_bad_config_and_input_give_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "c"), XDG_DATA_HOME=str(tmp_path / "d"))
    env.pop("MAILCRM_CONFIG", None)
    res = _run(["status"], env)
    assert res.returncode == 2 and "mailcrm init" in res.stderr and "Traceback" not in res.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[smtp]\nport = 'x'\n" + BASE)
    res = _run(["--config", str(bad), "status"], env)
    assert res.returncode == 2 and "smtp.port" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = _run(["init", "--email", "me@example.org", "--json"], env)
    assert res.returncode == 0, res.stderr
    assert "crm+" in res.stdout
    res = _run(["init", "--email", "me@example.org"], env)
    assert res.returncode == 2 and "already exists" in res.stderr
    res = _run(["show", "nobody@nowhere.example"], env)
    assert res.returncode == 2 and "no contact" in res.stderr and "Traceback" not in res.stderr
    res = _run(["serve", "--listen", "nonsense"], env)
    assert res.returncode == 2 and "--listen" in res.stderr
    res = _run(["inspect", str(tmp_path / "missing.eml")], env)
    assert res.returncode == 2 and "cannot read" in res.stderr


def test_cli_prints_mail_data_as_text_not_markup(tmp_path: Path) -> None:
    """A name or subject like "[/b]" is mail data: printed as is, never parsed as rich markup (which raises)."""
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "c"), XDG_DATA_HOME=str(tmp_path / "d"), COLUMNS="200")
    env.pop("MAILCRM_CONFIG", None)
    assert _run(["init", "--email", "me@example.org"], env).returncode == 0
    res = _run(["contact", "edit", "eve@example.net", "--name", "[/b]Eve [red]x"], env)
    for args in (["contacts"], ["show", "eve@example.net"]):
        res = _run(args, env)
        assert res.returncode == 0, res.stderr
        assert "[/b]Eve [red]x" in res.stdout
