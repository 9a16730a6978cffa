"""The house's rules, checked from the imports (ast): each layer imports only what it may.

parse/ and domain/ are pure; store/ knows tables, not rules, config or skins; sources/ and cli/
never touch the store; transactions are opened only by app/ (the use cases) and store/.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "mailcrm"
IO = ("sqlalchemy", "socket", "aiosmtpd", "imapclient", "aiosmtplib", "smtplib", "imaplib", "asyncio", "requests",
      "urllib.request", "uvicorn", "starlette", "httpx")
FORBIDDEN = (*IO, "mailcrm.store", "mailcrm.ingest", "mailcrm.app", "mailcrm.sources", "mailcrm.config",
             "mailcrm.cli", "mailcrm.daemon", "mailcrm.spool", "mailcrm.digest.send", "mailcrm.digest.schedule")
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
            names.extend(f"{node.module}.{a.name}" for a in node.names)
    return names


def _offences(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in paths:
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(PKG)} imports {name}")
    return bad


def _package(name: str) -> list[Path]:
    paths = sorted((PKG / name).rglob("*.py"))
    assert paths, name
    return paths


def test_pure_modules_do_no_io() -> None:
    assert len([p for p in PURE if p.exists()]) >= 8
    assert not _offences([p for p in PURE if p.exists()], FORBIDDEN)


def test_parse_imports_only_parse() -> None:
    """parse/ is the bottom: bytes in, facts out; it never reaches up to rules, store or digest."""
    assert not _offences(_package("parse"), ("mailcrm.domain", "mailcrm.digest", *FORBIDDEN))


def test_store_knows_tables_not_rules() -> None:
    bad = _offences([p for p in _package("store") if "migrations" not in p.parts],
                    ("mailcrm.domain", "mailcrm.config", "mailcrm.cli", "mailcrm.app", "mailcrm.ingest",
                     "mailcrm.sources", "mailcrm.daemon", "mailcrm.digest"))
    assert not bad, bad


def test_sources_and_cli_never_touch_the_store() -> None:
    bad = _offences([*_package("sources"), *_package("cli")], ("mailcrm.store",))
    assert not bad, bad


def test_parser_processes_import_parse_only() -> None:
    """What a spawned parser process imports (parse_pool -> parse_settings) stays off store/app/config."""
    paths = [PKG / "ingest" / "parse_pool.py", PKG / "ingest" / "parse_settings.py", PKG / "spool.py"]
    bad = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level only: TYPE_CHECKING blocks are not run
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{path.name}: {n}" for n in names
                    if n.startswith(("mailcrm.store", "mailcrm.app", "mailcrm.config", "sqlalchemy", "pydantic"))]
    assert not bad, bad


def _opens_transactions(path: Path) -> list[str]:
    """Calls that open or end a transaction: transaction(...), .begin(), .begin_nested(), .commit()."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in ("transaction", "begin", "begin_nested", "commit"):
                found.append(f"{path.relative_to(PKG)}:{node.lineno} {name}()")
    return found


def test_transactions_only_in_app_and_store() -> None:
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).parts
        if rel[0] in ("app", "store"):
            continue
        bad += _opens_transactions(path)
    assert not bad, bad


def test_the_checks_see_transactions() -> None:
    """The transaction finder is not vacuous: app/ does open transactions."""
    assert any(_opens_transactions(p) for p in _package("app"))


def test_only_the_cli_speaks_of_usage_errors() -> None:
    """Layers under the CLI raise domain errors (NotFound, Invalid, ConfigError), never the CLI's UsageError."""
    bad = [f"{p.relative_to(PKG)} imports {n}" for p in sorted(PKG.rglob("*.py"))
           if p.relative_to(PKG).parts[0] != "cli" and p.name != "errors.py"
           for n in _imports(p) if n == "mailcrm.errors.UsageError"]
    assert not bad, bad
    assert _offences(_package("cli"), ("mailcrm.errors.UsageError",)), "the check sees the CLI's own use"
