"""The dropbox sub-address grammar (parse/subaddress.py): every documented form, English and Russian, and the refusals."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcrm.parse.subaddress import (
    Command,
    FollowUp,
    Plain,
    Unknown,
    classify,
    help_text,
    subaddress_of,
)

TODAY = date(2026, 3, 4)  # a Wednesday


@pytest.mark.parametrize(("word", "due"), [
    ("3d", date(2026, 3, 7)), ("3D", date(2026, 3, 7)), ("3days", date(2026, 3, 7)), ("1day", date(2026, 3, 5)),
    ("3д", date(2026, 3, 7)), ("3дн", date(2026, 3, 7)), ("5дней", date(2026, 3, 9)),
    ("2w", date(2026, 3, 18)), ("2weeks", date(2026, 3, 18)), ("2н", date(2026, 3, 18)), ("2нед", date(2026, 3, 18)),
    ("1m", date(2026, 4, 4)), ("1month", date(2026, 4, 4)), ("1мес", date(2026, 4, 4)), ("1м", date(2026, 4, 4)),
    ("12m", date(2027, 3, 4)),
    ("tomorrow", date(2026, 3, 5)), ("завтра", date(2026, 3, 5)), ("Tomorrow", date(2026, 3, 5)),
    ("mon", date(2026, 3, 9)), ("monday", date(2026, 3, 9)), ("пн", date(2026, 3, 9)),
    ("понедельник", date(2026, 3, 9)), ("tue", date(2026, 3, 10)), ("вт", date(2026, 3, 10)),
    ("wed", date(2026, 3, 11)), ("ср", date(2026, 3, 11)), ("среду", date(2026, 3, 11)),  # today's weekday: next week
    ("thu", date(2026, 3, 5)), ("чт", date(2026, 3, 5)), ("fri", date(2026, 3, 6)), ("пятницу", date(2026, 3, 6)),
    ("sat", date(2026, 3, 7)), ("сб", date(2026, 3, 7)), ("sun", date(2026, 3, 8)), ("вс", date(2026, 3, 8)),
    ("15mar", date(2026, 3, 15)), ("15march", date(2026, 3, 15)), ("15мар", date(2026, 3, 15)),
    ("15марта", date(2026, 3, 15)), ("mar15", date(2026, 3, 15)), ("15-mar", date(2026, 3, 15)),
    ("1mar", date(2027, 3, 1)), ("4mar", date(2027, 3, 4)),  # passed or today: next year
    ("2jan", date(2027, 1, 2)), ("31dec", date(2026, 12, 31)), ("29feb", date(2028, 2, 29)),
    ("2026-04-01", date(2026, 4, 1)), ("2027-3-4", date(2027, 3, 4)),
])
def test_dates(word: str, due: date) -> None:
    assert classify(word, TODAY) == FollowUp(due, always=False)


@pytest.mark.parametrize(("word", "due"), [
    ("r3d", date(2026, 3, 7)), ("R2w", date(2026, 3, 18)), ("rmon", date(2026, 3, 9)), ("rtomorrow", date(2026, 3, 5)),
    ("rзавтра", date(2026, 3, 5)), ("r15mar", date(2026, 3, 15)), ("r2026-04-01", date(2026, 4, 1)),
    ("r3д", date(2026, 3, 7)),
])
def test_unconditional_reminders(word: str, due: date) -> None:
    assert classify(word, TODAY) == FollowUp(due, always=True)


def test_month_end_is_clamped() -> None:
    assert classify("1m", date(2026, 1, 31)) == FollowUp(date(2026, 2, 28))
    assert classify("1m", date(2028, 1, 31)) == FollowUp(date(2028, 2, 29))
    assert classify("2m", date(2026, 12, 31)) == FollowUp(date(2027, 2, 28))


@pytest.mark.parametrize(("word", "kind"), [
    ("pending", "pending"), ("PENDING", "pending"), ("ждут", "pending"), ("cancel", "cancel"), ("отмена", "cancel"),
    ("find", "find"), ("найти", "find"), ("outreach", "outreach"), ("рассылка", "outreach"), ("deal", "deal"),
    ("digest", "digest"),
])
def test_commands(word: str, kind: str) -> None:
    assert classify(word, TODAY) == Command(kind)  # type: ignore[arg-type]


def test_no_subaddress_is_plain() -> None:
    assert classify("", TODAY) == Plain()
    assert classify("  ", TODAY) == Plain()


@pytest.mark.parametrize(("word", "reason"), [
    ("3x", "not a known sub-address"), ("hello", "not a known sub-address"), ("r", "not a known sub-address"),
    ("rr3d", "not a known sub-address"), ("0d", "a period of zero"), ("2026-02-30", "no such date"),
    ("31feb", "no such date"), ("2026-03-04", "date is not in the future"), ("2020-01-01", "date is not in the future"),
    ("800d", "date is more than two years ahead"), ("300m", "date is more than two years ahead"),
    ("2030-01-01", "date is more than two years ahead"), ("15foo", "not a known sub-address"),
    ("3d4", "not a known sub-address"), ("-3d", "not a known sub-address"),
])
def test_unknown_words_say_why(word: str, reason: str) -> None:
    assert classify(word, TODAY) == Unknown(word, reason)


@given(st.text(max_size=30), st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)))
def test_never_raises_and_dates_are_ahead(word: str, today: date) -> None:
    result = classify(word, today)
    assert isinstance(result, Plain | FollowUp | Command | Unknown)
    if isinstance(result, FollowUp):
        assert today < result.due <= today + timedelta(days=2 * 366)


def test_subaddress_of() -> None:
    box = "crm+k3f9@example.org"
    assert subaddress_of("crm+k3f9@example.org", box) == ""
    assert subaddress_of("CRM+K3F9+3d@Example.org", box) == "3d"
    assert subaddress_of("crm+k3f9+r2026-04-01@example.org", box) == "r2026-04-01"
    assert subaddress_of("crm+other+3d@example.org", box) is None
    assert subaddress_of("crm+k3f9+3d@other.org", box) is None
    assert subaddress_of("nobody", box) is None


def test_help_lists_every_form_in_both_languages() -> None:
    en = help_text("crm+k+3x@example.org", "not a known sub-address")
    ru = help_text("crm+k+3x@example.org", "not a known sub-address", "ru")
    for form in ("+3d", "+2w", "+1m", "+mon", "+tomorrow", "+15mar", "+2026-04-01", "+r3d", "+pending", "+cancel",
                 "+find", "+outreach"):
        assert form in en and form in ru
    assert "crm+k+3x@example.org" in en and "not a known sub-address" in en
    assert "+завтра" in ru and "+пн" in ru
