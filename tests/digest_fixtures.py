"""Builders for digest snapshots used by the rules and render tests."""

from __future__ import annotations

import datetime as dt

from mailcrm.digest.rules import DealSnap, MessageRef, Person

STAGES_CFG = {"lead": (1, 1, 1), "brief": (5, 2, 3), "invoiced": (1, 1, 1), "paid": (3, 3, 7), "won": (None, None, None)}


def person(cid: int = 1, name: str | None = "Иван Петров", address: str = "ivan@theatre.ru",
           phones: tuple[str, ...] = ("+79161234567",), company: str | None = "Театр") -> Person:
    """A Person with sensible defaults."""
    return Person(cid, name, address, phones, company)


def deal(did: int, stage: str, opened: dt.datetime, *, touched: dt.datetime | None = None,
         out: dt.datetime | None = None, changed: dt.datetime | None = None, people: tuple[Person, ...] | None = None,
         title: str | None = None, subject: str = "Re: смета") -> DealSnap:
    """A DealSnap; ``touched`` is the last touch either way, ``out`` our own last touch."""
    return DealSnap(id=did, title=title or f"Deal {did}", stage=stage, opened_at=opened,
                    stage_changed_at=changed or opened, company="Театр", people=people or (person(did),),
                    last_touch=touched, last_out=out, last_message=MessageRef(subject, touched) if touched else None)
