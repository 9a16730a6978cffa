"""What a new user hit (issue 19): init's time zone and dropbox, one-line database errors, show's
notes, limits and time zone. Through the real CLI: in-process, and as a process for exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import RUNNER, run, write_config

from mailcrm.cli import app

ROOT = Path(__file__).resolve().parents[1]


def mailcrm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m mailcrm ARGS`` as a user runs it (this checkout first on the path)."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "mailcrm", *args], capture_output=True, text=True, env=full, timeout=120)


# -- init: time zone, dropbox, database URLs -------------------------------------------------------
def test_init_takes_the_machines_time_zone_and_says_so(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    res = mailcrm("--config", str(cfg), "init", "--email", "me@example.org", "--data-dir", str(tmp_path / "d"),
                  env={"TZ": "Asia/Yekaterinburg"})
    assert res.returncode == 0, res.stderr
    assert 'timezone = "Asia/Yekaterinburg"' in cfg.read_text()
    assert "Asia/Yekaterinburg" in res.stdout and "this machine's" in res.stdout
    res = mailcrm("--config", str(cfg), "init", "--email", "me@example.org", "--data-dir", str(tmp_path / "d"),
                  "--timezone", "Europe/Samara", "--force", "--json", env={"TZ": "Asia/Yekaterinburg"})
    assert json.loads(res.stdout)["timezone"] == "Europe/Samara"


def test_free_mail_dropbox_is_the_users_own_plus_address(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    res = mailcrm("--config", str(cfg), "init", "--email", "Me@Yandex.ru", "--data-dir", str(tmp_path / "d"), "--json")
    box = json.loads(res.stdout)["dropbox"]
    assert box.startswith("me+crm-") and box.endswith("@yandex.ru") and len(box.split("+crm-")[1].split("@")[0]) == 20
    own = mailcrm("--config", str(tmp_path / "o.toml"), "init", "--email", "me@teatr.example", "--data-dir", str(tmp_path / "d2"), "--json")
    assert json.loads(own.stdout)["dropbox"].startswith("crm+")
    res = mailcrm("--config", str(tmp_path / "y.toml"), "init", "--email", "me@yahoo.com", "--data-dir", str(tmp_path / "d3"))
    assert res.returncode == 2 and "--dropbox" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "y.toml").exists()


@pytest.mark.parametrize("url, says", [
    ("sqlte:///x.db", "unsupported database 'sqlte'"),
    ("not a url", "is not a database URL"),
    ("mysql://root@127.0.0.1/test", "unsupported database 'mysql'"),
    ("postgresql+psycopg2://postgres@127.0.0.1/test", "not installed"),
    ("postgresql://postgres:s3cret@127.0.0.1:1/test", "is PostgreSQL running"),
    ("postgresql://postgres:s3cret@127.0.0.1:5432/mailcrm_no_such_db", "createdb"),
])
def test_bad_database_urls_are_one_line_and_keep_the_config(tmp_path: Path, url: str, says: str) -> None:
    if "psycopg2" in url:
        try:
            import psycopg2  # noqa: F401
            pytest.skip("psycopg2 is installed here")
        except ImportError:
            pass
    cfg = tmp_path / "c.toml"
    ok = mailcrm("--config", str(cfg), "init", "--email", "me@example.org", "--data-dir", str(tmp_path / "d"))
    assert ok.returncode == 0, ok.stderr
    before = cfg.read_text()
    res = mailcrm("--config", str(cfg), "init", "--email", "me@example.org", "--db", url, "--force")
    assert res.returncode == 2, res.stderr
    assert says in res.stderr and "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "s3cret" not in res.stderr + res.stdout
    assert cfg.read_text() == before  # a failed --force leaves the working config alone
    assert mailcrm("--config", str(cfg), "contacts", "--json").returncode == 0


def test_init_never_prints_the_database_password(tmp_path: Path) -> None:
    from tests.conftest import PG_URL, pg_available, require

    require(pg_available(), "PostgreSQL not reachable")
    url = PG_URL.replace("postgres@", "postgres:s3cret@")  # trust auth: any password is accepted
    res = mailcrm("--config", str(tmp_path / "c.toml"), "init", "--email", "me@example.org", "--db", url,
                  "--data-dir", str(tmp_path / "d"))
    assert res.returncode == 0, res.stderr
    assert "s3cret" not in res.stdout + res.stderr and "***" in res.stdout


# -- show: notes, the newest 50, the user's time zone ---------------------------------------------
@pytest.fixture
def cfg_path(tmp_path: Path) -> Path:
    return write_config(tmp_path, "ru")



def test_show_displays_sheet_notes(cfg_path: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "театры.csv"
    sheet.write_text("Название;Email;Примечание\nТеатр на Бульваре;lit@bulvar.example;Звонить завлиту по вторникам\n",
                     encoding="utf-8")
    run(cfg_path, "import", "contacts", str(sheet))
    assert run(cfg_path, "show", "lit@bulvar.example")["notes"] == "Звонить завлиту по вторникам"
    res = RUNNER.invoke(app, ["--config", str(cfg_path), "show", "lit@bulvar.example"])
    assert "Звонить завлиту по вторникам" in res.stdout


def test_show_prints_the_newest_50_and_says_how_many_more(cfg_path: Path) -> None:
    for i in range(55):
        run(cfg_path, "log", "call", "ivan@teatr.example", "--note", f"звонок {i}", "--when", f"2026-03-{1 + i % 28:02d} 11:05")
    card = run(cfg_path, "show", "ivan@teatr.example")
    assert len(card["timeline"]) == 50 and card["timeline_total"] == 55
    assert len(run(cfg_path, "show", "ivan@teatr.example", "--all")["timeline"]) == 55
    assert len(run(cfg_path, "show", "ivan@teatr.example", "--limit", "7")["timeline"]) == 7
    res = RUNNER.invoke(app, ["--config", str(cfg_path), "show", "ivan@teatr.example"])
    assert "newest 50 of 55" in res.stdout
    # 11:05 Moscow is stored as 08:05 UTC and shown as 11:05, with the zone named.
    assert "11:05" in res.stdout and "08:05" not in res.stdout and "Europe/Moscow" in res.stdout
    res = RUNNER.invoke(app, ["--config", str(cfg_path), "show", "ivan@teatr.example", "--limit", "0"])
    assert res.exit_code != 0
