"""`mailcrm inspect --json`: the contract keys, without touching any store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"
KEYS = {"message_id", "kind", "from", "to", "cc", "date", "subject", "forwarded", "reply_text", "signature",
        "bounce", "autoreply", "defects"}


def _inspect(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailcrm", "inspect", *args, "--json"], capture_output=True,
                          text=True, timeout=60, env=env)


def test_inspect_contract_on_russian_sent_copy(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))  # no config: nothing read, nothing written
    env.pop("MAILCRM_CONFIG", None)
    res = _inspect(str(DATA / "sent_ru_cp1251.eml"), "--user-address", "maria@example.org", env=env)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert KEYS <= set(doc)
    assert doc["kind"] == "sent"
    assert doc["from"] == {"name": "Мария Сидорова", "address": "maria@example.org"}
    assert doc["to"] == [{"name": "Иван Петров", "address": "ivan@theatre.ru"}]
    assert doc["cc"] == [{"name": "Doe, John", "address": "john@film.example.com"}]
    assert doc["subject"] == "Пьеса для театра"
    assert doc["date"] == "2026-11-05T14:30:00+03:00"
    assert doc["message_id"] == "CAF+pitch-77@mail.example.org"
    assert "Посылаю вам новую пьесу" in doc["reply_text"]
    assert doc["bounce"] is None and doc["autoreply"] is None and doc["forwarded"] is None
    assert not list(tmp_path.iterdir())  # inspect wrote nothing


def test_inspect_without_user_address_calls_it_received(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))
    env.pop("MAILCRM_CONFIG", None)
    doc = json.loads(_inspect(str(DATA / "sent_ru_cp1251.eml"), env=env).stdout)
    assert doc["kind"] == "received"


def test_inspect_survives_garbage(tmp_path: Path) -> None:
    junk = tmp_path / "junk.eml"
    junk.write_bytes(os.urandom(4096) + b"\x00\r\n\r\n" + os.urandom(1024))
    res = _inspect(str(junk))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["kind"] == "unknown" and doc["defects"]


def test_unparseable_body_keeps_the_headers() -> None:
    """Thousands of nested multiparts exhaust the stdlib parser; From/Subject/Message-ID survive."""
    from mailcrm.parse.message import parse_message

    head = b"From: Olga <olga@theatre.example>\nTo: me@example.org\nSubject: nest\nMessage-ID: <n1@example.org>\n"
    body = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(3000))
    facts = parse_message(head + body + b"Content-Type: text/plain\n\nhello\n")
    assert facts.from_ is not None and facts.from_.address == "olga@theatre.example"
    assert facts.subject == "nest" and facts.message_id == "n1@example.org"
    assert any("unparseable MIME" in d for d in facts.defects)
