"""Leads applied to a real store (SQLite and PostgreSQL): the user's forward of a form's notification mail,
a phone-only lead matched to a known contact by phone, a batch with a resubmission."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from mailcrm import config
from mailcrm.app import apply as pipeline
from mailcrm.app import leads
from mailcrm.outcomes import Outcome
from mailcrm.spool import Spool, SpoolMeta
from mailcrm.store import db, repository
from mailcrm.store.models import Contact, Deal, DealContact, EmailAddress, Lead

CFG = config.parse(
    '[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
    '[[forms]]\nname = "tilda"\nfrom = "@tilda.ws"\n[[forms]]\nname = "site"\n', "test")
DROPBOX = SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret@example.org"])

FORWARD = """From: Me <me@example.org>
To: crm+secret@example.org
Subject: Fwd: Заявка с сайта
Message-ID: <fwd-1@example.org>
Date: Sun, 06 Dec 2026 11:00:00 +0300
Content-Type: text/plain; charset=utf-8

---------- Forwarded message ---------
From: Tilda <robot@tilda.ws>
Date: Sun, 6 Dec 2026 at 10:00
Subject: Заявка с сайта
To: <me@example.org>

Имя: Светлана
Телефон: 8 921 333-44-55
Email: sveta@shop.example
Комментарий: Нужна консультация
"""


def test_users_forward_of_a_notification_mail_is_a_lead(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    raw = FORWARD.replace("\n", "\r\n").encode()
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
        job = pipeline.ingest(s, CFG, DROPBOX, raw)
        assert job.outcome == Outcome.STORED
    with db.transaction(factory) as s:
        lead = s.scalars(select(Lead)).one()
        assert lead.form == "tilda" and lead.data["phones"] == ["+79213334455"]
        contact = s.get(Contact, lead.contact_id)
        assert contact is not None and contact.name == "Светлана"
        assert s.scalar(select(EmailAddress.address).where(EmailAddress.contact_id == contact.id)) == "sveta@shop.example"
    with db.transaction(factory) as s:  # the same forward again: one lead
        assert pipeline.ingest(s, CFG, DROPBOX, raw).outcome == Outcome.DUPLICATE


def test_intake_batch_matches_phones_and_stores_a_resubmission_once(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
        known = repository.find_or_create_contact(s, "oleg@cafe.example", "Олег")
        known.phones = ["+79030000001"]
    spool = Spool(tmp_path / "spool")
    bodies = [
        {"name": "Олег", "phone": "8 903 000-00-01", "message": "ещё раз"},  # known by phone: no new contact
        {"name": "Нина", "phone": "+7 921 222-33-44", "tranid": "t-1"},
        {"name": "Нина", "phone": "+7 921 222-33-44", "tranid": "t-1"},  # resubmitted in the same batch
        {"Имя": "Нина", "Телефон": "+79212223344", "Почта": "nina@mail.example"},  # same phone, now an address
    ]
    for b in bodies:
        spool.put(json.dumps(b, ensure_ascii=False).encode(),
                  SpoolMeta(source="form:site", kind="intake", peer="203.0.113.9",
                            source_ref={"form": "site", "content_type": "application/json"}))
    items = spool.claim(limit=10)
    outcomes, failures = leads.apply_intake(factory, CFG, items, {i.id: i.read() for i in items})
    assert failures == {}
    assert [outcomes[i.id] for i in items] == [Outcome.STORED, Outcome.STORED, Outcome.DUPLICATE, Outcome.STORED]
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 2
        assert s.scalar(select(func.count()).select_from(Deal)) == 3
        nina = s.scalar(select(Contact).where(Contact.name == "Нина"))
        assert nina is not None and nina.phones == ["+79212223344"]
        assert s.scalar(select(EmailAddress.address).where(EmailAddress.contact_id == nina.id)) == "nina@mail.example"
        oleg_deals = s.scalar(select(func.count()).select_from(DealContact).where(DealContact.contact_id == known.id))
        assert oleg_deals == 1
        assert {d.source for d in s.scalars(select(Deal))} == {"form:site"}
        assert s.scalar(select(Lead.client).limit(1)) == "203.0.113.9"

