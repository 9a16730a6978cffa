"""+pending, +cancel and the help answer for an unknown sub-address (issue 27), through the ingest use case on a
real store (SQLite and PostgreSQL); the answer mail's headers (no loops)."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime, formataddr

import pytest
from sqlalchemy import func, select

from mailcrm import config
from mailcrm.app import apply as pipeline
from mailcrm.digest.answers import build_answer
from mailcrm.errors import Rejected
from mailcrm.outcomes import Outcome
from mailcrm.spool import SpoolMeta
from mailcrm.store import db, repository
from mailcrm.store.models import FollowUp, Message

CFG_TEXT = ('[digest]\nfrom_address = "mailcrm@example.org"\n'
            '[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
            'timezone = "Europe/Moscow"\nlanguage = "en"\n'
            '[[users]]\nemail = "ann@example.org"\ndropbox = "crm+ann@example.org"\n')
CFG = config.parse(CFG_TEXT, "test")
NOON = dt.datetime(2026, 3, 10, 9, 0)


def _mail(subject: str, to: str, *, mid: str, sender: str = "Me <me@example.org>", body: str = "Hello",
          when: dt.datetime = NOON, extra: str = "") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
            f"Date: {format_datetime(when.replace(tzinfo=dt.timezone.utc))}\r\n{extra}\r\n{body}\r\n").encode()


def _box(word: str, sender: str = "me@example.org", box: str = "crm+secret") -> SpoolMeta:
    return SpoolMeta(source="smtp", mail_from=sender, rcpt_tos=[f"{box}+{word}@example.org"])


def _ingest(factory, raw: bytes, meta: SpoolMeta) -> pipeline.Job:  # type: ignore[no-untyped-def]
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
        return pipeline.ingest(s, CFG, meta, raw, now=NOON + dt.timedelta(hours=1))


def _count(factory) -> int:  # type: ignore[no-untyped-def]
    with db.transaction(factory) as s:
        return int(s.scalar(select(func.count()).select_from(Message)) or 0)


def test_pending_cancel_and_help(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    _ingest(factory, _mail("Смета на гастроли", "ivan@theatre.example", mid="a1@me"), _box("3d"))
    _ingest(factory, _mail("Synopsis", "vera@museum.example", mid="b1@me"), _box("r2w"))
    before = _count(factory)

    job = _ingest(factory, _mail("pending?", "crm+secret+pending@example.org", mid="p1@me"), _box("pending"))
    assert job.outcome == Outcome.SKIPPED and job.reply is not None and job.reply.answer_to == "me@example.org"
    assert job.reply.text == ("Follow-ups waiting:\n"
                              '2026-03-13: "Смета на гастроли" 2026-03-10 -> ivan@theatre.example\n'
                              '2026-03-24 (regardless): "Synopsis" 2026-03-10 -> vera@museum.example\n')
    assert _count(factory) == before  # a query, not history
    again = _ingest(factory, _mail("pending?", "crm+secret+pending@example.org", mid="p1@me"), _box("pending"))
    assert again.reply is not None and again.reply.status == "duplicate" and again.reply.answer_to is None

    forward = _mail("Fwd: Смета на гастроли", "crm+secret+cancel@example.org", mid="c1@me",
                    body="---------- Forwarded message ---------\r\nFrom: Me <me@example.org>\r\n"
                         "Date: Tue, 10 Mar 2026 at 12:00\r\nSubject: Смета на гастроли\r\n"
                         "To: ivan@theatre.example\r\n\r\nHello")
    job = _ingest(factory, forward, _box("cancel"))
    assert job.reply is not None and job.reply.text == "Cancelled 1 follow-up(s).\n"
    with db.transaction(factory) as s:
        status = {m.subject: f.status for f, m in
                  s.execute(select(FollowUp, Message).join(Message, Message.id == FollowUp.message_id))}
    assert status == {"Смета на гастроли": "cancelled", "Synopsis": "waiting"}

    # A typo: the mail is recorded as usual and the help comes back, never a silent drop.
    job = _ingest(factory, _mail("Contract", "oleg@kino.example", mid="t1@me"), _box("3x"))
    assert job.outcome == Outcome.STORED and job.reply is not None and job.reply.status == "help"
    assert "crm+secret+3x@example.org" in (job.reply.text or "") and "+tomorrow" in (job.reply.text or "")
    assert _count(factory) == before + 1

    answer = build_answer(CFG, job.reply, job.facts)  # type: ignore[arg-type]
    assert answer["Auto-Submitted"] == "auto-replied" and answer["To"] == "me@example.org"
    assert answer["In-Reply-To"] == "<t1@me>" and "+2026-04-01" in answer.get_content()


def test_only_the_dropbox_user_may_ask(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    with pytest.raises(Rejected, match="not by the dropbox's user"):
        _ingest(factory, _mail("pending?", "crm+secret+pending@example.org", mid="x1@ann", sender="ann@example.org"),
                _box("pending", sender="ann@example.org"))
    # An auto-reply to +pending is never answered.
    job = _ingest(factory, _mail("Out of office", "crm+secret+pending@example.org", mid="x2@me",
                                 extra="Auto-Submitted: auto-replied\r\n"), _box("pending"))
    assert job.reply is not None and job.reply.status == "ignored" and job.reply.answer_to is None


PETROV = formataddr(("Иван Петров", "petrov@teatr.example"))  # RFC 2047 encoded, as clients send it


def test_find_answers_with_cards_or_a_list_to_narrow(store) -> None:  # type: ignore[no-untyped-def]
    from mailcrm.app import activities
    from mailcrm.app import deals as deal_store

    _, factory = store
    _ingest(factory, _mail("Гастроли", PETROV, mid="g1@me"), _box("3d"))
    _ingest(factory, _mail("Re: Гастроли", "me@example.org", mid="g2@them", sender=PETROV,
                           when=NOON + dt.timedelta(hours=2)), SpoolMeta(source="imap:box", role="inbox"))
    for i in range(5):
        _ingest(factory, _mail("Привет", formataddr((f"Актёр {i}", f"actor{i}@kino.example")), mid=f"k{i}@me"),
                SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret@example.org"]))
    with db.transaction(factory) as s:
        activities.tag_contact(s, "petrov@teatr.example", ["театры"])
        c = deal_store.contact_for(s, "petrov@teatr.example")
        deal_store.create_deal(s, title="Гастроли 2026", contact_ids=[c.id], stage="brief", at=NOON)
        activities.log_call(s, "petrov@teatr.example", note="обсудили даты", when=NOON + dt.timedelta(hours=3))

    def find(subject: str, mid: str) -> str:
        job = _ingest(factory, _mail(subject, "crm+secret+find@example.org", mid=mid), _box("find"))
        assert job.outcome == Outcome.SKIPPED and job.reply is not None and job.reply.answer_to == "me@example.org"
        return job.reply.text or ""

    for query, mid in (("Петров", "f1@me"), ("teatr.example", "f2@me"), ("театры", "f3@me"), ("Fwd: ПЕТРОВ", "f4@me")):
        card = find(query, mid)
        assert card.startswith("Иван Петров"), card
        assert "petrov@teatr.example (active)" in card and "tags: театры" in card
        assert "deal: #" in card and "Гастроли 2026 (brief)" in card
        assert 'latest:' in card and '← "Re: Гастроли"' in card and '→ "Гастроли"' in card and "call: обсудили даты" in card
    listed = find("kino.example", "f5@me")
    assert listed.startswith('5 contacts match "kino.example"; narrow it down')
    assert "actor3@kino.example" in listed
    assert find("Сидоров", "f6@me") == 'Nothing matches "сидоров".\n'


def _with_play(to: str, mid: str, when: dt.datetime) -> bytes:
    from email.message import EmailMessage

    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "Me <me@example.org>", to, "Пьеса «Чайка-2»"
    m["Date"], m["Message-ID"] = format_datetime(when.replace(tzinfo=dt.timezone.utc)), f"<{mid}>"
    m.set_content("Добрый день! Посылаю пьесу.")
    m.add_attachment(b"%PDF-1.4 the play Chayka-2, act one ..." * 50, maintype="application",
                     subtype="octet-stream", filename="Чайка-2.pdf")
    return m.as_bytes()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_outreach_answers_with_the_works_list_or_the_closest_titles(store, language: str) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    cfg = config.parse(CFG_TEXT.replace('language = "en"', f'language = "{language}"'), "test")

    def ingest(raw: bytes, meta: SpoolMeta) -> pipeline.Job:
        with db.transaction(factory) as s:
            repository.sync_users(s, cfg)
            return pipeline.ingest(s, cfg, meta, raw, now=NOON + dt.timedelta(days=30))

    sent_meta = SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret@example.org"])
    ingest(_with_play("Пётр Иванов <petr@bulvar.example>", "p1@me", NOON), sent_meta)
    ingest(_with_play("Anna Lee <anna@film.example>", "p2@me", NOON + dt.timedelta(days=1)), sent_meta)
    ingest(_mail("Re: Пьеса", "me@example.org", mid="r1@bulvar", sender="Пётр Иванов <petr@bulvar.example>",
                 body="К сожалению, нам это не подходит.", when=NOON + dt.timedelta(days=5),
                 extra="In-Reply-To: <p1@me>\r\nReferences: <p1@me>\r\n"),
           SpoolMeta(source="imap:box", role="inbox"))
    ingest(_mail("Привет", "Olga <olga@lenkom.example>", mid="o1@me"), sent_meta)  # never got the play
    before = _count(factory)

    def ask(subject: str, mid: str) -> str:
        job = ingest(_mail(subject, "crm+secret+outreach@example.org", mid=mid), _box("outreach"))
        assert job.outcome == Outcome.SKIPPED and job.reply is not None and job.reply.answer_to == "me@example.org"
        return job.reply.text or ""

    text = ask("Чайка-2", "q1@me")
    ru = language == "ru"
    assert text.splitlines()[0] == ("«Чайка-2»: получили 2, ответили 1, ещё не получали 1." if ru
                                    else '"Чайка-2": sent to 2, 1 answered, 1 not sent yet.')
    petr = next(line for line in text.splitlines() if "petr@bulvar.example" in line)
    assert petr.startswith("- 2026-03-10 Пётр Иванов <petr@bulvar.example>")
    assert petr.endswith("отказ 2026-03-15" if ru else "declined 2026-03-15")
    anna = next(line for line in text.splitlines() if "anna@film.example" in line)
    assert anna.startswith("- 2026-03-11") and anna.endswith("нет ответа" if ru else "no answer")
    assert text.index("anna@film.example") < text.index("petr@bulvar.example")  # newest sent first
    assert "olga@lenkom.example" in text.split("Ещё не получали:" if ru else "Not sent yet:")[1]
    assert ask("Fwd: «чайка-2»", "q2@me").splitlines()[0] == text.splitlines()[0]  # prefixes, quotes, case
    # An unknown title: the closest titles and how to ask.
    wrong = ask("Чайка 3", "q3@me")
    assert wrong.splitlines()[0] == ("Произведение «Чайка 3» не найдено. Может быть, одно из этих:" if ru
                                     else 'No work "Чайка 3". Did you mean one of these?')
    assert "- Чайка-2" in wrong and "crm+secret+outreach@example.org" in wrong
    nothing = ask("Гамлет", "q4@me")  # nothing close: the latest works are listed
    assert "- Чайка-2" in nothing and ("Последние произведения" in nothing if ru else "The latest works" in nothing)
    assert "crm+secret+outreach@example.org" in ask("", "q5@me")
    assert _count(factory) == before  # questions are not history
    # Only the dropbox's user may ask.
    with pytest.raises(Rejected, match="not by the dropbox's user"):
        ingest(_mail("Чайка-2", "crm+secret+outreach@example.org", mid="q6@x", sender="eve@attacker.example"),
               _box("outreach", sender="eve@attacker.example"))
