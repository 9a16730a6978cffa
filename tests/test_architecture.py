"""Pure layers stay pure: parse/, domain/, digest/rules.py and digest/render.py import no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "mailcrm"
FORBIDDEN = ("sqlalchemy", "socket", "aiosmtpd", "imapclient", "aiosmtplib", "mailcrm.store", "mailcrm.ingest",
             "smtplib", "imaplib", "asyncio", "requests", "urllib.request", "mailcrm.config")
PURE = [*sorted((PKG / "parse").glob("*.py")), *sorted((PKG / "domain").glob("*.py")),
        PKG / "digest" / "rules.py", PKG / "digest" / "render.py"]


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_pure_modules_do_no_io() -> None:
    checked = 0
    bad = []
    for path in PURE:
        if not path.exists():
            continue
        checked += 1
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                bad.append(f"{path.relative_to(PKG)} imports {name}")
    assert checked >= 8
    assert not bad, bad


def test_only_cli_and_daemon_import_everything() -> None:
    """Layers point one way: parse/ never imports domain/, store/ or digest/; domain/ never store/."""
    for path in (PKG / "parse").glob("*.py"):
        for name in _imports(path):
            assert not name.startswith(("mailcrm.domain", "mailcrm.store", "mailcrm.digest", "mailcrm.cli")), (path, name)
    for path in (PKG / "store").glob("*.py"):
        for name in _imports(path):
            assert not name.startswith(("mailcrm.cli", "mailcrm.daemon", "mailcrm.ingest")), (path, name)
