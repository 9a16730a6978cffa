"""Digest rules: snapshot + local date + zone -> sections (pure; explicit dates and zones)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from digest_fixtures import STAGES_CFG, deal, person

from mailcrm.digest.rules import (
    AutoreplySnap,
    BounceSnap,
    MessageRef,
    QuietSnap,
    Snapshot,
    SpecialDateSnap,
    WaitingSnap,
    build_digest,
)
from mailcrm.domain.cadence import StageRule
from mailcrm.domain.special_dates import DateSpec, parse_rule

STAGES = {k: StageRule(*v) for k, v in STAGES_CFG.items()}
MSK = ZoneInfo("Europe/Moscow")
VVO = ZoneInfo("Asia/Vladivostok")
BERLIN = ZoneInfo("Europe/Berlin")


def _digest(snap: Snapshot, today: dt.date, tz: ZoneInfo = MSK):  # type: ignore[no-untyped-def]
    return build_digest(snap, today=today, tz=tz, stages=STAGES, lead_stage="lead")


def test_call_today_orders_most_overdue_first_and_skips_fresh_and_closed() -> None:
    t0 = dt.datetime(2025, 3, 1, 9)
    snap = Snapshot("me@example.org", "Me", deals=(
        deal(1, "invoiced", t0, touched=dt.datetime(2025, 3, 8, 9), out=dt.datetime(2025, 3, 8, 9)),  # due 9th: 1 late
        deal(2, "invoiced", t0, touched=dt.datetime(2025, 3, 4, 9), out=dt.datetime(2025, 3, 4, 9)),  # due 5th: 5 late
        deal(3, "invoiced", t0, touched=dt.datetime(2025, 3, 9, 9), out=dt.datetime(2025, 3, 9, 9)),  # due 10th: today
        deal(4, "invoiced", t0, touched=dt.datetime(2025, 3, 10, 6), out=dt.datetime(2025, 3, 10, 6)),  # called today
        deal(5, "won", t0, touched=dt.datetime(2025, 1, 1), out=dt.datetime(2025, 1, 1)),
        deal(6, "unknown-stage", t0, touched=dt.datetime(2025, 1, 1), out=dt.datetime(2025, 1, 1)),
    ))
    d = _digest(snap, dt.date(2025, 3, 10))
    assert [(c.deal.id, c.overdue_days) for c in d.call_today] == [(2, 5), (1, 1), (3, 0)]
    assert d.call_today[0].days_since_touch == 6


def test_mail_received_yesterday_resets_the_clock() -> None:
    t0 = dt.datetime(2025, 3, 1, 9)
    stale = deal(1, "invoiced", t0, touched=dt.datetime(2025, 3, 2, 9), out=dt.datetime(2025, 3, 2, 9))
    replied = deal(1, "invoiced", t0, touched=dt.datetime(2025, 3, 9, 15), out=dt.datetime(2025, 3, 2, 9))
    assert len(_digest(Snapshot("me@x", None, deals=(stale,)), dt.date(2025, 3, 10)).call_today) == 1
    assert _digest(Snapshot("me@x", None, deals=(replied,)), dt.date(2025, 3, 10)).call_today[0].overdue_days == 0
    assert _digest(Snapshot("me@x", None, deals=(replied,)), dt.date(2025, 3, 9)).call_today == ()


def test_untouched_leads_get_their_own_section_until_their_first_call_is_late() -> None:
    opened = dt.datetime(2025, 3, 5, 9)
    snap = Snapshot("me@x", None, deals=(
        deal(1, "lead", opened, touched=opened, out=None),  # they wrote 5 days ago, we never answered
        deal(2, "lead", opened, touched=dt.datetime(2025, 3, 6, 9), out=dt.datetime(2025, 3, 6, 9)),
        deal(3, "lead", dt.datetime(2025, 3, 9, 16), touched=None, out=None),  # came in yesterday: call today
        deal(4, "lead", dt.datetime(2025, 3, 10, 6), touched=None, out=None),  # came in this morning
    ))
    d = _digest(snap, dt.date(2025, 3, 10))
    assert [x.id for x in d.new_leads] == [3, 4]
    # Issue 19 item 3: an untouched lead past its first call is no longer "new" but overdue, most late first.
    assert [(c.deal.id, c.overdue_days) for c in d.call_today] == [(1, 4), (2, 3)]


def test_vladivostok_and_moscow_see_different_days_for_the_same_instant() -> None:
    # A call at 2025-03-09 15:30 UTC: the 10th in Vladivostok (UTC+10), still the 9th in Moscow (UTC+3).
    call = dt.datetime(2025, 3, 9, 15, 30)
    snap = Snapshot("me@x", None, deals=(deal(1, "invoiced", dt.datetime(2025, 3, 1), touched=call, out=call),))
    assert _digest(snap, dt.date(2025, 3, 10), VVO).call_today == ()  # touched "today" there
    moscow = _digest(snap, dt.date(2025, 3, 10), MSK).call_today
    assert [(c.deal.id, c.overdue_days, c.days_since_touch) for c in moscow] == [(1, 0, 1)]


def test_dst_change_does_not_shift_day_counts() -> None:
    # Berlin springs forward on 2025-03-30.  A touch at 23:30 local on the 29th (22:30 UTC, CET)
    # and today the 31st (CEST): exactly two local days, not one or three.
    touch = dt.datetime(2025, 3, 29, 22, 30)
    snap = Snapshot("me@x", None, deals=(deal(1, "invoiced", dt.datetime(2025, 3, 1), touched=touch, out=touch),))
    item = _digest(snap, dt.date(2025, 3, 31), BERLIN).call_today[0]
    assert (item.days_since_touch, item.overdue_days, item.due) == (2, 1, dt.date(2025, 3, 30))
    # Autumn: 2025-10-26 falls back; 00:30 local on the 26th is 22:30 UTC on the 25th (CEST).
    touch = dt.datetime(2025, 10, 25, 22, 30)
    snap = Snapshot("me@x", None, deals=(deal(1, "invoiced", dt.datetime(2025, 10, 1), touched=touch, out=touch),))
    item = _digest(snap, dt.date(2025, 10, 27), BERLIN).call_today[0]
    assert (item.days_since_touch, item.due) == (1, dt.date(2025, 10, 27))


def test_special_dates_today_and_next_seven_days_for_contacts_and_tags() -> None:
    ivan = person(1)
    snap = Snapshot("me@x", None, dates=(
        SpecialDateSnap("День театра", DateSpec(rule=parse_rule("27 mar")), tag="театры", tag_people=(ivan,), tag_count=12),
        SpecialDateSnap("ДР", DateSpec(month=3, day=20), person=ivan),
        SpecialDateSnap("Later", DateSpec(month=3, day=28), person=ivan),  # 8 days away: not yet
        SpecialDateSnap("Past", DateSpec(month=3, day=19), person=ivan),
    ))
    d = _digest(snap, dt.date(2025, 3, 20))
    assert [(i.item.label, i.in_days) for i in d.dates] == [("ДР", 0), ("День театра", 7)]


def test_autoreplies_only_when_back_today_and_bounces_in_order() -> None:
    ivan, anna = person(1), person(2, "Анна", "anna@gmail.com")
    snap = Snapshot("me@x", None,
                    autoreplies=(AutoreplySnap(ivan, dt.date(2025, 3, 10), "back on"),
                                 AutoreplySnap(anna, dt.date(2025, 3, 11), "back on")),
                    bounces=(BounceSnap("b@x.ru", None, True, "user unknown", dt.datetime(2025, 3, 9, 12)),
                             BounceSnap("a@x.ru", anna, False, "mailbox full", dt.datetime(2025, 3, 9, 8))),
                    no_address=(anna,))
    d = _digest(snap, dt.date(2025, 3, 10))
    assert [a.person.contact_id for a in d.autoreplies] == [1]
    assert [b.address for b in d.bounces] == ["a@x.ru", "b@x.ru"]
    assert d.no_address == (anna,)


def test_waiting_and_quiet_grouped_by_tag() -> None:
    p = [person(i, f"P{i}", f"p{i}@x.ru") for i in range(1, 20)]
    sent = dt.datetime(2025, 1, 20, 9)
    quiet = tuple(QuietSnap(x, MessageRef("Предложение", sent + dt.timedelta(hours=i)),
                            ("театры",) if i < 17 else (("музеи", "театры") if i == 17 else ())) for i, x in enumerate(p))
    snap = Snapshot("me@x", None, quiet=quiet,
                    waiting=(WaitingSnap(p[0], MessageRef("Вопрос", dt.datetime(2025, 3, 9, 8))),))
    d = _digest(snap, dt.date(2025, 3, 10))
    assert [(g.tag, len(g.items), g.more) for g in d.quiet] == [("музеи", 1, 0), ("театры", 15, 3), (None, 1, 0)]
    assert d.waiting[0].message.subject == "Вопрос"
    assert d.summary()["quiet"] == 20 and not d.is_empty


def test_empty_snapshot_gives_an_empty_digest() -> None:
    d = _digest(Snapshot("me@x", None), dt.date(2025, 3, 10))
    assert d.is_empty and d.summary() == dict.fromkeys(d.summary(), 0)


def test_default_pipeline_brief_due_five_days_after_the_lead_opened() -> None:
    from mailcrm.config import CadenceConfig
    from mailcrm.domain.cadence import rules_from_mapping

    stages = rules_from_mapping(CadenceConfig().stages)
    opened = dt.datetime(2025, 3, 5, 7)  # 10:00 in Moscow
    brief = deal(1, "brief", opened, changed=dt.datetime(2025, 3, 7, 7))
    done = deal(2, "won", opened, touched=dt.datetime(2025, 1, 1), out=dt.datetime(2025, 1, 1))
    snap = Snapshot("me@x", None, deals=(brief, done))
    early = build_digest(snap, today=dt.date(2025, 3, 9), tz=MSK, stages=stages)
    due = build_digest(snap, today=dt.date(2025, 3, 10), tz=MSK, stages=stages)
    assert early.call_today == ()
    assert [(c.deal.id, c.overdue_days, c.due) for c in due.call_today] == [(1, 0, dt.date(2025, 3, 10))]
    assert due.call_today[0].days_since_touch is None  # never touched: shown as such


def test_twenty_paid_deals_opened_together_spread_over_several_mornings() -> None:
    opened = dt.datetime(2025, 3, 3, 6)
    snap = Snapshot("me@x", None, deals=tuple(deal(i, "paid", opened) for i in range(1, 21)))
    per_day = [len(_digest(snap, dt.date(2025, 3, 3) + dt.timedelta(days=n)).call_today) for n in range(3, 8)]
    # Due on day 3..7 after opening; each morning's list holds the ones due by then (overdue stay).
    new_each_day = [per_day[0]] + [b - a for a, b in zip(per_day, per_day[1:])]
    assert per_day[-1] == 20 and max(new_each_day) < 20 and sum(1 for n in new_each_day if n) >= 3


def test_a_long_waiting_list_shows_the_newest_and_counts_the_rest() -> None:
    from mailcrm.digest.render import render
    from mailcrm.digest.rules import WAITING_LIST_LIMIT

    people = [person(i, f"P{i}", f"p{i}@x.ru") for i in range(1, WAITING_LIST_LIMIT + 11)]
    waiting = tuple(WaitingSnap(x, MessageRef(f"Вопрос {i}", dt.datetime(2025, 3, 1, 8) + dt.timedelta(hours=i)))
                    for i, x in enumerate(people))
    d = _digest(Snapshot("me@x", None, waiting=waiting), dt.date(2025, 3, 10))
    assert len(d.waiting) == WAITING_LIST_LIMIT and d.waiting_more == 10
    assert d.waiting[-1].message.subject == f"Вопрос {len(people) - 1}"  # the newest is listed
    assert "Вопрос 0" not in {w.message.subject for w in d.waiting}  # the oldest are counted only
    assert d.summary()["waiting"] == len(people)
    for html in (False, True):
        out = render(d, "en")
        assert "and 10 older ones" in (out.html if html else out.text)
