"""Cadence rules: due dates per stage, touches reset the clock, spreading, local dates."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from mailcrm.domain.cadence import StageRule, evaluate, local_date, next_due, spread

LEAD = StageRule(1, 1, 1)
PAID = StageRule(3, 3, 7)
WON = StageRule()
MSK = ZoneInfo("Europe/Moscow")


def test_lead_is_due_one_day_after_opening_and_after_each_touch() -> None:
    d = dt.date(2025, 3, 10)
    assert next_due(LEAD, deal_id=1, stage_since=d, last_touch=None) == dt.date(2025, 3, 11)
    assert next_due(LEAD, deal_id=1, stage_since=d, last_touch=dt.date(2025, 3, 12)) == dt.date(2025, 3, 13)


def test_the_longest_gap_holds_across_a_touch_before_the_stage_began() -> None:
    # Issue 19 item 3: a deal opened at "paid" (every 3-7 days) whose last call was 5 days before it was
    # opened was due 8 days after opening, 13 days after the call.
    opened = dt.date(2025, 3, 10)
    call = opened - dt.timedelta(days=5)
    for deal_id in range(1, 60):
        due = next_due(PAID, deal_id=deal_id, stage_since=opened, last_touch=call)
        untouched = next_due(PAID, deal_id=deal_id, stage_since=opened, last_touch=None)
        assert due is not None and untouched is not None
        assert (due - call).days <= 7 and due <= untouched  # never longer than the stage allows
        assert due == call + dt.timedelta(days=spread(deal_id, 3, 7))
    # A touch just before the stage does not pull the first follow-up earlier than the stage's own rule.
    recent = next_due(PAID, deal_id=7, stage_since=opened, last_touch=opened - dt.timedelta(days=1))
    assert recent == min(next_due(PAID, deal_id=7, stage_since=opened, last_touch=None),  # type: ignore[type-var]
                         opened - dt.timedelta(days=1) + dt.timedelta(days=spread(7, 3, 7)))


def test_closed_stage_has_no_due_date() -> None:
    assert next_due(WON, deal_id=1, stage_since=dt.date(2025, 1, 1), last_touch=None) is None
    assert evaluate(WON, deal_id=1, stage_changed_at=dt.datetime(2025, 1, 1), last_touch=None,
                    today=dt.date(2025, 6, 1), tz=MSK) is None


def test_spread_stays_in_window_is_stable_and_actually_spreads() -> None:
    values = [spread(i, 3, 7) for i in range(1, 201)]
    assert all(3 <= v <= 7 for v in values)
    assert values == [spread(i, 3, 7) for i in range(1, 201)]  # stable from one digest to the next
    counts = Counter(values)
    assert len(counts) == 5 and max(counts.values()) < 80  # 200 deals do not all land on one day
    assert spread(5, 4, 4) == 4


def test_twenty_deals_opened_the_same_day_fall_due_on_different_mornings() -> None:
    since = dt.date(2025, 3, 10)
    dues = {next_due(PAID, deal_id=i, stage_since=since, last_touch=None) for i in range(100, 120)}
    assert len(dues) >= 3
    assert all(dt.date(2025, 3, 13) <= d <= dt.date(2025, 3, 17) for d in dues if d)


def test_evaluate_counts_overdue_days_and_days_since_touch() -> None:
    verdict = evaluate(LEAD, deal_id=3, stage_changed_at=dt.datetime(2025, 3, 1, 9), last_touch=dt.datetime(2025, 3, 2, 9),
                       today=dt.date(2025, 3, 6), tz=MSK)
    assert verdict is not None
    assert verdict.due == dt.date(2025, 3, 3)
    assert verdict.overdue_days == 3 and verdict.is_due
    assert verdict.days_since_touch == 4
    fresh = evaluate(PAID, deal_id=3, stage_changed_at=dt.datetime(2025, 3, 5), last_touch=None,
                     today=dt.date(2025, 3, 6), tz=MSK)
    assert fresh is not None and not fresh.is_due and fresh.days_since_touch is None


def test_local_date_depends_on_the_users_zone() -> None:
    # 2025-03-10 16:30 UTC is already the 11th in Vladivostok (UTC+10) but still the 10th in Moscow.
    t = dt.datetime(2025, 3, 10, 16, 30)
    assert local_date(t, ZoneInfo("Asia/Vladivostok")) == dt.date(2025, 3, 11)
    assert local_date(t, MSK) == dt.date(2025, 3, 10)
    v = evaluate(LEAD, deal_id=1, stage_changed_at=t, last_touch=t, today=dt.date(2025, 3, 12),
                 tz=ZoneInfo("Asia/Vladivostok"))
    m = evaluate(LEAD, deal_id=1, stage_changed_at=t, last_touch=t, today=dt.date(2025, 3, 12), tz=MSK)
    assert v is not None and m is not None
    assert (v.overdue_days, m.overdue_days) == (0, 1)


def test_brief_is_due_five_days_after_the_lead_opened_by_default() -> None:
    from mailcrm.config import CadenceConfig
    from mailcrm.domain.cadence import rules_from_mapping

    rules = rules_from_mapping(CadenceConfig().stages)
    assert rules["brief"].anchor == "opened" and rules["lead"].anchor == "stage"
    assert not rules["won"].active and not rules["lost"].active
    opened, moved = dt.datetime(2025, 3, 1, 9), dt.datetime(2025, 3, 3, 9)  # two days as a lead, then brief
    v = evaluate(rules["brief"], deal_id=1, stage_changed_at=moved, last_touch=None, today=dt.date(2025, 3, 6),
                 tz=MSK, opened_at=opened)
    assert v is not None and v.due == dt.date(2025, 3, 6) and v.overdue_days == 0
    # Counted from entering the stage instead, it would be due three days later.
    by_stage = StageRule(5, None, None, "stage")
    w = evaluate(by_stage, deal_id=1, stage_changed_at=moved, last_touch=None, today=dt.date(2025, 3, 6),
                 tz=MSK, opened_at=opened)
    assert w is not None and w.due == dt.date(2025, 3, 8)
    # Once touched in the brief stage, the every_min..every_max window takes over.
    t = evaluate(rules["brief"], deal_id=1, stage_changed_at=moved, last_touch=dt.datetime(2025, 3, 6, 9),
                 today=dt.date(2025, 3, 7), tz=MSK, opened_at=opened)
    assert t is not None and dt.date(2025, 3, 8) <= t.due <= dt.date(2025, 3, 9)


def test_defaults_follow_the_agency_pipeline() -> None:
    from mailcrm.config import CadenceConfig
    from mailcrm.domain.cadence import rules_from_mapping

    rules = rules_from_mapping(CadenceConfig().stages)
    d = dt.date(2025, 3, 10)
    assert next_due(rules["lead"], deal_id=9, stage_since=d, last_touch=None) == d + dt.timedelta(days=1)
    assert next_due(rules["invoiced"], deal_id=9, stage_since=d, last_touch=d) == d + dt.timedelta(days=1)
    for stage in ("paid", "in_progress"):
        gaps = {(next_due(rules[stage], deal_id=i, stage_since=d, last_touch=d) - d).days  # type: ignore[operator]
                for i in range(50)}
        assert min(gaps) >= 3 and max(gaps) <= 7 and len(gaps) > 1
