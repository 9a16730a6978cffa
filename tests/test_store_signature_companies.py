"""What signatures teach the store about companies: spellings of one company stay one."""

from __future__ import annotations

from test_store_pipeline import ingest, mail

from mailcrm.app import companies
from mailcrm.parse.facts import Signature
from mailcrm.store import db, repository
from mailcrm.store.models import Company, Message


def test_spellings_from_signatures_are_one_company(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    job = ingest(factory, mail("hello", "olga@gmail.com, pavel@mail.ru", mid="sp1@example.org"))
    with db.transaction(factory) as s:
        msg = s.get(Message, job.message.id)
        olga = repository.find_contact(s, "olga@gmail.com").id
        pavel = repository.find_contact(s, "pavel@mail.ru").id
        companies.learn_signature(s, olga, msg, Signature(text="a", company="ООО «Кинокомпания «Север»»"))
        companies.learn_signature(s, pavel, msg, Signature(text="b", company="Кинокомпания Север"))
    with db.transaction(factory) as s:
        o = repository.find_contact(s, "olga@gmail.com")
        p = repository.find_contact(s, "pavel@mail.ru")
        assert o.company_id is not None and o.company_id == p.company_id
        assert repository.company_by_name(s, "КИНОКОМПАНИЯ СЕВЕР, ООО", create=False).id == o.company_id


def test_one_proposal_for_two_spellings_of_a_new_employer(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    job = ingest(factory, mail("hi", "nina@freelance.example", mid="sp2@example.org"))
    with db.transaction(factory) as s:
        msg = s.get(Message, job.message.id)
        nina = repository.find_contact(s, "nina@freelance.example").id
        companies.learn_signature(s, nina, msg, Signature(text="a", company="Acme Inc."))
        companies.learn_signature(s, nina, msg, Signature(text="b", company="Театр на Таганке"))
        companies.learn_signature(s, nina, msg, Signature(text="c", company="«Театр на Таганке»"))
    with db.transaction(factory) as s:
        pending = companies.list_suggestions(s)
        assert [p["proposed"] for p in pending] == ["Театр на Таганке"]
        assert s.get(Company, repository.find_contact(s, "nina@freelance.example").company_id).name == "Acme Inc."
