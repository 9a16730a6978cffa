"""A command loads only what it needs: its own command module, no parser patterns, no Alembic
when the store is at head, no structlog when it logs nothing (start-up is most of a short
command's time; see ``mailcrm.cli.OWNER``)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.main

from mailcrm import cli


def _names(module: str) -> set[str]:
    app = typer.Typer()
    importlib.import_module(f"mailcrm.cli.{module}").register(app)
    return set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_the_owner_table_names_every_command_of_every_module() -> None:
    seen: dict[str, str] = {}
    for module in cli.MODULES:
        for name in _names(module):
            assert name not in seen, f"{name} registered by {seen.get(name)} and {module}"
            seen[name] = module
    assert seen == cli.OWNER


def _callbacks(group: typer.Typer) -> list[object]:
    found = [c.callback for c in group.registered_commands]
    for sub in group.registered_groups:
        assert sub.typer_instance is not None
        found += _callbacks(sub.typer_instance)
    return found


@pytest.mark.parametrize("module", cli.MODULES)
def test_every_command_is_a_module_level_function(module: str) -> None:
    """Commands are importable and callable without the root app (not closures inside register())."""
    mod = importlib.import_module(f"mailcrm.cli.{module}")
    callbacks = _callbacks(mod.commands)
    assert callbacks, module
    for fn in callbacks:
        assert callable(fn) and "<locals>" not in fn.__qualname__, fn
        assert getattr(mod, fn.__name__) is fn, fn.__qualname__


@pytest.mark.parametrize(("argv", "word"), [
    (["show", "a@b.c"], "show"),
    (["--config", "/x.toml", "import", "mbox", "f"], "import"),
    (["-c", "/x.toml", "contacts", "--json"], "contacts"),
    (["--help"], None),
    (["--config=/x.toml", "show"], None),  # unusual spelling: every module is registered
    ([], None),
])
def test_the_command_word_skips_the_global_option(argv: list[str], word: str | None) -> None:
    assert cli.command_word(argv) == word


PROBE = """
import json, sys
from mailcrm.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted({m.split(".")[0] if not m.startswith("mailcrm") else m for m in sys.modules
                if m in ("alembic", "structlog", "mailcrm.parse.message", "mailcrm.cli.core",
                         "mailcrm.cli.digest", "mailcrm.cli.imports", "mailcrm.digest.compose",
                         "mailcrm.parse.bounce", "nameparser")})
print(json.dumps({"code": code, "heavy": heavy}))
"""


def _probe(tmp_path: Path, *argv: str) -> dict[str, object]:
    env = dict(os.environ, MAILCRM_CONFIG=str(tmp_path / "config.toml"), XDG_DATA_HOME=str(tmp_path / "data"))
    res = subprocess.run([sys.executable, "-c", PROBE, *argv], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_show_loads_neither_the_parsers_nor_alembic_nor_structlog(tmp_path: Path) -> None:
    init = _probe(tmp_path, "init", "--email", "me@example.org")
    assert init["code"] in (0, None)
    assert "alembic" in init["heavy"]  # an empty store is migrated by Alembic
    shown = _probe(tmp_path, "show", "nobody@example.org")
    assert shown["code"] == 2  # no such contact: one line, exit 2
    assert shown["heavy"] == []
    listed = _probe(tmp_path, "contacts", "--json")
    assert listed["code"] in (0, None) and listed["heavy"] == []


@pytest.mark.parametrize(("argv", "expected"), [
    (["contacts", "--config", "/x.toml"], ["--config", "/x.toml", "contacts"]),
    (["contacts", "-c", "/x.toml", "--json"], ["-c", "/x.toml", "contacts", "--json"]),
    (["deal", "list", "--config=/x.toml"], ["--config", "/x.toml", "deal", "list"]),
    (["--config", "/x.toml", "show", "a@b.c"], ["--config", "/x.toml", "show", "a@b.c"]),
    (["note", "a@b.c", "--", "--config", "x"], ["note", "a@b.c", "--", "--config", "x"]),
])
def test_config_is_taken_before_or_after_the_command(argv: list[str], expected: list[str]) -> None:
    from mailcrm.cli import hoist_config

    assert hoist_config(argv) == expected


def test_config_after_the_command_end_to_end(tmp_path: Path) -> None:
    """`mailcrm init --config X` then `mailcrm contacts --config X --json` (was refused by typer)."""
    cfg = tmp_path / "c.toml"
    env = {k: v for k, v in os.environ.items() if k != "MAILCRM_CONFIG"}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "cfg")
    run = [sys.executable, "-m", "mailcrm"]
    init = subprocess.run([*run, "init", "--email", "me@example.org", "--config", str(cfg)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    assert cfg.exists() and not (tmp_path / "cfg").exists()
    out = subprocess.run([*run, "contacts", "--config", str(cfg), "--json"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_the_daemon_front_end_loads_neither_the_store_nor_the_app_nor_rich() -> None:
    # Issue 26: the SMTP front end holds only the spool; the worker process opens the store and runs
    # the services that need it (ingest/worker_services.py).  rich came in with structlog (log.py).
    code = ("import sys; from mailcrm import cli, log; cli._register(['serve']); import mailcrm.daemon; "
            "log.setup('info', 'json'); log.get('x'); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'rich', 'pygments', 'alembic') "
            "or m.startswith(('mailcrm.app', 'mailcrm.store', 'mailcrm.parse.message', 'mailcrm.trust'))); "
            "print(' '.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""
