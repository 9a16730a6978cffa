"""Special dates: fixed MM-DD (Feb 29 in non-leap years), yearly rules as RRULEs."""

from __future__ import annotations

import datetime as dt

import pytest

from mailcrm.domain.special_dates import DateSpec, DateSpecError, describe, occurrences_between, parse_fixed, parse_rule


@pytest.mark.parametrize("text,rule", [
    ("3rd sun jun", "FREQ=YEARLY;BYMONTH=6;BYDAY=+3SU"),
    ("third Sunday of June", "FREQ=YEARLY;BYMONTH=6;BYDAY=+3SU"),
    ("last fri oct", "FREQ=YEARLY;BYMONTH=10;BYDAY=-1FR"),
    ("27 mar", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=27"),
    ("March 27", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=27"),
    ("27 марта", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=27"),
    ("3 вс июн", "FREQ=YEARLY;BYMONTH=6;BYDAY=+3SU"),
    ("RRULE:FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=25", "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=25"),
])
def test_rules_in_words_become_rrules(text: str, rule: str) -> None:
    assert parse_rule(text) == rule


@pytest.mark.parametrize("text", ["", "blah", "31 feb", "9th sun jun", "3rd xyz jun", "FREQ=NOPE"])
def test_bad_rules_say_so_in_one_line(text: str) -> None:
    with pytest.raises(DateSpecError) as info:
        parse_rule(text)
    assert "\n" not in str(info.value)


def test_medical_workers_day_is_the_third_sunday_of_june() -> None:
    spec = DateSpec(rule=parse_rule("3rd sun jun"))
    got = occurrences_between(spec, dt.date(2024, 1, 1), dt.date(2026, 12, 31))
    assert got == [dt.date(2024, 6, 16), dt.date(2025, 6, 15), dt.date(2026, 6, 21)]
    assert all(d.weekday() == 6 for d in got)


def test_last_friday_of_october() -> None:
    spec = DateSpec(rule=parse_rule("last fri oct"))
    assert occurrences_between(spec, dt.date(2025, 10, 1), dt.date(2025, 10, 31)) == [dt.date(2025, 10, 31)]
    assert occurrences_between(spec, dt.date(2026, 10, 1), dt.date(2026, 10, 31)) == [dt.date(2026, 10, 30)]


def test_leap_day_birthday_falls_on_feb_28_in_other_years() -> None:
    spec = parse_fixed("02-29")
    got = occurrences_between(spec, dt.date(2027, 1, 1), dt.date(2028, 12, 31))
    assert got == [dt.date(2027, 2, 28), dt.date(2028, 2, 29)]


def test_fixed_dates_and_year_boundaries() -> None:
    spec = parse_fixed("01-02")
    assert occurrences_between(spec, dt.date(2025, 12, 28), dt.date(2026, 1, 4)) == [dt.date(2026, 1, 2)]
    born = parse_fixed("1990-05-17")
    assert born.year == 1990 and describe(born) == "1990-05-17"
    assert occurrences_between(born, dt.date(1980, 1, 1), dt.date(1991, 1, 1)) == [dt.date(1990, 5, 17)]
    assert occurrences_between(spec, dt.date(2025, 2, 1), dt.date(2025, 1, 1)) == []


@pytest.mark.parametrize("text", ["13-01", "02-30", "2025-02-29", "5 May", "00-10"])
def test_bad_fixed_dates(text: str) -> None:
    with pytest.raises(DateSpecError):
        parse_fixed(text)


@pytest.mark.parametrize("text", ["3rd sun jun", "last fri oct", "27 mar"])
def test_rules_read_back_in_words(text: str) -> None:
    assert describe(DateSpec(rule=parse_rule(text))) == text
    assert describe(DateSpec(rule="FREQ=MONTHLY;BYMONTHDAY=1")) == "FREQ=MONTHLY;BYMONTHDAY=1"
