"""A lead from a form is to be called: "new leads" the day it arrives, "call today" once the lead stage's cadence is due."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from digest_fixtures import STAGES_CFG, deal, person

from mailcrm.digest.rules import Snapshot, build_digest
from mailcrm.domain.cadence import StageRule

MSK = ZoneInfo("Europe/Moscow")


def _digest(snap: Snapshot, today: dt.date, first_after: int = 1):  # type: ignore[no-untyped-def]
    stages = {k: StageRule(*v) for k, v in STAGES_CFG.items()}
    stages["lead"] = StageRule(first_after, 1, 1)
    return build_digest(snap, today=today, tz=MSK, stages=stages, lead_stage="lead")


def test_form_lead_moves_to_call_today_when_due() -> None:
    opened = dt.datetime(2025, 3, 5, 12)  # 15:00 in Moscow, after the morning digest
    phone_only = person(7, "Олег", address=None, phones=("+79030000001",), company=None)  # type: ignore[arg-type]
    form_lead = dataclasses.replace(deal(1, "lead", opened, people=(phone_only,)), source="form:site")
    mail_lead = deal(2, "lead", opened, touched=opened)  # wrote to us: stays in "new leads"
    snap = Snapshot("me@x", None, deals=(form_lead, mail_lead))
    same_day = _digest(snap, dt.date(2025, 3, 5))
    assert [d.id for d in same_day.new_leads] == [1, 2] and same_day.call_today == ()
    next_day = _digest(snap, dt.date(2025, 3, 6))
    assert [c.deal.id for c in next_day.call_today] == [1]
    assert next_day.call_today[0].deal.people[0].phones == ("+79030000001",)
    assert [d.id for d in next_day.new_leads] == [2]
    # first_after = 0: due the day it arrives.
    assert [c.deal.id for c in _digest(snap, dt.date(2025, 3, 5), first_after=0).call_today] == [1]


def test_phone_only_lead_renders_with_its_phone() -> None:
    from mailcrm.digest.render import render

    opened = dt.datetime(2025, 3, 5, 12)
    phone_only = person(7, None, address=None, phones=("+79030000001",), company=None)  # type: ignore[arg-type]
    snap = Snapshot("me@x", None, deals=(dataclasses.replace(deal(1, "lead", opened, people=(phone_only,)),
                                                             source="form:site"),))
    out = render(_digest(snap, dt.date(2025, 3, 6)), language="ru")
    assert "+79030000001" in out.text and "+79030000001" in out.html
