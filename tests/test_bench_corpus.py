"""bench/corpus.py: the seeded mail generator the import and ingest benches share."""

from __future__ import annotations

import mailbox
import sys
from email import message_from_bytes, policy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import corpus  # noqa: E402

from mailcrm.parse.message import parse_message  # noqa: E402


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    a = list(corpus.generate(30, seed=7))
    assert a == list(corpus.generate(30, seed=7))
    assert a != list(corpus.generate(30, seed=8))


def test_mix_sizes_and_sent_share() -> None:
    st = corpus.stats(400, seed=3)
    assert 10_000 <= st["median_bytes"] <= 20_000
    assert 0.35 <= st["sent_share"] <= 0.65
    mix = st["mix"]
    assert isinstance(mix, dict)
    for key in ("charset:utf-8", "charset:windows-1251", "charset:koi8-r", "type:text/html",
                "type:multipart/alternative", "type:message/delivery-status", "many-recipients"):
        assert mix.get(key, 0) > 0, key


def test_maildir_and_mbox_hold_every_message(tmp_path: Path) -> None:
    corpus.write_maildir(tmp_path / "md", 25, seed=2)
    corpus.write_mbox(tmp_path / "m.mbox", 25, seed=2)
    md = mailbox.Maildir(str(tmp_path / "md"), create=False)
    mb = mailbox.mbox(str(tmp_path / "m.mbox"), create=False)
    assert len(md) == len(mb) == 25
    ids = sorted(m["Message-ID"] for m in md)
    assert ids == sorted(m["Message-ID"] for m in mb)
    assert len(set(ids)) == 25


def test_the_parser_sees_forwards_replies_bounces_and_autoreplies() -> None:
    kinds: set[str] = set()
    for raw in corpus.generate(150, seed=1):
        msg = message_from_bytes(raw, policy=policy.default)
        assert msg["Message-ID"]
        parsed = parse_message(raw, user_addresses=frozenset({"me@example.org"}))
        kinds.add(parsed.kind)
    assert {"sent", "received", "forward", "bounce", "autoreply"} <= kinds, kinds
