"""The ingest pipeline against a real store (runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from mailcrm import config
from mailcrm.app import apply as pipeline
from mailcrm.app import companies
from mailcrm.app import contacts as contact_edit
from mailcrm.errors import Rejected, UsageError
from mailcrm.parse.facts import Signature
from mailcrm.spool import SpoolMeta
from mailcrm.store import db, repository
from mailcrm.store.models import Company, Contact, EmailAddress, Message, MessageBlob, Participant

CFG = config.parse(
    '[[users]]\nemail = "me@example.org"\naddresses = ["me@alias.example.org"]\n'
    'dropbox = "crm+secret@example.org"\n', "test")
META = SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret@example.org"])


def mail(subject: str, to: str, sender: str = "Me <me@example.org>", mid: str | None = None,
         body: str = "Hello", extra: str = "") -> bytes:
    head = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Tue, 03 Nov 2026 09:00:00 +0300\r\n{extra}"
    if mid:
        head += f"Message-ID: <{mid}>\r\n"
    return (head + "\r\n" + body + "\r\n").encode()


def ingest(factory, raw: bytes, meta: SpoolMeta = META) -> pipeline.Job:  # type: ignore[no-untyped-def]
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
        return pipeline.ingest(s, CFG, meta, raw)


def test_sent_copy_creates_contacts_and_companies(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    raw = mail("Pitch", '"Petrov, Ivan" <Ivan@Theatre.RU>, anna@gmail.com, me@alias.example.org, '
                        "crm+secret@example.org, colleague@theatre.ru", mid="p1@example.org")
    job = ingest(factory, raw)
    assert job.outcome == pipeline.STORED and job.plan.kind == "sent"
    with db.transaction(factory) as s:
        ivan = repository.contact_card(s, "ivan@theatre.ru")
        assert ivan["name"] == "Petrov, Ivan" and ivan["company"] == "theatre.ru"
        assert ivan["timeline"][0]["kind"] == "sent" and ivan["timeline"][0]["direction"] == "out"
        colleague = repository.find_contact(s, "colleague@theatre.ru")
        assert colleague.company_id == repository.find_contact(s, "ivan@theatre.ru").company_id
        assert repository.find_contact(s, "anna@gmail.com").company_id is None
        # the user's own addresses and the dropbox never become contacts
        assert repository.find_contact(s, "me@alias.example.org") is None
        assert repository.find_contact(s, "crm+secret@example.org") is None
        assert s.scalar(select(MessageBlob.data)) == raw  # raw bytes kept as evidence
        msg = s.scalar(select(Message))
        assert msg.date == dt.datetime(2026, 11, 3, 6, 0)  # naive UTC


def test_idempotent_by_message_id_and_by_content_hash(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    with_id = mail("One", "a@corp.example", mid="same@example.org")
    assert ingest(factory, with_id).outcome == pipeline.STORED
    # the same message seen again via IMAP: other transport headers, same Message-ID
    assert ingest(factory, b"Received: from imap\r\nX-Extra: 1\r\n" + with_id).outcome == pipeline.DUPLICATE
    no_id = mail("Two", "b@corp.example")
    assert ingest(factory, no_id).outcome == pipeline.STORED
    assert ingest(factory, b"Received: by relay\r\n" + no_id).outcome == pipeline.DUPLICATE
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 2
        assert s.scalar(select(func.count()).select_from(Participant)) == 2


def test_unknown_author_on_dropbox_is_rejected(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    with pytest.raises(Rejected):
        ingest(factory, mail("hi", "crm+secret@example.org", sender="stranger@else.example"))


def test_inbox_role_keeps_only_known_correspondents(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    inbox = SpoolMeta(source="imap:box", role="inbox")
    stranger = ingest(factory, mail("private", "me@example.org", sender="friend@private.example", mid="x1@p"), inbox)
    assert stranger.outcome == pipeline.SKIPPED
    ingest(factory, mail("pitch", "Olga <olga@film.example>", mid="s1@example.org"))
    reply = ingest(factory, mail("Re: pitch", "me@example.org", sender="Olga <olga@film.example>", mid="r1@film",
                                 body="Yes, send it"), inbox)
    assert reply.outcome == pipeline.STORED and reply.plan.kind == "received"
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 2  # nothing of the stranger's mail
        card = repository.contact_card(s, "olga@film.example")
        assert [i["direction"] for i in card["timeline"]] == ["in", "out"]
        assert s.scalar(select(EmailAddress.last_inbound_at)) is not None


def test_user_edits_are_never_overwritten_by_signatures(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    job = ingest(factory, mail("hello", "Boris <boris@kino.example>", mid="e1@example.org"))
    with db.transaction(factory) as s:
        contact_edit.edit_contact(s, "boris@kino.example", title="Director", phones=["8 (916) 123-45-67"])
        with pytest.raises(UsageError):
            contact_edit.edit_contact(s, "boris@kino.example", phones=["12"])
    with db.transaction(factory) as s:
        msg = s.get(Message, job.message.id)
        sig = Signature(text="Boris\nProducer\nKinostudia LLC\n+7 495 000-00-00", name="Boris Borisov",
                        title="Producer", company="Kinostudia LLC", phones=("+74950000000",))
        cid = repository.find_contact(s, "boris@kino.example").id
        companies.learn_signature(s, cid, msg, sig)
    with db.transaction(factory) as s:
        c = repository.find_contact(s, "boris@kino.example")
        assert c.title == "Director"  # typed by the user: kept
        assert c.phones == ["+79161234567"]  # typed list: kept
        assert c.name == "Boris"  # display name came first; a parsed name only fills empty fields
        company = s.get(Company, c.company_id)
        assert company.name == "Kinostudia LLC"  # the domain company learned its real name


def test_uncertain_grouping_is_proposed_then_applied(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    job = ingest(factory, mail("hello", "vera@freelance.example, gleb@gmail.com", mid="g1@example.org"))
    with db.transaction(factory) as s:
        msg = s.get(Message, job.message.id)
        vera = repository.find_contact(s, "vera@freelance.example").id
        gleb = repository.find_contact(s, "gleb@gmail.com").id
        companies.learn_signature(s, vera, msg, Signature(text="x", company="ООО «Ромашка»"))
        companies.learn_signature(s, gleb, msg, Signature(text="y", company="Ромашка ООО"))
        companies.learn_signature(s, vera, msg, Signature(text="z", company="Театр на Таганке"))
    with db.transaction(factory) as s:
        # free mail joins the signature company; two spellings are one company
        g = repository.find_contact(s, "gleb@gmail.com")
        v = repository.find_contact(s, "vera@freelance.example")
        assert g.company_id == v.company_id
        pending = companies.list_suggestions(s)
        assert len(pending) == 1 and pending[0]["proposed"] == "Театр на Таганке"
        companies.decide_suggestion(s, pending[0]["id"], accept=True)
    with db.transaction(factory) as s:
        v = repository.find_contact(s, "vera@freelance.example")
        assert s.get(Company, v.company_id).name == "Театр на Таганке"
        card = companies.company_card(s, "Театр на Таганке")
        assert [p["name"] for p in card["people"]] == [None]


def test_merge_keeps_all_history(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    ingest(factory, mail("to work", "ivan@theatre.example", mid="m1@example.org"))
    ingest(factory, mail("to home", "Ivan <ivan.home@gmail.com>", mid="m2@example.org"))
    with db.transaction(factory) as s:
        merged = contact_edit.merge_contacts(s, "ivan@theatre.example", "ivan.home@gmail.com")
        assert {a["address"] for a in merged["addresses"]} == {"ivan@theatre.example", "ivan.home@gmail.com"}
        with pytest.raises(UsageError):
            contact_edit.merge_contacts(s, "ivan@theatre.example", "ivan.home@gmail.com")
    with db.transaction(factory) as s:
        card = repository.contact_card(s, "ivan.home@gmail.com")
        assert {i["subject"] for i in card["timeline"]} == {"to work", "to home"}
        # nothing deleted: the merged contact row stays with a status
        assert s.scalar(select(func.count()).select_from(Contact)) == 2
        assert s.scalar(select(func.count()).select_from(Contact).where(Contact.status == "merged")) == 1
        assert len(repository.list_contacts(s)[0]) == 1


def test_a_forwarded_out_of_office_is_the_contacts_auto_reply_not_an_answer(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    ingest(factory, mail("Пьеса", "Olga <olga@theatre.example>", mid="o1@example.org"))
    body = ("FYI\n\n---------- Forwarded message ---------\nFrom: Olga <olga@theatre.example>\n"
            "Date: Wed, 4 Nov 2026 at 10:00\nSubject: Автоответ: Пьеса\nTo: Me <me@example.org>\n\n\n"
            "Здравствуйте! Я в отпуске до 20 ноября 2026 г., ваше письмо прочитаю после возвращения.\n")
    job = ingest(factory, mail("Fwd: Автоответ: Пьеса", "crm+secret@example.org", mid="f1@example.org", body=body,
                               extra="Content-Type: text/plain; charset=utf-8\r\n"))
    assert job.outcome == pipeline.STORED and job.plan.kind == "autoreply"
    with db.transaction(factory) as s:
        assert s.scalar(select(EmailAddress.last_inbound_at)
                        .where(EmailAddress.address == "olga@theatre.example")) is None  # she has not answered
        card = repository.contact_card(s, "olga@theatre.example")
        autos = [i for i in card["timeline"] if i["kind"] == "autoreply" and i.get("data")]
        assert len(autos) == 1 and autos[0]["due"] is not None and autos[0]["due"].day == 20
        assert s.scalar(select(Message.kind).where(Message.message_id == "f1@example.org")) == "autoreply"


def _autoreply(text: str, sender: str = "Olga <olga@theatre.example>") -> bytes:
    return mail("Автоответ: Пьеса", "me@example.org", sender=sender, extra="Auto-Submitted: auto-replied\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n", body=text)


INBOX_META = SpoolMeta(source="imap:box", role="inbox")


def test_a_changed_address_is_proposed_for_the_same_person_and_a_successor_as_a_new_contact(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    ingest(factory, mail("Пьеса", "Olga <olga@theatre.example>, Ivan <ivan@theatre.example>", mid="s1@example.org"))
    ingest(factory, _autoreply("Этот адрес больше не используется. Мой новый адрес: olga.petrova@newtheatre.example\r\n"
                               "По общим вопросам: info@theatre.example"), INBOX_META)
    ingest(factory, _autoreply("Иван больше не работает в театре. Пишите Марине: marina@theatre.example",
                               sender="Ivan <ivan@theatre.example>"), INBOX_META)
    with db.transaction(factory) as s:
        pending = {p["proposed"]: p for p in companies.list_suggestions(s)}
        assert {k: (p["kind"], p["contact"]) for k, p in pending.items()} == {
            "olga.petrova@newtheatre.example": ("new_address", "Olga"),
            "info@theatre.example": ("new_contact", "Olga"),
            "marina@theatre.example": ("new_contact", "Ivan")}
        for p in pending.values():
            companies.decide_suggestion(s, p["id"], accept=True)
    with db.transaction(factory) as s:
        olga = repository.contact_card(s, "olga@theatre.example")
        assert {a["address"] for a in olga["addresses"]} == {"olga@theatre.example", "olga.petrova@newtheatre.example"}
        marina = repository.contact_card(s, "marina@theatre.example")
        assert marina["company"] == "theatre.example" and marina["id"] != olga["id"]
        assert repository.contact_card(s, "info@theatre.example")["id"] not in (olga["id"], marina["id"])
