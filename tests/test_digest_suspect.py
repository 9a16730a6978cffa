"""A suspect address (a bounce made it doubtful) is listed in the digest under "check this
address", and its contact is not counted as left without a live address (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from test_store_bounces import BOUNCE_META, dsn
from test_store_pipeline import ingest, mail

from mailcrm import config
from mailcrm.digest.compose import make_digest
from mailcrm.store import db

CFG = config.parse('[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
                   'language = "en"\n', "test")


def test_suspect_address_in_digest(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    ingest(factory, mail("Пьеса", "Olga <olga@theatre.example>", mid="s1@example.org"))
    for day in (4, 5, 6, 7, 8):  # a run of soft failures: suspect, not dead
        ingest(factory, dsn(day, "4.2.2", "452 4.2.2 Mailbox full"), BOUNCE_META)
    with db.transaction(factory) as s:
        digest, rendered = make_digest(s, CFG, CFG.users[0], dt.date(2026, 11, 9))
    assert [x.address for x in digest.suspect] == ["olga@theatre.example"]
    assert digest.suspect[0].person is not None and digest.suspect[0].person.name == "Olga"
    assert digest.no_address == ()  # doubtful is not dead
    assert digest.summary()["suspect"] == 1
    assert "Check this address" in rendered.text and "olga@theatre.example (Olga)" in rendered.text
    assert "Check this address" in rendered.html
